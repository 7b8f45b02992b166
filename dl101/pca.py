"""Chapter 01: the 3-D oval data set and the tools to compare an autoencoder with PCA."""
from __future__ import annotations

import math

import numpy as np
import torch


def _rotation_matrix(rotvec) -> np.ndarray:
    """Rotation by |v| radians about v (Rodrigues' formula), as scipy's Rotation.from_rotvec."""
    v = np.asarray(rotvec, dtype=float)
    theta = np.linalg.norm(v)
    k = v / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * K + (1 - math.cos(theta)) * K @ K


def oval_data(m: int, seed: int = 42) -> torch.Tensor:
    """``m`` noisy points around a tilted 3-D oval (the original lesson's data set), float32 (m, 3)."""
    rng = np.random.default_rng(seed)
    angles = (rng.random(m) ** 3 + 0.5) * 2 * np.pi  # uneven: denser on one side of the oval
    X = np.zeros((m, 3))
    X[:, 0], X[:, 1] = np.cos(angles), np.sin(angles) * 0.5
    X += 0.28 * rng.standard_normal((m, 3))
    X = X @ _rotation_matrix([np.pi / 29, -np.pi / 20, np.pi / 4]).T
    X += [0.2, 0, 0.2]
    return torch.from_numpy(X.astype(np.float32))


def principal_angles(A, B) -> np.ndarray:
    """Principal angles, in degrees, between the column spaces of A (n×k) and B (n×l).

    The cosines of the angles are the singular values of Q_Aᵀ Q_B, with Q orthonormal bases of
    the column spaces; a rank-deficient A or B spans fewer dimensions and gets fewer angles.
    """
    qa, qb = _orthonormal_basis(A), _orthonormal_basis(B)
    cosines = np.linalg.svd(qa.T @ qb, compute_uv=False).clip(-1, 1)
    return np.degrees(np.arccos(cosines))[::-1]  # smallest angle last, like scipy's subspace_angles


def _orthonormal_basis(A) -> np.ndarray:
    """Orthonormal columns spanning A's column space, as many as its rank (like scipy's orth)."""
    A = np.asarray(A, dtype=np.float64)
    u, s, _ = np.linalg.svd(A, full_matrices=False)
    tolerance = max(A.shape) * np.finfo(np.float64).eps * (s.max() if s.size else 0.0)
    return u[:, : int((s > tolerance).sum())]


def pca_components(X, k: int = 2) -> np.ndarray:
    """PCA's top-``k`` directions as the columns of a (n_features, k) array (scikit-learn)."""
    from sklearn.decomposition import PCA

    return PCA(n_components=k).fit(torch.as_tensor(X).cpu().numpy()).components_.T

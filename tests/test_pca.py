import numpy as np
import pytest
import torch
import torchmetrics
from scipy.linalg import subspace_angles
from scipy.spatial.transform import Rotation

from dl101.autoencoders import linear_autoencoder
from dl101.data import autoencoder_batches
from dl101.pca import _rotation_matrix, oval_data, pca_components, principal_angles
from dl101.training import train


def test_rotation_matches_scipy():
    v = [np.pi / 29, -np.pi / 20, np.pi / 4]
    assert np.allclose(_rotation_matrix(v), Rotation.from_rotvec(v).as_matrix())


def test_principal_angles_match_scipy():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(5, 2)), rng.normal(size=(5, 3))
    assert np.allclose(principal_angles(A, B), np.degrees(subspace_angles(A, B)))
    assert np.allclose(principal_angles(A, A @ [[1, 2], [3, 4]]), 0, atol=1e-5)


def test_a_rank_deficient_input_gets_as_many_angles_as_scipy_gives():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(5, 1)) @ [[1.0, 2.0]]  # two columns, rank 1
    B = rng.normal(size=(5, 3))
    ours, scipys = principal_angles(A, B), np.degrees(subspace_angles(A, B))
    assert len(ours) == len(scipys) == 1
    assert np.allclose(ours, scipys)


def test_a_trained_linear_autoencoder_spans_pcas_plane():
    torch.manual_seed(42)
    X = oval_data(60)
    model = linear_autoencoder()
    history = train(model, torch.optim.NAdam(model.parameters(), lr=0.2), torch.nn.MSELoss(),
                    torchmetrics.MeanSquaredError(squared=False), autoencoder_batches(X, shuffle=True),
                    None, n_epochs=100, verbose=False)
    angles = principal_angles(model.decoder.weight.detach().numpy(), pca_components(X, 2))
    assert history["train_metric"][-1] < 0.16
    assert angles.max() < 2  # degrees (0.12 when measured); after only 20 epochs it was 85
    untrained = linear_autoencoder()
    assert principal_angles(untrained.decoder.weight.detach().numpy(), pca_components(X, 2)).max() > angles.max()

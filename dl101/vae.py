"""Variational autoencoders (chapter 07) and the discrete VAE with Gumbel-softmax (chapter 08)."""
from __future__ import annotations

import math
from collections import namedtuple

import torch
import torch.nn.functional as F
from torch import nn

from dl101.modes import eval_mode
from dl101.shapes import validate_codings, validate_images

VAEOutput = namedtuple("VAEOutput", ["output", "codings_mean", "codings_logvar"])
DiscreteVAEOutput = namedtuple("DiscreteVAEOutput", ["output", "logits", "codings"])
PIXELS = 28 * 28


def reparameterize(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = μ + σ·ε with ε ~ N(0, I): the sample stays differentiable in μ and log σ²."""
    return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) || N(0, 1)) summed over the latent dimensions, one value per example."""
    return -0.5 * torch.sum(1 + logvar - logvar.exp() - mean.square(), dim=-1)


class VAE(nn.Module):
    """Chapter 07: 784 -> 128 -> (μ, log σ²) of a ``codings_dim``-d Gaussian -> 128 -> 784."""

    def __init__(self, codings_dim: int = 32, n_hidden: int = 128):
        super().__init__()
        self.codings_dim = codings_dim
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(PIXELS, n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, 2 * codings_dim))                  # (N, 2·d): μ and log σ²
        self.decoder = nn.Sequential(
            nn.Linear(codings_dim, n_hidden), nn.ReLU(),
            nn.Linear(n_hidden, PIXELS), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))

    def encode(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images -> (mean, log-variance) of q(z|x)."""
        validate_images(X, model=self)
        mean, logvar = self.encoder(X).chunk(2, dim=-1)
        return mean, logvar

    def decode(self, Z: torch.Tensor) -> torch.Tensor:
        """Codings -> images."""
        validate_codings(Z, self.codings_dim)
        return self.decoder(Z)

    def forward(self, X: torch.Tensor) -> VAEOutput:
        mean, logvar = self.encode(X)
        return VAEOutput(self.decode(reparameterize(mean, logvar)), mean, logvar)


def vae_loss(y_pred: VAEOutput, y: torch.Tensor, kl_weight: float = 1.0) -> torch.Tensor:
    """Negative ELBO as the original lesson scales it: per-pixel MSE + KL / 784 (both per pixel)."""
    kl = gaussian_kl(y_pred.codings_mean, y_pred.codings_logvar)
    return F.mse_loss(y_pred.output, y) + kl_weight * kl.mean() / PIXELS


def gumbel_softmax(logits: torch.Tensor, tau: float = 1.0, hard: bool = False, dim: int = -1) -> torch.Tensor:
    """A sample from Gumbel-softmax(logits / τ); ``hard`` gives one-hots with the soft gradient.

    Same distribution as ``F.gumbel_softmax``, but the Gumbel noise comes from uniforms clamped
    away from 0 and 1: Apple's MPS ``exponential_()`` can return exactly 0, whose log gives NaN.
    """
    u = torch.rand_like(logits).clamp_(1e-10, 1 - 1e-7)
    gumbels = -torch.log(-torch.log(u))
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = torch.zeros_like(y_soft).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft  # straight-through: forward hard, backward soft


class DiscreteVAE(nn.Module):
    """Chapter 08: 32 categorical codes of 16 categories each, sampled with Gumbel-softmax."""

    def __init__(self, coding_length: int = 32, n_codes: int = 16, temperature: float = 1.0):
        super().__init__()
        self.coding_length, self.n_codes, self.temperature = coding_length, n_codes, temperature
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(PIXELS, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, coding_length * n_codes), nn.Unflatten(1, (coding_length, n_codes)))
        self.decoder = nn.Sequential(
            nn.Flatten(), nn.Linear(coding_length * n_codes, 128), nn.ReLU(),
            nn.Linear(128, 256), nn.ReLU(),
            nn.Linear(256, PIXELS), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))

    def encode(self, X: torch.Tensor) -> torch.Tensor:
        """Images -> logits (N, 32, 16) of each code's categorical distribution."""
        validate_images(X, model=self)
        return self.encoder(X)

    def decode(self, codings: torch.Tensor) -> torch.Tensor:
        """One-hot (or soft) codings (N, 32, 16) -> images."""
        want = (self.coding_length, self.n_codes)
        if not isinstance(codings, torch.Tensor) or codings.dim() != 3 or tuple(codings.shape[1:]) != want:
            got = tuple(codings.shape) if isinstance(codings, torch.Tensor) else type(codings).__name__
            raise ValueError(f"expected one-hot codings shaped (N, {want[0]}, {want[1]}), got {got}; "
                             "from category indices (N, 32) use decode_indices()")
        return self.decoder(codings)

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Category indices (N, 32) -> images."""
        return self.decode(F.one_hot(indices, self.n_codes).float())

    def forward(self, X: torch.Tensor) -> DiscreteVAEOutput:
        logits = self.encode(X)
        codings = gumbel_softmax(logits, tau=self.temperature, hard=True)
        return DiscreteVAEOutput(self.decode(codings), logits, codings)


def categorical_kl_to_uniform(logits: torch.Tensor) -> torch.Tensor:
    """KL(q || uniform) summed over codes, per example: Σ q (log q + log K), with stable log q."""
    log_q = F.log_softmax(logits, dim=-1)  # softmax().log() would give -inf, then 0·-inf = NaN
    return (log_q.exp() * (log_q + math.log(logits.size(-1)))).sum(dim=(1, 2))


def discrete_vae_loss(y_pred: DiscreteVAEOutput, y: torch.Tensor, kl_weight: float = 1.0) -> torch.Tensor:
    """Per-pixel MSE + KL to the uniform prior / 784, as the original lesson scales it."""
    kl = categorical_kl_to_uniform(y_pred.logits)
    return F.mse_loss(y_pred.output, y) + kl_weight * kl.mean() / PIXELS


def temperature_annealing(n_epochs: int, start: float = 1.0, end: float = 0.1):
    """Epoch callback that lowers ``model.temperature`` linearly from ``start`` to ``end``."""

    def callback(model: nn.Module, epoch: int) -> None:
        progress = epoch / max(n_epochs - 1, 1)
        model.temperature = start + (end - start) * progress

    return callback



@torch.no_grad()
def active_dimensions(model: VAE, images: torch.Tensor, threshold: float = 0.01, batch_size: int = 1024) -> int:
    """Latent dimensions whose posterior mean varies over ``images`` by more than ``threshold`` (Burda et al., 2016)."""
    with eval_mode(model):
        means = torch.cat([model.encode(images[i:i + batch_size])[0] for i in range(0, len(images), batch_size)])
    return int((means.var(dim=0) > threshold).sum().item())

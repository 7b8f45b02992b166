"""The autoencoder family of chapters 01-06: linear, stacked, tied, convolutional, recurrent,
denoising and sparse. Every model returns ``AEOutput(output, codings)``."""
from __future__ import annotations

from collections import namedtuple

import torch
import torch.nn.functional as F
from torch import nn

from dl101.modes import eval_mode
from dl101.shapes import validate_codings, validate_images

AEOutput = namedtuple("AEOutput", ["output", "codings"])


class Autoencoder(nn.Module):
    """An encoder and a decoder; ``forward`` returns the reconstruction and the codings."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, image_shape: tuple | None = (1, 28, 28),
                 n_codings: int | None = None):
        super().__init__()
        self.encoder, self.decoder, self.image_shape = encoder, decoder, image_shape
        self.n_codings = n_codings  # when known, decode() checks the codings' size

    def encode(self, X: torch.Tensor) -> torch.Tensor:
        """Inputs -> codings."""
        if self.image_shape is not None:
            validate_images(X, *self.image_shape[:2], model=self)
        return self.encoder(X)

    def decode(self, Z: torch.Tensor) -> torch.Tensor:
        """Codings -> reconstructions."""
        if self.n_codings is not None:
            validate_codings(Z, self.n_codings)
        return self.decoder(Z)

    def forward(self, X: torch.Tensor) -> AEOutput:
        codings = self.encode(X)
        return AEOutput(self.decode(codings), codings)


def linear_autoencoder(n_inputs: int = 3, n_codings: int = 2) -> Autoencoder:
    """Chapter 01: one linear layer each way; trained with MSE it finds PCA's subspace."""
    return Autoencoder(nn.Linear(n_inputs, n_codings), nn.Linear(n_codings, n_inputs), image_shape=None,
                       n_codings=n_codings)


def stacked_autoencoder(n_hidden: int = 128, n_codings: int = 32) -> Autoencoder:
    """Chapter 02: 784 -> 128 -> 32 -> 128 -> 784, ReLU inside, sigmoid out (pixels in [0, 1])."""
    encoder = nn.Sequential(
        nn.Flatten(),                                    # (N, 784)
        nn.Linear(28 * 28, n_hidden), nn.ReLU(),
        nn.Linear(n_hidden, n_codings), nn.ReLU())       # (N, 32)
    decoder = nn.Sequential(
        nn.Linear(n_codings, n_hidden), nn.ReLU(),
        nn.Linear(n_hidden, 28 * 28), nn.Sigmoid(),
        nn.Unflatten(1, (1, 28, 28)))                    # (N, 1, 28, 28)
    return Autoencoder(encoder, decoder, n_codings=n_codings)


class TiedAutoencoder(nn.Module):
    """Chapter 02: the decoder reuses the encoder's weight matrices, transposed (half the weights)."""

    def __init__(self, n_hidden: int = 128, n_codings: int = 32):
        super().__init__()
        self.enc1 = nn.Linear(28 * 28, n_hidden)
        self.enc2 = nn.Linear(n_hidden, n_codings)
        self.dec1_bias = nn.Parameter(torch.zeros(n_hidden))  # decoders keep their own biases
        self.dec2_bias = nn.Parameter(torch.zeros(28 * 28))

    def encode(self, X: torch.Tensor) -> torch.Tensor:
        """Images -> codings."""
        validate_images(X, model=self)
        Z = F.relu(self.enc1(X.flatten(1)))
        return F.relu(self.enc2(Z))

    def decode(self, Z: torch.Tensor) -> torch.Tensor:
        """Codings -> images, through the transposed encoder weights."""
        validate_codings(Z, self.enc2.out_features)
        Z = F.relu(F.linear(Z, self.enc2.weight.t(), self.dec1_bias))
        Z = torch.sigmoid(F.linear(Z, self.enc1.weight.t(), self.dec2_bias))
        return Z.view(-1, 1, 28, 28)

    def forward(self, X: torch.Tensor) -> AEOutput:
        codings = self.encode(X)
        return AEOutput(self.decode(codings), codings)


def conv_autoencoder(n_codings: int = 32) -> Autoencoder:
    """Chapter 03: convolutions and pooling down to a 32-d code, transposed convolutions back up."""
    encoder = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),   # (N, 16, 14, 14)
        nn.Conv2d(16, 32, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, 7, 7)
        nn.Conv2d(32, 64, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),  # (N, 64, 3, 3)
        nn.Conv2d(64, n_codings, 3, padding="same"), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten())                             # (N, 32)
    decoder = nn.Sequential(
        nn.Linear(n_codings, 16 * 3 * 3), nn.Unflatten(1, (16, 3, 3)),     # (N, 16, 3, 3)
        nn.ConvTranspose2d(16, 32, 3, stride=2), nn.ReLU(),                # (N, 32, 7, 7)
        nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # 14x14
        nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())  # 28x28
    return Autoencoder(encoder, decoder, n_codings=n_codings)


class RecurrentAutoencoder(nn.Module):
    """Chapter 04: each image read as a sequence of 28 rows by an LSTM, then written back row by row."""

    def __init__(self, n_hidden: int = 128, n_codings: int = 32):
        super().__init__()
        self.encoder_lstm = nn.LSTM(28, n_hidden, num_layers=2, batch_first=True)
        self.encoder_proj = nn.Linear(n_hidden, n_codings)
        self.decoder_lstm = nn.LSTM(n_codings, n_hidden, batch_first=True)
        self.decoder_proj = nn.Linear(n_hidden, 28)

    def encode(self, X: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, 28, 28) -> codings (N, 32) from the last layer's final hidden state."""
        validate_images(X, model=self)
        _, (h_n, _) = self.encoder_lstm(X.squeeze(1))   # h_n: (layers, N, hidden)
        return self.encoder_proj(h_n[-1])

    def decode(self, Z: torch.Tensor) -> torch.Tensor:
        """Codings -> images: the code is fed at each of the 28 time steps."""
        validate_codings(Z, self.decoder_lstm.input_size)
        rows, _ = self.decoder_lstm(Z.unsqueeze(1).expand(-1, 28, -1))  # (N, 28, hidden)
        return torch.sigmoid(self.decoder_proj(rows)).unsqueeze(1)      # (N, 1, 28, 28)

    def forward(self, X: torch.Tensor) -> AEOutput:
        codings = self.encode(X)
        return AEOutput(self.decode(codings), codings)


class GaussianNoise(nn.Module):
    """Adds N(0, std²) noise in training mode; the identity in eval mode (like dropout)."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return X
        return X + self.std * torch.randn_like(X)

    def extra_repr(self) -> str:
        return f"std={self.std}"


def denoising_autoencoder(corruption: nn.Module, n_hidden: int = 128) -> Autoencoder:
    """Chapter 05: corrupt the input (training only), encode to 128, decode the clean image."""
    encoder = nn.Sequential(
        nn.Flatten(), corruption,
        nn.Linear(28 * 28, n_hidden), nn.ReLU(),
        nn.Linear(n_hidden, n_hidden), nn.ReLU())
    decoder = nn.Sequential(
        nn.Linear(n_hidden, n_hidden), nn.ReLU(),
        nn.Linear(n_hidden, 28 * 28), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))
    return Autoencoder(encoder, decoder, n_codings=n_hidden)


def sparse_autoencoder(n_hidden: int = 128, n_codings: int = 256) -> Autoencoder:
    """Chapter 06: many sigmoid codes (256), pushed by a penalty to be mostly off."""
    encoder = nn.Sequential(
        nn.Flatten(), nn.Linear(28 * 28, n_hidden), nn.ReLU(),
        nn.Linear(n_hidden, n_codings), nn.Sigmoid())
    decoder = nn.Sequential(
        nn.Linear(n_codings, n_hidden), nn.ReLU(),
        nn.Linear(n_hidden, 28 * 28), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))
    return Autoencoder(encoder, decoder, n_codings=n_codings)


def kl_sparsity_penalty(codings: torch.Tensor, p: float = 0.1, eps: float = 1e-6) -> torch.Tensor:
    """Sum over code units of KL(Bernoulli(p) || Bernoulli(q)), q = the unit's mean activation.

    q is kept in [eps, 1 − eps] so that a unit saturated on a whole batch (sigmoid ≥ 17 is exactly
    1.0 in float32) gives a large, finite penalty instead of inf. eps must be ≥ about 6e-8 for
    1 − eps to differ from 1 in float32; the default 1e-6 leaves a margin.
    """
    q = codings.mean(dim=0).clamp(eps, 1 - eps)
    return (p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))).sum()


def sparse_loss(p: float = 0.1, weight: float = 1e-3):
    """Build the loss of chapter 06: MSE + ``weight`` × the KL sparsity penalty around ``p``."""

    def loss(y_pred: AEOutput, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(y_pred.output, y) + weight * kl_sparsity_penalty(y_pred.codings, p)

    return loss


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def reconstruction_errors(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Per-image mean squared reconstruction error, on the CPU, in eval mode (the model's mode is kept)."""
    from dl101.training import output_of

    out = []
    with eval_mode(model):
        for chunk in images.split(batch_size):
            out.append((output_of(model(chunk)) - chunk).square().flatten(1).mean(1).cpu())
    return torch.cat(out)


@torch.no_grad()
def encode_all(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The codings of many images, computed in chunks, on the CPU, in eval mode (the model's mode is kept)."""
    with eval_mode(model):
        return torch.cat([model.encode(chunk).cpu() for chunk in images.split(batch_size)])

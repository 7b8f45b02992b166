"""Chapter 09: GANs. Generators map noise to images in [0, 1] (sigmoid, like the data);
discriminators return logits, so the losses use the stable ``BCEWithLogitsLoss``."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable

import torch
from torch import nn

from dl101.graphs import fast_path
from dl101.modes import eval_mode
from dl101.progress import progress
from dl101.shapes import validate_codings, validate_images


class Generator(nn.Sequential):
    """Layers from noise (N, codings_dim) to images; a wrong noise shape gets a clear error."""

    def __init__(self, codings_dim: int, *layers: nn.Module):
        super().__init__(*layers)
        self.codings_dim = codings_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        validate_codings(z, self.codings_dim, name="noise")
        return super().forward(z)


class Discriminator(nn.Sequential):
    """Layers from images (N, 1, 28, 28) to one logit each; other inputs get a clear error."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        validate_images(images, model=self)
        return super().forward(images)


def mlp_generator(codings_dim: int = 32) -> Generator:
    """Noise (N, 32) -> 128 -> 256 -> 784 -> images (N, 1, 28, 28) in [0, 1]."""
    return Generator(
        codings_dim,
        nn.Linear(codings_dim, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU(),
        nn.Linear(256, 28 * 28), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))


def mlp_discriminator() -> Discriminator:
    """Images -> 256 -> 128 -> one logit per image (positive means "real")."""
    return Discriminator(
        nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, 1))


def dcgan_generator(codings_dim: int = 100) -> Generator:
    """DCGAN: noise -> (128, 7, 7) -> transposed convs, each after batch norm and ReLU -> (1, 28, 28)."""
    return Generator(
        codings_dim,
        nn.Linear(codings_dim, 128 * 7 * 7), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 3, stride=2, padding=1, output_padding=1),  # 14x14
        nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())  # 28x28


def dcgan_discriminator() -> Discriminator:
    """DCGAN: strided convolutions (no pooling), LeakyReLU(0.2) and dropout -> one logit per image."""
    return Discriminator(
        nn.Conv2d(1, 32, 5, stride=2, padding=2), nn.LeakyReLU(0.2), nn.Dropout(0.4),   # (N, 32, 14, 14)
        nn.Conv2d(32, 64, 5, stride=2, padding=2), nn.LeakyReLU(0.2), nn.Dropout(0.4),  # (N, 64, 7, 7)
        nn.Flatten(), nn.Linear(64 * 7 * 7, 1))


def original_dcgan_generator(codings_dim: int = 100) -> Generator:
    """The original lesson's DCGAN generator: no ReLU after the first batch norm (it drops classes)."""
    return Generator(
        codings_dim,
        nn.Linear(codings_dim, 128 * 7 * 7), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128),
        nn.ConvTranspose2d(128, 64, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # 14x14
        nn.BatchNorm2d(64),
        nn.ConvTranspose2d(64, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())  # 28x28


def original_dcgan_discriminator() -> Discriminator:
    """The original lesson's DCGAN discriminator: plain ReLU where DCGAN uses LeakyReLU."""
    return Discriminator(
        nn.Conv2d(1, 32, 5, stride=2, padding=2), nn.ReLU(), nn.Dropout(0.4),   # (N, 32, 14, 14)
        nn.Conv2d(32, 64, 5, stride=2, padding=2), nn.ReLU(), nn.Dropout(0.4),  # (N, 64, 7, 7)
        nn.Flatten(), nn.Linear(64 * 7 * 7, 1))


@contextmanager
def frozen(module: nn.Module):
    """Turn off ``requires_grad`` for ``module`` and restore each flag afterwards, even on error."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def discriminator_step(generator, discriminator, d_optimizer, real: torch.Tensor, codings_dim: int,
                       criterion=None) -> torch.Tensor:
    """One update of D: push D(real) towards "real" and D(G(z)) towards "fake"."""
    criterion = criterion or nn.BCEWithLogitsLoss()
    d_optimizer.zero_grad(set_to_none=True)
    z = torch.randn(real.size(0), codings_dim, device=real.device)
    with torch.no_grad():
        fake = generator(z)                     # G is not trained here: no graph through it
    real_logits, fake_logits = discriminator(real), discriminator(fake)
    loss = (criterion(real_logits, torch.ones_like(real_logits))
            + criterion(fake_logits, torch.zeros_like(fake_logits)))
    loss.backward()
    d_optimizer.step()
    return loss.detach()


def generator_step(generator, discriminator, g_optimizer, batch_size: int, codings_dim: int,
                   device, criterion=None) -> torch.Tensor:
    """One update of G: make D call its fakes "real". D's weights are frozen meanwhile."""
    criterion = criterion or nn.BCEWithLogitsLoss()
    g_optimizer.zero_grad(set_to_none=True)
    with frozen(discriminator):
        z = torch.randn(batch_size, codings_dim, device=device)
        fake_logits = discriminator(generator(z))
        loss = criterion(fake_logits, torch.ones_like(fake_logits))
        loss.backward()
    g_optimizer.step()
    return loss.detach()


class GANHistory(dict):
    """Per-epoch mean losses of D and G, and sample grids from the fixed noise."""

    def __init__(self):
        super().__init__(d_loss=[], g_loss=[], seconds=[], samples={})
        self.interrupted = False
        self.batches_per_epoch = 0


@torch.no_grad()
def generate(generator: nn.Module, codings: torch.Tensor) -> torch.Tensor:
    """Images from given noise, in eval mode (batch norm uses its running statistics); the mode is kept."""
    with eval_mode(generator):
        return generator(codings)


def train_gan(generator: nn.Module, discriminator: nn.Module, batches, codings_dim: int,
              n_epochs: int = 20, g_lr: float = 1e-3, d_lr: float = 5e-4, *, n_samples: int = 32,
              sample_every: int = 5, seed: int = 0, cuda_graphs: bool | None = None,
              verbose: bool = True, d_step_fn: Callable | None = None,
              betas: tuple[float, float] = (0.9, 0.999)) -> GANHistory:
    """Alternate one D step and one G step per batch; keep samples of one fixed noise batch.

    Both networks use NAdam with ``betas`` (the DCGAN paper's β1 = 0.5 is ``betas=(0.5, 0.999)``).
    ``d_step_fn`` replaces ``discriminator_step`` (same arguments, returns D's loss), e.g. with a
    variant of the loss; it runs inside the step's CUDA graph, so it must not sync with the host.

    The fixed noise comes from its own generator seeded with ``seed``; the training noise from the
    global RNG. Both networks train in train mode and are left in **eval mode**, like ``train()``
    leaves its model. On CUDA each step is replayed as a CUDA graph (see ``dl101.graphs``).
    """
    device = next(generator.parameters()).device
    g_opt = torch.optim.NAdam(generator.parameters(), lr=g_lr, betas=betas)
    d_opt = torch.optim.NAdam(discriminator.parameters(), lr=d_lr, betas=betas)
    fixed = torch.randn(n_samples, codings_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    history, epoch = GANHistory(), 0
    history.batches_per_epoch = len(batches)
    with fast_path(device, cuda_graphs, g_opt, d_opt) as graphed:
        d_update = d_step_fn or discriminator_step
        d_step = graphed(lambda real: d_update(generator, discriminator, d_opt, real, codings_dim))
        g_step = graphed(lambda real: generator_step(generator, discriminator, g_opt, len(real), codings_dim,
                                                     device))
        try:
            for epoch in range(n_epochs):
                start = time.perf_counter()
                generator.train(), discriminator.train()
                label = f"Epoch {epoch + 1}/{n_epochs}"
                d_loss, g_loss = _gan_epoch(d_step, g_step, batches, device, label, verbose)
                history["d_loss"].append(d_loss)
                history["g_loss"].append(g_loss)
                history["seconds"].append(time.perf_counter() - start)
                if epoch % sample_every == 0 or epoch == n_epochs - 1:
                    history["samples"][epoch + 1] = generate(generator, fixed).cpu()
                if verbose:
                    print(f"Epoch {epoch + 1}/{n_epochs}  D loss {d_loss:.4f}  G loss {g_loss:.4f}"
                          f"  ({history['seconds'][-1]:.1f} s)")
        except KeyboardInterrupt:
            history.interrupted = True
            print(f"\nTraining interrupted during epoch {epoch + 1}; returning the history so far.")
        finally:
            generator.eval(), discriminator.eval()
    return history


def _gan_epoch(d_step, g_step, batches, device, label: str, verbose: bool) -> tuple[float, float]:
    """One pass over the real images; returns D's and G's mean losses (one host sync each)."""
    n = len(batches)
    if n == 0:
        raise ValueError("the batches of real images are empty: give train_gan at least one image")
    d_losses, g_losses = torch.zeros(n, device=device), torch.zeros(n, device=device)
    bar = progress(batches, verbose, total=n, desc=label)
    for i, batch in enumerate(bar):
        real = batch[0] if isinstance(batch, (tuple, list)) else batch
        d_losses[i] = d_step(real)  # 1. D learns to tell real images from G's fakes
        g_losses[i] = g_step(real)  # 2. G learns to make D call its fakes real
    return d_losses.mean().item(), g_losses.mean().item()


def validate_generator_output(images: torch.Tensor) -> None:
    """Raise a clear error unless a generator made images shaped (N, 1, 28, 28) in [0, 1]."""
    validate_images(images, name="generated images")
    if images.min() < 0 or images.max() > 1:
        raise ValueError("generated images must lie in [0, 1] like the data: end the generator "
                         "with nn.Sigmoid() (or rescale a tanh output with (x + 1) / 2)")


@torch.no_grad()
def sample_diversity(images: torch.Tensor, max_images: int = 500) -> float:
    """Mean pixel distance between pairs of images: a collapsed generator scores far below real data."""
    x = images[:max_images].flatten(1).float()
    distances = torch.cdist(x, x) / x.shape[1] ** 0.5  # RMS difference per pixel
    n = len(x)
    return (distances.sum() / (n * (n - 1))).item()

"""Chapter 10: denoising diffusion from scratch, in the papers' notation.

Ho et al. (2020), "Denoising Diffusion Probabilistic Models" (DDPM); Nichol & Dhariwal (2021),
"Improved DDPM" (the cosine schedule); Song et al. (2021), "Denoising Diffusion Implicit Models"
(DDIM). Index t runs from 0 (clean image, ᾱ_0 = 1) to T (almost pure noise).
"""
from __future__ import annotations

import math
from collections import namedtuple
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from dl101.data import Batches
from dl101.graphs import fast_path
from dl101.modes import eval_mode
from dl101.progress import progress as progress_bar


class Schedule(namedtuple("Schedule", ["beta", "alpha", "alpha_bar"])):
    """β_t, α_t = 1 − β_t and ᾱ_t = Π_{s≤t} α_s for t = 0..T (index 0 is "no noise")."""

    @property
    def T(self) -> int:
        """Number of diffusion steps."""
        return len(self.beta) - 1

    def to(self, device) -> "Schedule":
        """The same schedule on ``device``."""
        return Schedule(*(v.to(device) for v in self))


def cosine_schedule(T: int = 4000, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
    """Improved DDPM's cosine schedule (Nichol & Dhariwal 2021, eq. 17), β clipped at ``max_beta``.

    ᾱ is the running product of the clipped β, so β and ᾱ agree at every t (the original lesson took
    ᾱ straight from the cosine, which disagrees with its clipped β near t = T).
    """
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    beta = torch.cat([torch.zeros(1, dtype=torch.float64), (1 - f[1:] / f[:-1]).clamp(max=max_beta)])
    alpha = 1 - beta
    return Schedule(beta.float(), alpha.float(), torch.cumprod(alpha, 0).float())


def scaled_linear_schedule(T: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012) -> Schedule:
    """Stable Diffusion's schedule (diffusers' "scaled_linear"): √β evenly spaced, so ᾱ_T ≈ 0.0047.

    Unlike the cosine schedule, a little signal is left at t = T, so DDIM's first step never divides
    by √ᾱ_T ≈ 0: in a latent space, where x̂_0 cannot be clipped to a pixel range, that matters.
    """
    beta = torch.linspace(beta_start ** 0.5, beta_end ** 0.5, T, dtype=torch.float64) ** 2
    beta = torch.cat([torch.zeros(1, dtype=torch.float64), beta])
    alpha = 1 - beta
    return Schedule(beta.float(), alpha.float(), torch.cumprod(alpha, 0).float())


def _at(values: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """values[t] shaped (N, 1, 1, 1) to broadcast over images."""
    return values[t].view(-1, 1, 1, 1)


def forward_diffusion(x0: torch.Tensor, t: torch.Tensor, alpha_bar: torch.Tensor,
                      eps: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Jump from x_0 to x_t in one go: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (DDPM eq. 4). Returns (x_t, ε)."""
    eps = torch.randn_like(x0) if eps is None else eps
    ab = _at(alpha_bar, t)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * eps, eps


class DiffusionSample(namedtuple("DiffusionSample", ["xt", "t"])):
    """The denoiser's input: noisy images x_t (N, 1, 28, 28) in ~[-1, 1] and their steps t (N,)."""


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] -> [-1, 1], the range diffusion models work in."""
    return images * 2 - 1


def noising(schedule: Schedule):
    """A ``Batches`` transform: clean images in [0, 1] -> (DiffusionSample(x_t, t), ε), on the device."""

    def transform(images: torch.Tensor, *_):
        x0 = to_model_range(images)
        t = torch.randint(1, schedule.T + 1, (len(x0),), device=x0.device)
        xt, eps = forward_diffusion(x0, t, schedule.alpha_bar)
        return DiffusionSample(xt, t), eps

    return transform


def diffusion_batches(images: torch.Tensor, schedule: Schedule, batch_size: int = 32) -> Batches:
    """Training batches: shuffled images, noised afresh at random steps every time they are drawn."""
    return Batches(images, batch_size=batch_size, shuffle=True, transform=noising(schedule.to(images.device)))


def fixed_diffusion_batches(images: torch.Tensor, schedule: Schedule, batch_size: int = 256,
                            seed: int = 0) -> Batches:
    """Validation batches with one fixed draw of t and ε, so every evaluation sees the same task."""
    g = torch.Generator().manual_seed(seed)
    t = torch.randint(1, schedule.T + 1, (len(images),), generator=g)
    eps = torch.randn(images.shape, generator=g)
    xt, _ = forward_diffusion(to_model_range(images.cpu()), t, schedule.alpha_bar.cpu(), eps)
    device = images.device
    return Batches(xt.to(device), t.to(device), eps.to(device), batch_size=batch_size,
                   transform=lambda xt, t, eps: (DiffusionSample(xt, t), eps))


class TimeEncoding(nn.Module):
    """Sinusoidal encoding of the step t (as positions in the Transformer), precomputed for 0..T."""

    def __init__(self, T: int, embed_dim: int = 64):
        super().__init__()
        if embed_dim % 2:
            raise ValueError(f"embed_dim must be even, got {embed_dim}")
        p = torch.arange(T + 1).unsqueeze(1)
        angle = p / 10_000 ** (torch.arange(0, embed_dim, 2) / embed_dim)
        encodings = torch.empty(T + 1, embed_dim)
        encodings[:, 0::2], encodings[:, 1::2] = torch.sin(angle), torch.cos(angle)
        self.register_buffer("encodings", encodings)  # follows the model to its device

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        T = len(self.encodings) - 1
        if t.is_floating_point():
            raise TypeError(f"steps t must be integers (torch.long) in 0..{T}, got dtype {t.dtype}")
        if t.device.type == "cpu" and len(t) and (t.min() < 0 or t.max() > T):  # free on the CPU: no sync
            raise ValueError(f"steps t must lie in 0..{T}, got values from {int(t.min())} to {int(t.max())}")
        # F.embedding, unlike encodings[t], never wraps a negative t around to the end of the table
        return F.embedding(t, self.encodings)


class SeparableConv2d(nn.Module):
    """A depthwise k×k convolution then a pointwise 1×1: far fewer weights than a full conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, padding=padding,
                                   groups=in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(X))


def _down_block(in_dim: int, dim: int) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(), SeparableConv2d(in_dim, dim), nn.BatchNorm2d(dim),
                         nn.ReLU(), SeparableConv2d(dim, dim), nn.BatchNorm2d(dim))


def _up_block(in_dim: int, dim: int) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(in_dim, dim, 3, padding=1), nn.BatchNorm2d(dim),
                         nn.ReLU(), nn.ConvTranspose2d(dim, dim, 3, padding=1), nn.BatchNorm2d(dim))


class DiffusionUNet(nn.Module):
    """The original lesson's UNet: predicts the noise ε in x_t, told the step t through time adapters.

    28×28 inputs are padded to 34×34 → 32×32 after the first conv; three down blocks (32, 64,
    128 channels) halve the size, three up blocks double it, with skip connections across.
    """

    def __init__(self, T: int = 4000, embed_dim: int = 64, dim: int = 16,
                 down_dims: tuple = (32, 64, 128), up_dims: tuple = (64, 32, 16)):
        super().__init__()
        self.T = T
        self.time_encoding = TimeEncoding(T, embed_dim)
        self.pad = nn.ConstantPad2d(3, 0)
        self.init_conv, self.init_bn = nn.Conv2d(1, dim, 3), nn.BatchNorm2d(dim)
        self.time_adapter_init = nn.Linear(embed_dim, dim)
        self.down_blocks, self.skip_convs, self.time_down = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        in_dim = dim
        for d in down_dims:
            self.down_blocks.append(_down_block(in_dim, d))
            self.skip_convs.append(nn.Conv2d(in_dim, d, 1, stride=2))
            self.time_down.append(nn.Linear(embed_dim, d))
            in_dim = d
        self.up_blocks, self.skip_up_convs, self.time_up = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for d in up_dims:
            self.up_blocks.append(_up_block(in_dim, d))
            self.skip_up_convs.append(nn.Conv2d(in_dim, d, 1))
            self.time_up.append(nn.Linear(embed_dim, d))
            in_dim = 3 * d  # concatenated with the cross skip, which has 2·d channels
        self.final_conv = nn.Conv2d(in_dim, 1, 3, padding=1)

    def forward(self, sample: DiffusionSample) -> torch.Tensor:
        if not isinstance(sample, DiffusionSample):
            raise TypeError(
                f"DiffusionUNet expects a DiffusionSample(xt, t), got {type(sample).__name__}: "
                "wrap the noisy images and their steps as DiffusionSample(x_t, t)")
        xt, t = sample
        if xt.dim() != 4 or tuple(xt.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected x_t shaped (N, 1, 28, 28), got {tuple(xt.shape)}")
        time = self.time_encoding(t.view(-1))                               # (N, embed_dim)
        z = F.relu(self.init_bn(self.init_conv(self.pad(xt))))              # (N, 16, 32, 32)
        z = z + self.time_adapter_init(time)[:, :, None, None]
        skip, cross_skips = z, []
        for block, skip_conv, adapter in zip(self.down_blocks, self.skip_convs, self.time_down):
            z = block(z)
            cross_skips.append(z)
            z = F.max_pool2d(z, 3, stride=2, padding=1) + skip_conv(skip)   # halves H and W
            z = z + adapter(time)[:, :, None, None]
            skip = z
        for block, skip_conv, adapter in zip(self.up_blocks, self.skip_up_convs, self.time_up):
            z = F.interpolate(block(z), scale_factor=2, mode="nearest")    # doubles H and W
            z = z + skip_conv(F.interpolate(skip, scale_factor=2, mode="nearest"))
            z = z + adapter(time)[:, :, None, None]
            z = torch.cat([z, cross_skips.pop()], dim=1)
            skip = z
        return self.final_conv(z)[:, :, 2:-2, 2:-2].contiguous()            # (N, 1, 28, 28)


def ddpm_step(x_t: torch.Tensor, eps: torch.Tensor, t: int, schedule: Schedule,
              noise: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """x_{t-1} = (x_t − β_t/√(1−ᾱ_t) ε) / √α_t + σ_t z with σ_t² = β_t (DDPM, Algorithm 2).

    ``z`` is ``noise`` if given, else drawn with ``generator`` (the global RNG when it is None).
    """
    if not 1 <= t <= schedule.T:
        raise ValueError(f"a DDPM step goes from t to t - 1 for t in 1..{schedule.T}; got t = {t} "
                         "(t = 0 is already the clean image)")
    beta, alpha, alpha_bar = schedule.beta[t], schedule.alpha[t], schedule.alpha_bar[t]
    mean = (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()
    if t == 1:
        return mean  # the last step adds no noise
    noise = _noise_like(x_t, generator) if noise is None else noise
    return mean + beta.sqrt() * noise


def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``x`` from ``generator`` (on x's device), or the global RNG."""
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def ddim_sigma(alpha_bar_t: torch.Tensor, alpha_bar_prev: torch.Tensor, eta: float) -> torch.Tensor:
    """σ = η √((1 − ᾱ_prev)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev) (DDIM eq. 16, for the two steps taken)."""
    return eta * ((1 - alpha_bar_prev) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_prev)).sqrt()


def ddim_step(x_t: torch.Tensor, eps: torch.Tensor, alpha_bar_t: torch.Tensor,
              alpha_bar_prev: torch.Tensor, eta: float = 0.0, noise: torch.Tensor | None = None,
              clip_x0: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """One DDIM update from step t to an earlier step (DDIM eq. 12): predict x_0, then re-noise.

    With ``clip_x0`` the predicted x_0 is clipped to the data range [-1, 1] and the noise is
    recomputed from it, so that the two stay consistent (diffusers' ``use_clipped_model_output``).
    Near t = T, where ᾱ_t ≈ 1e-10, the raw x_0 guess is wildly off; mixing the clipped guess with
    the model's raw ε there makes small errors in ε compound over hundreds of steps.
    """
    x0 = (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()
    if clip_x0:
        x0 = x0.clamp(-1, 1)
        eps = (x_t - alpha_bar_t.sqrt() * x0) / (1 - alpha_bar_t).sqrt()
    sigma = ddim_sigma(alpha_bar_t, alpha_bar_prev, eta)
    # In float32, 1 − ᾱ_prev − σ² can come out at −6e-8 when η = 1 (it is exactly 0 in exact
    # arithmetic for some step pairs): clamp it, or its square root is NaN for the whole batch.
    direction = (1 - alpha_bar_prev - sigma ** 2).clamp(min=0).sqrt()
    x_prev = alpha_bar_prev.sqrt() * x0 + direction * eps
    if eta > 0:
        x_prev = x_prev + sigma * (_noise_like(x_t, generator) if noise is None else noise)
    return x_prev


def ddim_timesteps(T: int, n_steps: int) -> list[int]:
    """n_steps + 1 evenly spaced steps from T down to 0 (the last step lands on the clean image)."""
    if not 1 <= n_steps <= T:
        raise ValueError(f"n_steps must be between 1 and T={T}, got {n_steps}")
    return torch.linspace(T, 0, n_steps + 1).round().long().tolist()


def _start(model: nn.Module, n: int, generator: torch.Generator | None):
    """x_T on the model's device, and the generator the later steps draw their noise from.

    x_T comes from ``generator`` on the CPU, so the same seed starts from the same noise on every
    device; the per-step noise comes from a generator on the model's device seeded from it.
    """
    device = next(model.parameters()).device
    x = torch.randn((n, 1, 28, 28), generator=generator).to(device)
    if generator is None:
        return x, None
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
    return x, torch.Generator(device).manual_seed(seed)


@contextmanager
def _noise_predictor(model: nn.Module, cuda_graphs: bool | None) -> Iterator[Callable]:
    """``predict(x_t, steps) -> ε̂``: the model in eval mode; on a GPU its forward pass is replayed as
    one CUDA graph (plumbing: a small UNet otherwise spends most of its time launching kernels)."""
    device = next(model.parameters()).device
    with eval_mode(model), fast_path(device, cuda_graphs) as graphed:
        yield graphed(lambda x, steps: model(DiffusionSample(x, steps)))


@torch.no_grad()
def ddpm_sample(model: nn.Module, schedule: Schedule, n: int = 32, generator=None,
                keep_every: int = 0, progress: bool = True, cuda_graphs: bool | None = None):
    """Generate ``n`` images by running all T reverse steps; returns x_0 in [-1, 1].

    With ``keep_every=k`` it also returns the trajectory [(t, x_t on the CPU), ...] every k steps.
    All noise comes from ``generator`` when one is given (same generator, same images), else from
    the global RNG. The model runs in eval mode and gets its own mode back afterwards. On a GPU the
    model's forward pass is replayed as a CUDA graph (``cuda_graphs=False`` turns that off).
    """
    schedule = schedule.to(next(model.parameters()).device)
    (x, step_generator), kept = _start(model, n, generator), []
    with _noise_predictor(model, cuda_graphs) as predict_noise:
        for t in progress_bar(range(schedule.T, 0, -1), progress, desc="DDPM"):
            if keep_every and (t % keep_every == 0 or t == schedule.T):
                kept.append((t, x.cpu()))
            steps = torch.full((n,), t, device=x.device, dtype=torch.long)
            x = ddpm_step(x, predict_noise(x, steps), t, schedule, generator=step_generator)
    x = x.clamp(-1, 1)
    return (x, kept + [(0, x.cpu())]) if keep_every else x


@torch.no_grad()
def ddim_sample(model: nn.Module, schedule: Schedule, n: int = 32, n_steps: int = 50, eta: float = 0.0,
                generator=None, keep_every: int = 0, progress: bool = True, clip_x0: bool = True,
                cuda_graphs: bool | None = None):
    """Generate ``n`` images with ``n_steps`` DDIM steps; η = 0 is deterministic, η = 1 is DDPM-like.

    Noise, model mode, ``keep_every`` and ``cuda_graphs`` work as in ``ddpm_sample``.
    """
    schedule = schedule.to(next(model.parameters()).device)
    (x, step_generator), kept = _start(model, n, generator), []
    times = ddim_timesteps(schedule.T, n_steps)
    with _noise_predictor(model, cuda_graphs) as predict_noise:
        for i, (t, t_prev) in enumerate(progress_bar(list(zip(times[:-1], times[1:])), progress,
                                                     desc="DDIM")):
            if keep_every and i % keep_every == 0:
                kept.append((t, x.cpu()))
            steps = torch.full((n,), t, device=x.device, dtype=torch.long)
            eps = predict_noise(x, steps)
            x = ddim_step(x, eps, schedule.alpha_bar[t], schedule.alpha_bar[t_prev], eta, clip_x0=clip_x0,
                          generator=step_generator)
    x = x.clamp(-1, 1)
    return (x, kept + [(0, x.cpu())]) if keep_every else x

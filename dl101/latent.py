"""The capstone: a tiny Stable Diffusion built from the course's parts.

A convolutional VAE (chapter 07's idea, with a weak KL term as in Rombach et al., 2022) squeezes each
28×28 image into a 4×8×8 latent; a UNet told the step t (chapter 10) and a class "prompt" learns to
denoise those latents, with the prompt dropped at random so that the same network also learns the
unconditional noise; DDIM (chapter 10) samples with classifier-free guidance (Ho & Salimans, 2022);
the VAE's decoder turns the latents back into pixels.
"""
from __future__ import annotations

import difflib
from collections import namedtuple
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dl101.data import Batches
from dl101.diffusion import Schedule, TimeEncoding, ddim_step, ddim_timesteps, forward_diffusion
from dl101.graphs import fast_path
from dl101.modes import eval_mode
from dl101.progress import progress as progress_bar
from dl101.vae import VAEOutput, reparameterize

# The prompt table: the job Stable Diffusion's text encoder does, for a ten-word vocabulary.
PROMPTS = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
NULL = len(PROMPTS)  # the "no prompt" class, Stable Diffusion's empty prompt ""
_ALIASES = {"": NULL, "t-shirt/top": 0, "top": 0, "tshirt": 0, "trousers": 1, "pants": 1, "sweater": 2,
            "jacket": 4, "sandals": 5, "sneakers": 7, "boot": 9, "boots": 9, "ankle boots": 9}
LATENT_SHAPE = (4, 8, 8)  # 256 numbers for a 784-pixel image, 3× fewer (Stable Diffusion: 48× fewer)

LatentSample = namedtuple("LatentSample", ["zt", "t", "labels"])


def encode_prompts(prompts: str | Sequence[str]) -> torch.Tensor:
    """Prompts ("sneaker", "bag", "" for none) -> class indices (long), as a text encoder would embed them."""
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    indices = []
    for prompt in prompts:
        key = str(prompt).strip().lower()
        index = PROMPTS.index(key) if key in PROMPTS else _ALIASES.get(key)
        if index is None:
            close = difflib.get_close_matches(key, [*PROMPTS, *_ALIASES], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown prompt {prompt!r}.{hint} Known prompts: {', '.join(PROMPTS)} "
                             "(and \"\" for no prompt).")
        indices.append(index)
    return torch.tensor(indices, dtype=torch.long)


class LatentVAE(nn.Module):
    """A convolutional VAE: (N, 1, 28, 28) pixels in [0, 1] <-> (N, 4, 8, 8) latents.

    Images are padded to 32×32 so that two stride-2 convolutions give 8×8, as Stable Diffusion's VAE
    divides 512×512 by 8.
    """

    def __init__(self, channels: int = LATENT_SHAPE[0], width: int = 64):
        super().__init__()
        self.channels = channels
        # 1 / std of the training latents, set after training (latent_scale); saved with the weights
        self.register_buffer("scaling_factor", torch.ones(()))
        act = nn.SiLU
        self.encoder = nn.Sequential(
            nn.ConstantPad2d(2, 0.0), nn.Conv2d(1, width, 3, padding=1), act(),          # 32×32
            nn.Conv2d(width, width, 4, stride=2, padding=1), act(),                        # 16×16
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), act(),                    # 8×8
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), act(),
            nn.Conv2d(2 * width, 2 * channels, 1))                                         # μ and log σ²
        self.decoder = nn.Sequential(
            nn.Conv2d(channels, 2 * width, 3, padding=1), act(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), act(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), act(),           # 16×16
            nn.ConvTranspose2d(width, width, 4, stride=2, padding=1), act(),               # 32×32
            nn.Conv2d(width, 1, 3, padding=1), nn.Sigmoid())

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images -> (mean, log-variance) of q(z|x), each (N, 4, 8, 8)."""
        if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected images shaped (N, 1, 28, 28), got {tuple(images.shape)}")
        mean, logvar = self.encoder(images).chunk(2, dim=1)
        return mean, logvar.clamp(-30, 20)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (N, 4, 8, 8) -> images (N, 1, 28, 28) in [0, 1]."""
        if latents.dim() != 4 or tuple(latents.shape[1:]) != (self.channels, 8, 8):
            raise ValueError(f"expected latents shaped (N, {self.channels}, 8, 8), got {tuple(latents.shape)}")
        return self.decoder(latents)[:, :, 2:-2, 2:-2]

    def forward(self, images: torch.Tensor) -> VAEOutput:
        mean, logvar = self.encode(images)
        return VAEOutput(self.decode(reparameterize(mean, logvar)), mean, logvar)


def latent_vae_loss(y_pred: VAEOutput, y: torch.Tensor, kl_weight: float = 1e-3) -> torch.Tensor:
    """Chapter 07's loss per pixel, MSE + β·KL/784, with a small β: a sharp decoder matters more here
    than a Gaussian prior, because the diffusion model, not N(0, I), will say where latents lie."""
    kl = -0.5 * (1 + y_pred.codings_logvar - y_pred.codings_logvar.exp() - y_pred.codings_mean.square())
    return F.mse_loss(y_pred.output, y) + kl_weight * kl.flatten(1).sum(1).mean() / (28 * 28)


@torch.no_grad()
def encode_dataset(vae: LatentVAE, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The posterior means of ``images`` (on their device), in batches."""
    with eval_mode(vae):
        return torch.cat([vae.encode(images[i:i + batch_size])[0] for i in range(0, len(images), batch_size)])


def latent_scale(latents: torch.Tensor) -> float:
    """1 / std of the latents: multiplied by it they have unit variance, as the noise they are mixed with
    (Stable Diffusion's ``vae.config.scaling_factor``, 0.18215, is this number for its VAE)."""
    return float(1 / latents.float().std())


def drop_labels(labels: torch.Tensor, p: float) -> torch.Tensor:
    """Replace each label by NULL with probability ``p``: one network learns ε(z, t, y) and ε(z, t, ∅)."""
    return torch.where(torch.rand(labels.shape, device=labels.device) < p, torch.full_like(labels, NULL), labels)


def latent_noising(schedule: Schedule, p_uncond: float = 0.1) -> Callable:
    """A ``Batches`` transform: (scaled latents, labels) -> (LatentSample(z_t, t, y or NULL), ε)."""

    def transform(z0: torch.Tensor, labels: torch.Tensor):
        t = torch.randint(1, schedule.T + 1, (len(z0),), device=z0.device)
        zt, eps = forward_diffusion(z0, t, schedule.alpha_bar)
        return LatentSample(zt, t, drop_labels(labels, p_uncond)), eps

    return transform


def latent_batches(latents: torch.Tensor, labels: torch.Tensor, schedule: Schedule, batch_size: int = 256,
                   p_uncond: float = 0.1) -> Batches:
    """Training batches of scaled latents, noised afresh at random steps, prompts dropped with ``p_uncond``."""
    return Batches(latents, labels, batch_size=batch_size, shuffle=True,
                   transform=latent_noising(schedule.to(latents.device), p_uncond))


def fixed_latent_batches(latents: torch.Tensor, labels: torch.Tensor, schedule: Schedule, batch_size: int = 1000,
                         seed: int = 0) -> Batches:
    """Validation batches with one fixed draw of t and ε (and every prompt kept)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.randint(1, schedule.T + 1, (len(latents),), generator=g)
    eps = torch.randn(latents.shape, generator=g)
    zt, _ = forward_diffusion(latents.cpu(), t, schedule.alpha_bar.cpu(), eps)
    device = latents.device
    return Batches(zt.to(device), t.to(device), labels, eps.to(device), batch_size=batch_size,
                   transform=lambda zt, t, y, eps: (LatentSample(zt, t, y), eps))


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, plus the step-and-prompt embedding, twice, around a skip connection."""

    def __init__(self, in_channels: int, out_channels: int, embed_dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, in_channels), nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.embed = nn.Linear(embed_dim, out_channels)
        self.norm2, self.conv2 = nn.GroupNorm(8, out_channels), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.embed(embedding)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class LatentUNet(nn.Module):
    """Predicts the noise in a (N, 4, 8, 8) latent from the step t and a prompt (a class, or NULL).

    The prompt's embedding is added to the step's, as chapter 10's UNet adds the step's alone;
    Stable Diffusion instead lets every position attend to the prompt's 77 token vectors.
    """

    def __init__(self, T: int = 1000, channels: int = LATENT_SHAPE[0], width: int = 64, embed_dim: int = 128,
                 n_classes: int = len(PROMPTS)):
        super().__init__()
        self.T, self.channels = T, channels
        self.time_encoding = TimeEncoding(T, 64)
        self.time_mlp = nn.Sequential(nn.Linear(64, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))
        self.prompt_embedding = nn.Embedding(n_classes + 1, embed_dim)  # + 1: the NULL prompt
        self.conv_in = nn.Conv2d(channels, width, 3, padding=1)
        self.down = ResBlock(width, width, embed_dim)                               # 8×8
        self.downsample = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)       # 4×4
        self.middle = nn.ModuleList([ResBlock(2 * width, 2 * width, embed_dim) for _ in range(2)])
        self.up = ResBlock(2 * width + width, width, embed_dim)                     # 8×8, with the skip
        self.conv_out = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv2d(width, channels, 3, padding=1))

    def forward(self, sample: LatentSample) -> torch.Tensor:
        if not isinstance(sample, LatentSample):
            raise TypeError(f"LatentUNet expects a LatentSample(zt, t, labels), got {type(sample).__name__}")
        zt, t, labels = sample
        if zt.dim() != 4 or tuple(zt.shape[1:]) != (self.channels, 8, 8):
            raise ValueError(f"expected latents shaped (N, {self.channels}, 8, 8), got {tuple(zt.shape)}")
        embedding = self.time_mlp(self.time_encoding(t.view(-1))) + self.prompt_embedding(labels.view(-1))
        skip = self.down(self.conv_in(zt), embedding)
        h = self.downsample(skip)
        for block in self.middle:
            h = block(h, embedding)
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        return self.conv_out(self.up(torch.cat([h, skip], dim=1), embedding))


def guided_eps(model: nn.Module, zt: torch.Tensor, t: torch.Tensor, labels: torch.Tensor,
               scale: float) -> torch.Tensor:
    """Classifier-free guidance: ε_∅ + s (ε_y − ε_∅), both from one forward pass on a batch of 2N."""
    null = torch.full_like(labels, NULL)
    eps = model(LatentSample(torch.cat([zt, zt]), torch.cat([t, t]), torch.cat([labels, null])))
    eps_prompt, eps_null = eps.chunk(2)
    return eps_null + scale * (eps_prompt - eps_null)


@contextmanager
def _guided_predictor(model: nn.Module, eps_fn: Callable, cuda_graphs: bool | None) -> Iterator[Callable]:
    """``predict(z_t, t, labels, scale_tensor)``: guided ε, replayed as one CUDA graph on a GPU (plumbing)."""
    device = next(model.parameters()).device
    with eval_mode(model), fast_path(device, cuda_graphs) as graphed:
        yield graphed(lambda z, t, labels, scale: eps_fn(model, z, t, labels, scale))


@torch.no_grad()
def guided_ddim_sample(model: nn.Module, schedule: Schedule, labels: torch.Tensor, guidance_scale: float = 3.0,
                       n_steps: int = 25, generator: torch.Generator | None = None, progress: bool = True,
                       eps_fn: Callable = guided_eps, cuda_graphs: bool | None = None) -> torch.Tensor:
    """Latents for ``labels`` (one per sample) by DDIM (η = 0) with classifier-free guidance.

    z_T comes from ``generator`` on the CPU, so the same seed gives the same latents on every device.
    ``eps_fn(model, z_t, t, labels, scale)`` combines the network's predictions (``guided_eps``, or yours).
    """
    device = next(model.parameters()).device
    labels = labels.to(device)
    schedule = schedule.to(device)
    z = torch.randn((len(labels), model.channels, 8, 8), generator=generator).to(device)
    scale = torch.full((), float(guidance_scale), device=device)  # a tensor, so a recorded step serves any scale
    times = ddim_timesteps(schedule.T, n_steps)
    with _guided_predictor(model, eps_fn, cuda_graphs) as predict:
        for t, t_prev in progress_bar(list(zip(times[:-1], times[1:])), progress, desc="DDIM"):
            steps = torch.full((len(labels),), t, device=device, dtype=torch.long)
            eps = predict(z, steps, labels, scale)
            z = ddim_step(z, eps, schedule.alpha_bar[t], schedule.alpha_bar[t_prev], clip_x0=False)
    return z


class TinyStableDiffusion(nn.Module):
    """The pipeline: prompts -> class indices -> guided DDIM in latent space -> VAE decoder -> pixels."""

    def __init__(self, vae: LatentVAE, unet: LatentUNet, schedule: Schedule):
        super().__init__()
        self.vae, self.unet, self.schedule = vae, unet, schedule

    @torch.no_grad()
    def forward(self, prompts: str | Sequence[str], guidance_scale: float = 3.0, n_steps: int = 25,
                generator: torch.Generator | None = None, progress: bool = False) -> torch.Tensor:
        """Images (N, 1, 28, 28) in [0, 1], one per prompt."""
        labels = encode_prompts(prompts)
        latents = guided_ddim_sample(self.unet, self.schedule, labels, guidance_scale, n_steps, generator,
                                     progress)
        with eval_mode(self.vae):
            return self.vae.decode(latents / self.vae.scaling_factor)

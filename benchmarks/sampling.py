"""Sampling speed: dl101's samplers (forward pass replayed as a CUDA graph, and eager) against a
textbook sampler loop, with chapter 10's UNet on one GPU, in one process.

    python benchmarks/sampling.py [unet.safetensors]

The UNet's weights do not change the time; a checkpoint only makes the images meaningful.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from dl101 import diffusion as D  # noqa: E402


@torch.no_grad()
def textbook_ddpm(model, schedule, n: int) -> torch.Tensor:
    """DDPM as most tutorials write it: a Python loop, the schedule indexed step by step."""
    device = next(model.parameters()).device
    beta, alpha, alpha_bar = (v.to(device) for v in (schedule.beta, schedule.alpha, schedule.alpha_bar))
    x = torch.randn(n, 1, 28, 28, device=device)
    for t in range(schedule.T, 0, -1):
        eps = model(D.DiffusionSample(x, torch.full((n,), t, device=device, dtype=torch.long)))
        x = (x - beta[t] / (1 - alpha_bar[t]).sqrt() * eps) / alpha[t].sqrt()
        if t > 1:
            x = x + beta[t].sqrt() * torch.randn_like(x)
    return x


@torch.no_grad()
def textbook_ddim(model, schedule, n: int, n_steps: int) -> torch.Tensor:
    """Deterministic DDIM (η = 0) as most tutorials write it."""
    device = next(model.parameters()).device
    alpha_bar = schedule.alpha_bar.to(device)
    x = torch.randn(n, 1, 28, 28, device=device)
    times = D.ddim_timesteps(schedule.T, n_steps)
    for t, t_prev in zip(times[:-1], times[1:]):
        eps = model(D.DiffusionSample(x, torch.full((n,), t, device=device, dtype=torch.long)))
        x0 = ((x - (1 - alpha_bar[t]).sqrt() * eps) / alpha_bar[t].sqrt()).clamp(-1, 1)
        x = alpha_bar[t_prev].sqrt() * x0 + (1 - alpha_bar[t_prev]).sqrt() * eps
    return x


def seconds(fn, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Print the table of sampling times and ratios."""
    schedule, model = D.cosine_schedule(4000), D.DiffusionUNet(T=4000).cuda().eval()
    if len(sys.argv) > 1:
        from dl101.checkpoints import load_model
        load_model(model, sys.argv[1])
    n = 32
    print(f"{torch.cuda.get_device_name()} | torch {torch.__version__} | {n} images, T = {schedule.T}")
    rows = [
        ("DDPM, 4,000 steps", lambda: textbook_ddpm(model, schedule, n),
         lambda g: D.ddpm_sample(model, schedule, n, progress=False, cuda_graphs=g), 1),
        ("DDIM, 500 steps", lambda: textbook_ddim(model, schedule, n, 500),
         lambda g: D.ddim_sample(model, schedule, n, 500, progress=False, cuda_graphs=g), 3),
        ("DDIM, 50 steps", lambda: textbook_ddim(model, schedule, n, 50),
         lambda g: D.ddim_sample(model, schedule, n, 50, progress=False, cuda_graphs=g), 5),
    ]
    print("| sampler | textbook loop | dl101 eager | dl101 (CUDA graph) | speed-up vs textbook |")
    print("|---|---|---|---|---|")
    for name, textbook, ours, repeats in rows:
        base = seconds(textbook, repeats)
        eager = seconds(lambda: ours(False), repeats)
        graphed = seconds(lambda: ours(True), repeats)
        print(f"| {name} | {base:.3f} s | {eager:.3f} s | {graphed:.3f} s | {base / graphed:.1f}× |", flush=True)


if __name__ == "__main__":
    main()

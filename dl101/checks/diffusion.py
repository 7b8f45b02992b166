"""Checkers for the diffusion chapters' exercises."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dl101.checks._base import Choice, QUESTIONS, as_count, as_number, as_tensor, own_random_state
from dl101.exercises import Incorrect, close_enough, correct, require
from dl101.modes import eval_mode


# Chapter 10 ---------------------------------------------------------------------------------------
def check_forward_diffusion(fn, alpha_bar: torch.Tensor) -> None:
    """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for a batch of steps t."""
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(6, 1, 28, 28, generator=g) * 2 - 1, torch.randn(6, 1, 28, 28, generator=g)
    t = torch.linspace(1, len(alpha_bar) - 1, 6).long()  # from the first step to T
    alpha_bar = alpha_bar.cpu().float()
    with own_random_state():
        got = as_tensor(fn(x0, t, eps), "x_t", x0.shape)
    ab = alpha_bar[t].view(-1, 1, 1, 1)
    want = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    require(torch.allclose(got, want, atol=1e-5),
            "x_t differs from √ᾱ_t·x_0 + √(1−ᾱ_t)·ε. Index ᾱ with t and reshape it to (N, 1, 1, 1) "
            "so that each image gets its own step.")
    return correct("that is DDPM's closed-form jump (eq. 4).")


def check_ddim_sigma(fn) -> None:
    """DDIM's σ for steps t → t_prev and a given η (Song et al. 2021, eq. 16)."""
    ab_t, ab_prev = torch.tensor(0.3), torch.tensor(0.6)
    for eta in (0.0, 0.5, 1.0):
        got = as_number(fn(ab_t, ab_prev, eta), "sigma")
        want = eta * math.sqrt((1 - 0.6) / (1 - 0.3) * (1 - 0.3 / 0.6))
        if not close_enough(got, want, 1e-4, 1e-7):
            raise Incorrect(f"for η={eta}: expected σ={want:.5f}, got {got:.5f}. Use ᾱ of the two steps "
                            "actually taken: σ = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_prev).")
    return correct("σ(η) of eq. 16, correct also when steps are skipped.")


def check_conv_parameters(answer, in_channels: int, out_channels: int, kernel_size: int) -> None:
    """Parameters of one ``nn.Conv2d(in, out, kernel_size)`` layer with a bias."""
    from torch import nn

    got = as_count(answer, "n_params")
    want = sum(p.numel() for p in nn.Conv2d(in_channels, out_channels, kernel_size).parameters())
    require(got == want, f"expected {want:,}, got {got:,}: each of the {out_channels} filters has "
                         f"{in_channels}×{kernel_size}×{kernel_size} weights plus one bias")
    return correct(f"{want:,} parameters, whatever the image size: that is weight sharing.")

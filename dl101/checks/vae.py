"""Checkers for the vae chapters' exercises."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dl101.checks._base import Choice, QUESTIONS, as_count, as_number, as_tensor, own_random_state
from dl101.exercises import Incorrect, close_enough, correct, require
from dl101.modes import eval_mode


# Chapter 07 ---------------------------------------------------------------------------------------
def check_gaussian_kl(fn) -> None:
    """KL(N(μ, σ²) || N(0, 1)) per example, summed over dimensions, from (mean, logvar)."""
    from torch.distributions import Normal, kl_divergence

    g = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    with own_random_state():
        got = as_tensor(fn(mean, logvar), "kl", (8,))
    want = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    require(torch.allclose(got, want, atol=1e-5),
            f"differs from torch.distributions by up to {(got - want).abs().max():.4g}. Check the "
            "sign, that σ² = exp(logvar), and that you sum over the last dimension.")
    return correct("matches torch.distributions.kl_divergence.")


def check_prior_samples(images, codings_dim: int, n: int) -> None:
    """``n`` images decoded from codings drawn from the prior N(0, I)."""
    x = as_tensor(images, "images", (n, 1, 28, 28))
    require(float(x.min()) >= 0 and float(x.max()) <= 1, "decoded images should lie in [0, 1]")
    require(float(x.std(0).mean()) > 1e-3, "all samples look identical: draw a different z for each image")
    return correct(f"{n} new images from z ~ N(0, I_{codings_dim}).")


# Chapter 08 ---------------------------------------------------------------------------------------
def check_categorical_kl(fn) -> None:
    """KL(q || uniform) per example from logits (N, codes, K), stable for extreme logits."""
    logits = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0)) * 3
    logits[0, 0] = torch.tensor([200.0, -200.0, 0.0, 0.0, 0.0])  # softmax underflows to exactly 0
    with own_random_state():
        got = as_tensor(fn(logits), "kl", (4,))
    q = torch.distributions.Categorical(logits=logits)
    uniform = torch.distributions.Categorical(logits=torch.zeros_like(logits))
    want = torch.distributions.kl_divergence(q, uniform).sum(-1)
    require(torch.allclose(got, want, atol=1e-4),
            f"differs from torch.distributions by up to {(got - want).abs().max():.4g}. Use "
            "F.log_softmax for log q (softmax().log() breaks when a probability underflows to 0).")
    return correct("stable and equal to torch.distributions' KL.")


def check_code_count(answer, coding_length: int = 32, n_codes: int = 16) -> None:
    """How many different codings the discrete VAE can express."""
    got = as_count(answer, "answer")
    want = n_codes ** coding_length
    require(got == want, f"each of the {coding_length} codes picks one of {n_codes} categories "
                         "independently: multiply the choices")
    return correct(f"{want:.3e} distinct codings, from a 32×16 one-hot table.")

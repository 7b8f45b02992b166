"""Checkers for the gan chapters' exercises."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dl101.checks._base import Choice, QUESTIONS, as_count, as_number, as_tensor, own_random_state
from dl101.exercises import Incorrect, close_enough, correct, require
from dl101.modes import eval_mode


# Chapter 09 ---------------------------------------------------------------------------------------
def check_generator_loss(fn) -> None:
    """The non-saturating generator loss from D's logits on fakes: −mean log σ(logits)."""
    logits = torch.randn(32, 1, generator=torch.Generator().manual_seed(0)) * 4
    with own_random_state():
        got = as_number(fn(logits), "loss")
    want = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).item()
    require(close_enough(got, want, 1e-4),
            f"expected {want:.5f}, got {got:.5f}. G wants D to say 'real' (label 1) on fakes; with "
            "logits use F.binary_cross_entropy_with_logits, not a sigmoid followed by a log.")
    return correct("G is trained to make D say 'real'.")


def check_discriminator_accuracy(answer, discriminator, real: torch.Tensor, fake: torch.Tensor) -> None:
    """D's accuracy on a batch of real and a batch of fake images (logit > 0 means 'real')."""
    got = as_number(answer, "accuracy")
    with torch.no_grad(), eval_mode(discriminator):
        want = torch.cat([(discriminator(real) > 0).float(), (discriminator(fake) <= 0).float()]).mean().item()
    require(close_enough(got, want, 0.01, 1e-3),
            f"expected {want:.3f}, got {got:.3f}. A logit above 0 means 'real'; count right answers "
            "on both batches, in eval mode.")
    return correct(f"D is right on {want:.1%} of the images.")

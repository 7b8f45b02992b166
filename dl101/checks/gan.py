"""Checkers for the gan chapters' exercises."""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from dl101.checks._base import Choice, QUESTIONS, as_number, as_tensor, own_random_state
from dl101.exercises import Incorrect, correct, require
from dl101.modes import eval_mode


# Chapter 09 ---------------------------------------------------------------------------------------


def check_discriminator_accuracy(answer, discriminator, real: torch.Tensor, fake: torch.Tensor,
                                 train_mode_value: float | None = None) -> None:
    """D's accuracy on a batch of real and a batch of fake images (logit > 0 means 'real'), in eval mode.

    The discriminator's mode is left as it was; float64 images and answers are accepted."""
    got = as_number(answer, "accuracy")
    param = next(discriminator.parameters())
    real = as_tensor(real, "real").to(param.device, param.dtype)
    fake = as_tensor(fake, "fake").to(param.device, param.dtype)
    with torch.no_grad(), eval_mode(discriminator):
        real_logits, fake_logits = discriminator(real).flatten(), discriminator(fake).flatten()
    on_real, on_fake = (real_logits > 0).double().mean().item(), (fake_logits <= 0).double().mean().item()
    want = (on_real * len(real) + on_fake * len(fake)) / (len(real) + len(fake))
    tol = 0.5 / (len(real) + len(fake))  # less than one image: accuracies are multiples of 1/(N_real + N_fake)
    if abs(got - want) < tol:
        return correct(f"D is right on {want:.1%} of the images ({on_real:.0%} of the real ones, "
                       f"{on_fake:.0%} of the fakes).")
    at_half = ((real_logits > 0.5).double().sum() + (fake_logits <= 0.5).double().sum()).item() / (
        len(real) + len(fake))
    mistakes = [(100 * want, "that is a percentage: give the accuracy as a fraction between 0 and 1"),
                (1 - want, "you counted the wrong answers: a logit above 0 means 'real', so a real image "
                           "is right when its logit is > 0 and a fake when its logit is <= 0"),
                (on_real, "that is the accuracy on the real images only: count the fakes too (a logit above 0 means 'real')"),
                (on_fake, "that is the accuracy on the fakes only: count the real images too (a logit above 0 means 'real')"),
                (at_half, "you compared the logits with 0.5: a logit is not a probability; the "
                          "threshold 0.5 on σ(logit) is 0 on the logit")]
    if train_mode_value is not None:
        mistakes.append((train_mode_value, "that is D's accuracy in train mode, where dropout switches "
                                           "off random units: measure in eval mode"))
    for value, hint in mistakes:
        if abs(got - value) < tol and abs(value - want) >= tol:
            raise Incorrect(hint + ".")
    raise Incorrect(f"got {got:.3f}, which is not D's accuracy on these images. A logit above 0 means "
                    "'real'; count right answers on both batches, with D in eval mode (dropout off).")


def check_accuracy_function(fn, discriminator, real: torch.Tensor, fake: torch.Tensor) -> None:
    """``fn(discriminator, real, fake)`` returns D's accuracy in eval mode and gives D its mode back.

    The check calls it with D in train mode (as during training) and restores D's own mode afterwards."""
    require(callable(fn), f"pass your function itself, got {type(fn).__name__}")
    was_training = discriminator.training
    try:
        discriminator.train()
        with torch.no_grad(), own_random_state():
            answer = fn(discriminator, real, fake)
        left_in_train_mode = discriminator.training
        discriminator.train()
        param = next(discriminator.parameters())
        with torch.no_grad(), own_random_state():  # what the same call sees if it never leaves train mode
            r, f = (as_tensor(v, "images").to(param.device, param.dtype) for v in (real, fake))
            right = torch.cat([(discriminator(r).flatten() > 0), (discriminator(f).flatten() <= 0)])
        train_mode_value = right.double().mean().item()
    finally:
        discriminator.train(was_training)
    require(left_in_train_mode, "your function left D in eval mode although it was in train mode: give D "
                                "its mode back (dl101.modes.eval_mode does it for you), or the training "
                                "that follows runs without dropout.")
    return check_discriminator_accuracy(answer, discriminator, real, fake, train_mode_value)

_LOG2 = math.log(2)


class _FixedFakes(torch.nn.Module):
    """A stand-in generator that returns the same fake images whatever the noise: the check then does
    not depend on how (or on which device) the learner's step draws z."""

    def __init__(self, fakes: torch.Tensor):
        super().__init__()
        self.fakes = fakes

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        require(len(z) <= len(self.fakes), f"the step made {len(z)} fakes for a batch of {len(self.fakes)} "
                                           "real images: draw one noise vector per real image")
        return self.fakes[:len(z)]


def _reference_d_step(generator, discriminator, d_optimizer, real, codings_dim, real_label=0.9,
                      fake_label=0.0, combine="sum"):
    """discriminator_step with chosen labels: the right answer and its likely wrong variants."""
    d_optimizer.zero_grad(set_to_none=True)
    with torch.no_grad():
        fake = generator(torch.zeros(len(real), codings_dim, device=real.device))
    real_logits, fake_logits = discriminator(real), discriminator(fake)
    real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, fake_label))
    loss = real_loss + fake_loss if combine == "sum" else (real_loss + fake_loss) / 2
    loss.backward()
    d_optimizer.step()
    return loss.detach()


def _update_of(step, generator, discriminator, real, codings_dim) -> torch.Tensor:
    """How one call of ``step`` moves a copy of D's weights under plain SGD with lr 1 (= −gradient).

    The copy is in eval mode: without dropout the result does not depend on the order of D's calls."""
    d = copy.deepcopy(discriminator).eval()
    for p in d.parameters():
        p.requires_grad_(True)
    before = torch.nn.utils.parameters_to_vector(d.parameters()).detach().clone()
    optimizer = torch.optim.SGD(d.parameters(), lr=1.0)
    with own_random_state():
        step(generator, d, optimizer, real, codings_dim)
    return (torch.nn.utils.parameters_to_vector(d.parameters()).detach() - before).double().cpu()


def check_smoothed_discriminator_step(fn, generator, discriminator, real: torch.Tensor,
                                      codings_dim: int = 100) -> None:
    """A D step with one-sided label smoothing (real label 0.9, fake label 0), on the learner's models.

    The learner's ``fn(generator, discriminator, d_optimizer, real, codings_dim)`` runs on a copy of
    ``discriminator`` with fakes made once by ``generator``; its update must equal the reference's."""
    require(callable(fn), f"pass your function itself, got {type(fn).__name__}")
    param = next(discriminator.parameters())
    real = as_tensor(real, "real", None)[:32].to(param.device, param.dtype)
    with torch.no_grad(), eval_mode(generator), own_random_state(1):
        z = torch.randn(len(real), codings_dim).to(param.device)
        fakes = _FixedFakes(generator(z).to(param.dtype))
    got = _update_of(fn, fakes, discriminator, real, codings_dim)
    require(bool(torch.isfinite(got).all()), "D's weights became NaN or inf after your step")

    def same(variant: dict) -> bool:
        want = _update_of(lambda *a: _reference_d_step(*a, **variant), fakes, discriminator, real,
                          codings_dim)
        return bool((got - want).norm() <= 1e-4 * want.norm() + 1e-9)

    if same({}):
        return correct("real images are pushed towards 0.9, fakes towards 0: D can no longer "
                       "grow arbitrarily sure of real images.")
    if got.norm() == 0:
        raise Incorrect("D's weights did not move: call loss.backward() and d_optimizer.step() (after "
                        "d_optimizer.zero_grad()) on the discriminator you are given.")
    mistakes = [({"real_label": 1.0}, "you kept the real label at 1: nothing is smoothed"),
                ({"fake_label": 0.1}, "you smoothed both sides (fakes at 0.1): one-sided smoothing "
                                      "leaves the fake label at 0"),
                ({"real_label": 1.0, "fake_label": 0.1}, "you smoothed the fake label instead of the real one"),
                ({"real_label": 0.1}, "you set the real label to 0.1: real images should be pushed "
                                      "towards 0.9, close to 'real'"),
                ({"combine": "mean"}, "your update is half the reference: add the two BCE terms, as "
                                      "discriminator_step does, instead of averaging them")]
    for variant, hint in mistakes:
        if same(variant):
            raise Incorrect(hint + ".")
    raise Incorrect("D's update differs from a step with real label 0.9 and fake label 0. Score real "
                    "and fake images with the discriminator you are given, use "
                    "F.binary_cross_entropy_with_logits on the logits, add the two terms, then step "
                    "d_optimizer.")


QUESTIONS["09-a"] = Choice(right="a", why={
    "a": 'Yes: logit 0 everywhere gives exactly 2 ln 2 and ln 2, whatever G makes. A D that never learns (learning rate 0, weights frozen by mistake, an optimizer over the wrong parameters) sits there, and G, with no signal from D, stays noise.',
    "b": 'No: at p_g = p_data the samples would look like garments, and no G starts there at the first epoch. The losses only say that D outputs ½ for every image, which they would do whatever G makes.',
    "c": 'No: a collapsed G makes a few kinds of garment, not noise, and a D that learns would spot them: its loss would move away from 2 ln 2.',
    "d": 'No: a D that wins has a loss below 2 ln 2 ≈ 1.386 and a G loss above ln 2, not exactly on the lines.',
})
QUESTIONS["09-b"] = Choice(right="d", why={
    "a": 'No: ½ is the best D without smoothing. With targets 0.9, maximise 0.9·p_data·log D + (0.1·p_data + p_g)·log(1 − D): the maximum is at D = 0.9·p_data / (p_data + p_g).',
    "b": "No: 0.9 / 1.9 puts only 0.9·p_data in the denominator. The real images' remaining 0.1 pushes towards 'fake' too, so the denominator keeps all of p_data: D* = 0.9·p_data / (p_data + p_g).",
    "c": 'No: 0.9 is D* where G makes no images at all (p_g = 0); at the equilibrium p_g = p_data halves it.',
    "d": 'Yes: D* = 0.9·p_data / (p_data + p_g) = 0.9 / 2 = 0.45 when p_g = p_data.',
})
QUESTIONS["09-c"] = Choice(right="c", why={
    "a": "No: the D step starts with d_optimizer.zero_grad(set_to_none=True), which drops the gradients left over from the G step before D's own backward.",
    "b": "No: only g_optimizer.step() runs, and g_optimizer holds G's parameters only: D's weights do not move in the G step.",
    "c": "Yes: backward also fills D's .grad, but discriminator_step calls d_optimizer.zero_grad(set_to_none=True) before its own backward, so D's update is unchanged. Freezing saves that work (and keeps the step correct if someone reorders the code).",
    "d": "No: computing gradients for D's weights is allowed, and backward never updates weights: only an optimizer's step does. Here it is only wasted work.",
})

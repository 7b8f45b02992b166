"""Checkers for the capstone project (a tiny Stable Diffusion)."""
from __future__ import annotations

import torch

from dl101.checks._base import QUESTIONS, Choice, as_number, as_tensor, own_random_state
from dl101.exercises import Incorrect, correct, require
from dl101.modes import eval_mode

NEGATIVE_TOLERANCE = 1e-2  # TF32 on a GPU moves ε by ~1e-3 between batchings; a wrong formula moves it by ~1


def _eps(model, zt, t, labels) -> torch.Tensor:
    from dl101.latent import LatentSample

    return model(LatentSample(zt, t, labels))


@torch.no_grad()
def check_negative_prompt(fn, model, n: int = 6, seed: int = 0) -> None:
    """``fn(model, z_t, t, labels, negative, scale)`` is guidance away from a negative prompt:
    ε_neg + s (ε_y − ε_neg), where the negative prompt takes the place of the empty one."""
    from dl101.latent import NULL, PROMPTS

    require(callable(fn), f"pass your function itself, got {type(fn).__name__}")
    device = next(model.parameters()).device
    with own_random_state(seed), eval_mode(model):
        zt = torch.randn(n, model.channels, 8, 8, device=device)
        t = torch.randint(100, model.T + 1, (n,), device=device)
        labels = torch.randint(0, len(PROMPTS), (n,), device=device)
        negative = (labels + torch.randint(1, len(PROMPTS), (n,), device=device)) % len(PROMPTS)
        eps_y, eps_neg, eps_null = (_eps(model, zt, t, y) for y in (labels, negative, torch.full_like(labels, NULL)))
        for scale in (3.0, 0.0, 1.0):
            got = as_tensor(fn(model, zt, t, labels, negative, scale), "your function's result", shape=zt.shape)
            want = (eps_neg + scale * (eps_y - eps_neg)).cpu()
            if (got - want).abs().max() <= NEGATIVE_TOLERANCE:
                continue
            near = lambda other: (got - other.cpu()).abs().max() <= NEGATIVE_TOLERANCE  # noqa: E731
            if near(eps_null + scale * (eps_y - eps_null)):
                raise Incorrect("that is ordinary guidance from the empty prompt: the negative prompt's ε should "
                                "take ε_∅'s place, so that the sampler moves away from the negative prompt.")
            if near(eps_y + scale * (eps_y - eps_neg)):
                raise Incorrect(f"at s = {scale:g} your result is ε_y + s(ε_y − ε_neg): start from the negative "
                                "prompt's ε, so that s = 0 gives ε_neg and s = 1 gives ε_y.")
            if near(eps_neg + scale * (eps_neg - eps_y)):
                raise Incorrect("the difference points the wrong way: guidance moves towards the prompt and away "
                                "from the negative prompt, so use (ε_y − ε_neg).")
            raise Incorrect(f"at s = {scale:g} your ε differs from ε_neg + s(ε_y − ε_neg) by up to "
                            f"{(got - want).abs().max():.3g}: check which labels each forward pass gets.")
    correct("the negative prompt takes the empty prompt's place, and s = 0 and s = 1 give ε_neg and ε_y.")


@torch.no_grad()
def prompt_accuracy(pipe, judge, scale: float, n_per_class: int, n_steps: int = 25, seed: int = 0) -> list[float]:
    """For each prompt, the fraction of its ``n_per_class`` images the judge puts in the prompt's class."""
    from dl101.classifier import predict
    from dl101.latent import PROMPTS

    labels = torch.arange(len(PROMPTS)).repeat_interleave(n_per_class)
    images = pipe([PROMPTS[i] for i in labels], guidance_scale=scale, n_steps=n_steps,
                  generator=torch.Generator().manual_seed(seed))
    predicted = predict(judge, images.clamp(0, 1))
    return [(predicted[labels == c] == c).float().mean().item() for c in range(len(PROMPTS))]


def check_guidance_scale(answer, pipe, judge, scales, n_per_class: int = 100, bar: float = 0.9,
                         margin: float = 0.03, n_steps: int = 25) -> None:
    """``answer`` is the smallest scale in ``scales`` at which every prompt reaches ``bar`` (with a
    ``margin`` for the sampling noise of ``n_per_class`` images per prompt), measured afresh here."""
    from dl101.latent import PROMPTS

    scale = as_number(answer, "recommended_scale")
    grid = sorted(float(s) for s in scales)
    require(scale in grid, f"pick one of the scales you measured, {grid}; got {scale:g}")
    accuracy = prompt_accuracy(pipe, judge, scale, n_per_class, n_steps)
    worst = min(range(len(PROMPTS)), key=lambda c: accuracy[c])
    require(accuracy[worst] >= bar - margin,
            f"at s = {scale:g}, only {accuracy[worst]:.0%} of the {PROMPTS[worst]!r} images are classified as "
            f"{PROMPTS[worst]!r}: look at the prompt that follows guidance worst, not at the average.")
    below = [s for s in grid if s < scale]
    if below:
        lower = prompt_accuracy(pipe, judge, below[-1], n_per_class, n_steps)
        require(min(lower) < bar + margin,
                f"s = {below[-1]:g} already gives every prompt at least {bar:.0%}; a larger scale buys little "
                "accuracy and costs variety (look at your diversity curve).")
    correct(f"s = {scale:g}: every prompt at {accuracy[worst]:.0%} or more, and no smaller scale on your grid "
            "gets there.")


QUESTIONS["P-a"] = Choice(right="b", why={
    "a": "No: the schedule mixes ᾱ_t of the latent's variance with 1 − ᾱ_t of unit noise. With std 5 the latent "
         "brings 0.5 × 25 = 12.5 against 0.5 of noise: 12.5 / 13 ≈ 96% signal, not 50%.",
    "b": "Yes: 0.5 × 5² = 12.5 of signal against 0.5 of noise is 96% signal. The schedule then hardly hides the "
         "latents until t is near T, and the sampler's first step starts from unit noise the model rarely saw. "
         "Scaling the latents to std 1 makes ᾱ_t mean what the schedule intends.",
    "c": "No: that is the noise's share. The signal brings ᾱ_t σ² = 0.5 × 25 = 12.5, the noise 1 − ᾱ_t = 0.5.",
    "d": "No: ᾱ_t σ² / (ᾱ_t σ² + 1 − ᾱ_t) = 12.5 / 13 ≈ 96%. Close to all, but not 99.9%.",
})
QUESTIONS["P-b"] = Choice(right="b", why={
    "a": "No: with s = 0, ε̂ = ε_∅ + 0 · (ε_y − ε_∅) = ε_∅: the prompt's prediction is not used at all, so the "
         "images cannot depend on the prompt.",
    "b": "Yes: ε̂ = ε_∅, the prediction for the empty prompt, which the network learned on the 10% of batches "
         "whose label was dropped: an unconditional model. The judge finds each prompt's class in about 10% of "
         "the images, chance for ten classes.",
    "c": "No: ε_∅ still denoises; it is the unconditional model's noise estimate. The images are garments, of any "
         "class.",
    "d": "No: DDIM with ε_∅ draws individual samples of the unconditional model, each a sharp garment, not an "
         "average.",
})

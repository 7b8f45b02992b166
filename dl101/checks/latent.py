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
def prompt_accuracy(pipe, judge, scale: float, n_per_class: int, prompts=None, n_steps: int = 25) -> dict[str, float]:
    """For each prompt, the fraction of its ``n_per_class`` images that the judge puts in the prompt's class.

    Prompt number c is drawn from ``torch.Generator().manual_seed(c)``, so a prompt's images do not depend on
    which other prompts are measured."""
    from dl101.classifier import predict
    from dl101.latent import PROMPTS

    accuracy = {}
    for prompt in prompts or PROMPTS:
        c = PROMPTS.index(prompt)
        images = pipe([prompt] * n_per_class, guidance_scale=scale, n_steps=n_steps,
                      generator=torch.Generator().manual_seed(c))
        accuracy[prompt] = (predict(judge, images.clamp(0, 1)) == c).float().mean().item()
    return accuracy


def _scales_per_prompt(answer, grid) -> dict[str, float]:
    from dl101.latent import PROMPTS

    require(isinstance(answer, dict), f"prompt_scales should be a dict {{prompt: scale}}, got {type(answer).__name__}")
    missing = [p for p in PROMPTS if p not in answer]
    require(not missing, f"prompt_scales has no scale for {missing}: give one for each of the ten prompts")
    scales = {p: as_number(answer[p], f"prompt_scales[{p!r}]") for p in PROMPTS}
    off = {p: s for p, s in scales.items() if s not in grid}
    require(not off, f"pick scales from the grid you measured, {grid}; got {off}")
    return scales


def check_prompt_scales(answer, pipe, judge, scales, n_per_class: int = 100, bar: float = 0.9,
                        n_steps: int = 25) -> None:
    """``answer[prompt]`` is the smallest scale in ``scales`` at which the judge puts ``bar`` of the prompt's
    images in its class (the largest scale if none does), measured afresh with the seeds the exercise names;
    one image either way is forgiven (float rounding can flip one judgement on another device)."""
    grid = sorted(float(s) for s in scales)
    chosen = _scales_per_prompt(answer, grid)
    margin = 1.5 / n_per_class
    for prompt, scale in chosen.items():
        got = prompt_accuracy(pipe, judge, scale, n_per_class, [prompt], n_steps)[prompt]
        require(got >= bar - margin or scale == grid[-1],
                f"at s = {scale:g} only {got:.0%} of the {prompt!r} images are classified as {prompt!r}: that "
                "prompt needs a larger scale.")
        below = [s for s in grid if s < scale]
        if below:
            lower = prompt_accuracy(pipe, judge, below[-1], n_per_class, [prompt], n_steps)[prompt]
            require(lower < bar + margin, f"{prompt!r} already reaches {lower:.0%} at s = {below[-1]:g}: a larger "
                                          "scale buys it little accuracy and costs variety.")
    correct(f"each prompt gets the smallest scale that makes it reliable: {chosen}.")


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
    "b": "Yes: ε̂ = ε_∅, the prediction for the empty prompt, which the network learned on the 10% of training "
         "examples whose label was dropped: an unconditional model. The judge finds each prompt's class in about 10% of "
         "the images, chance for ten classes.",
    "c": "No: ε_∅ still denoises; it is the unconditional model's noise estimate. The images are garments, of any "
         "class.",
    "d": "No: DDIM with ε_∅ draws individual samples of the unconditional model, each a sharp garment, not an "
         "average.",
})
QUESTIONS["P-c"] = Choice(right="c", why={
    "a": "No: every scale is scored on the same number of images against the same test images; the distance "
         "changes because the images change.",
    "b": "No: the images at s = 8 are not noisier. Look at the strip: they are clean, and alike. The judge's "
         "accuracy, which would drop for noisy images, is at its highest there.",
    "c": "Yes: the Fréchet distance compares the whole spread of the judge's features with the real images' "
         "spread. Strong guidance pushes every image further in the direction that marks its class: each image is "
         "easier to classify, but most prompts' images grow alike (the mean diversity falls as s grows) and their "
         "exaggerated contrasts look unlike real garments, and the distance counts both.",
    "d": "No: the decoder turns every latent into a garment the judge recognises (accuracy rises with s); what "
         "changes is the latents the sampler produces: more alike, and pushed further from the real ones.",
})

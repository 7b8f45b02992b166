"""Checkers for the diffusion chapters' exercises."""
from __future__ import annotations


import torch

from dl101.checks._base import Choice, QUESTIONS, as_count, as_number, as_tensor, own_random_state
from dl101.exercises import Incorrect, close_enough, correct, require
from dl101.modes import eval_mode


# Chapter 10 ---------------------------------------------------------------------------------------



def _ddim_eta1_loop(model, schedule, x, times, noise, variant: str = "right") -> torch.Tensor:
    """The library's DDIM step with η = 1 on the grid ``times`` (the reference), or a likely mistake."""
    from dl101 import diffusion as D

    ab = schedule.alpha_bar
    for k, (t, t_prev) in enumerate(zip(times[:-1], times[1:])):
        eps = model(D.DiffusionSample(x, torch.full((len(x),), t, device=x.device, dtype=torch.long)))
        if variant in ("right", "no clip"):
            x = D.ddim_step(x, eps, ab[t], ab[t_prev], eta=1.0, noise=noise[k], clip_x0=variant == "right")
            continue
        # ancestral steps from the clipped x̂_0 with a wrong β or a wrong variance
        beta = schedule.beta[t] if variant == "one-step beta" else 1 - ab[t] / ab[t_prev]
        x0 = ((x - (1 - ab[t]).sqrt() * eps) / ab[t].sqrt()).clamp(-1, 1)
        mean = (ab[t_prev].sqrt() * beta / (1 - ab[t]) * x0
                + (1 - beta).sqrt() * (1 - ab[t_prev]) / (1 - ab[t]) * x)
        var = beta if variant == "sigma² = beta" else (1 - ab[t_prev]) / (1 - ab[t]) * beta
        x = mean + (var.sqrt() * noise[k] if t_prev > 0 else 0)
    return x.clamp(-1, 1)


TOLERANCE_ETA1 = 2e-2


def check_respaced_ddpm(fn, model, schedule, n_steps: int = 10, n: int = 4, seed: int = 0) -> None:
    """Respaced DDPM on ``ddim_timesteps(T, n_steps)`` equals DDIM with η = 1 given the same noise.

    ``fn(x_T, n_steps, noise)`` (noise shaped (n_steps, N, 1, 28, 28), the k-th used at the k-th jump)
    is run on the learner's own model, and compared with the library's ``ddim_step`` with η = 1."""
    import inspect

    from dl101 import diffusion as D

    require(callable(fn), f"pass your function itself, got {type(fn).__name__}")
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = ""
    require("ddim_step" not in source and "ddim_sample" not in source,
            "build the step from the respaced β yourself; calling D.ddim_step or D.ddim_sample "
            "would only compare DDIM with itself.")
    device = next(model.parameters()).device
    schedule = schedule.to(device)
    n_steps = min(n_steps, schedule.T)
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(n, 1, 28, 28, generator=g).to(device)
    noise = torch.randn(n_steps, n, 1, 28, 28, generator=g).to(device)
    with torch.no_grad(), own_random_state():
        got = as_tensor(fn(x_T.clone(), n_steps, noise.clone()), "x_0", (n, 1, 28, 28))
    times = D.ddim_timesteps(schedule.T, n_steps)

    def reference(variant: str) -> torch.Tensor:
        with torch.no_grad(), eval_mode(model):
            return _ddim_eta1_loop(model, schedule, x_T, times, noise, variant).float().cpu()

    want = reference("right")
    gap = (got - want).abs().max().item()
    # Two right loops differ by up to ~5e-3 on a GPU (TF32 convolutions, amplified near t = T); each
    # mistake below moves some pixel by 1 or more.
    if gap < TOLERANCE_ETA1:
        return correct(f"{n_steps} respaced DDPM steps give DDIM's η = 1 images (largest pixel gap {gap:.1e}).")
    mistakes = {"no clip": "you did not clip x̂_0 to [-1, 1] (and compute the step from the clipped "
                           "x̂_0): near t = T the raw x̂_0 is a wild guess",
                "one-step beta": "you used the one-step β_t; a jump from t to t' needs the respaced "
                                 "β = 1 − ᾱ_t/ᾱ_t'",
                "sigma² = beta": "your noise has variance β (respaced); the ancestral step uses the "
                                 "posterior variance β̃ = (1 − ᾱ_t')/(1 − ᾱ_t)·β"}
    for variant, hint in mistakes.items():
        if (got - reference(variant)).abs().max().item() < TOLERANCE_ETA1:
            raise Incorrect(hint + ".")
    if model.training:
        raise Incorrect("your images differ from DDIM's with η = 1, and the model is in train mode: put "
                        "it in eval mode, so that batch norm uses its running statistics.")
    raise Incorrect(f"your images differ from DDIM's with η = 1 by up to {gap:.2f}. Walk the grid "
                    "D.ddim_timesteps(T, n_steps) with the respaced β, clip x̂_0 to [-1, 1], use noise[k] "
                    "at the k-th jump and no noise on the jump to t = 0.")


def sample_distances(model, schedule, step_counts, reference_steps: int, n: int = 4,
                     seed: int = 0) -> dict[int, float]:
    """RMS pixel distance between DDIM (η = 0) images after k steps and after ``reference_steps``,
    from the same starting noise, for each k in ``step_counts``."""
    from dl101 import diffusion as D

    def images(k: int) -> torch.Tensor:
        return D.ddim_sample(model, schedule, n=n, n_steps=k, eta=0.0, progress=False,
                             generator=torch.Generator().manual_seed(seed)).double()

    with own_random_state():
        reference = images(reference_steps)
        return {k: (images(k) - reference).pow(2).mean().sqrt().item() for k in step_counts}


def check_enough_steps(answer, model, schedule, candidates, reference_steps: int, tolerance: float = 0.05,
                       n: int = 4, seed: int = 0) -> None:
    """The fewest DDIM steps among ``candidates`` whose images lie within ``tolerance`` (RMS) of the
    ``reference_steps``-step images; ``reference_steps`` itself when no candidate does."""
    got = as_count(answer, "enough_steps")
    candidates = sorted(int(c) for c in candidates)
    options = candidates + [reference_steps]
    require(got in options, f"enough_steps should be one of the step counts you tried, {options}; got {got}")
    smaller = [c for c in candidates if c <= got]
    distances = sample_distances(model, schedule, smaller, reference_steps, n, seed)
    distances[reference_steps] = 0.0
    good = [c for c in options if c in distances and distances[c] < tolerance]
    want = min(good)
    if got == want:
        return correct(f"{want} steps land within {tolerance} of the {reference_steps}-step images "
                       f"(RMS distance {distances[want]:.3f}).")
    if distances[got] >= tolerance:
        raise Incorrect(f"the {got}-step images are {distances[got]:.3f} (RMS) from the {reference_steps}-step "
                        f"ones, not within {tolerance}. Sample with η = 0 from the same starting noise "
                        "(the same seeded generator for every run) and compare pixel by pixel.")
    raise Incorrect(f"{got} steps are within {tolerance}, but so are fewer steps among your candidates: "
                    "the question asks for the smallest count that is close enough.")


def check_step_distances(distances, model, schedule, reference_steps: int, n: int = 4, seed: int = 0) -> None:
    """``distances`` maps step counts to the RMS pixel distance of their DDIM images from the reference."""
    require(isinstance(distances, dict) and distances,
            f"distances should be a dict {{step count: distance}}, got {type(distances).__name__}")
    got = {as_count(k, "a step count"): as_number(v, f"distances[{k}]") for k, v in distances.items()}
    want = sample_distances(model, schedule, sorted(got), reference_steps, n, seed)
    for k in sorted(got):
        if not close_enough(got[k], want[k], 1e-3, 1e-5):
            mse = want[k] ** 2
            hint = ("that is the mean squared distance: take its square root" if close_enough(got[k], mse, 1e-3, 1e-7)
                    else "use the root of the mean squared pixel difference, between images that start "
                         "from the same noise (a freshly seeded generator for every run), with η = 0")
            raise Incorrect(f"distances[{k}] is {got[k]:.4f}, which is not the RMS distance of the {k}-step "
                            f"images from the {reference_steps}-step ones: {hint}.")
    return correct("your distances are the RMS pixel differences from the reference.")


QUESTIONS["10-a"] = Choice(right="b", why={
    "a": 'No: the step does not jump to x̂_0; it removes a small part of the predicted noise. The error δ enters x_{t−1} through the coefficient β_t/(√(1 − ᾱ_t)·√α_t) ≈ 0.0008/(0.71 · 1.0) ≈ 0.0011, not through √((1 − ᾱ_t)/ᾱ_t) ≈ 1.0.',
    "b": 'Yes: x_{t−1} contains −β_t/(√(1 − ᾱ_t)·√α_t)·ε̂, so δ moves it by β_t/(√(1 − ᾱ_t)√α_t)·δ ≈ 0.0008/(0.71 · 1.0)·δ ≈ 0.0011·δ. Each step commits only a sliver of the current guess; the 31.6 of the first step comes from α_T = 0.001 and β_T = 0.999, at t = T only.',
    "c": 'No: 1/√α_t is 31.6 only at t = T, where α_T = 0.001; at t = 2000, α_t = 1 − β_t ≈ 0.9992 and 1/√α_t ≈ 1.0004, and the ε̂ term carries β_t ≈ 0.0008, so δ moves x_{1999} by about 0.0011·δ.',
    "d": 'No: the step divides by √α_t ≈ 1.0004, not by √ᾱ_t; and δ enters through the ε̂ term, whose coefficient is β_t/√(1 − ᾱ_t) ≈ 0.0011.',
})
QUESTIONS["10-b"] = Choice(right="a", why={
    "a": "Yes: on one fixed draw both models face the same t and ε, so the difference of the two values is the models' difference alone; and the fixed draw gives the same value every time, so one evaluation per epoch is all it takes.",
    "b": "No: averaging five draws divides the draw's spread only by √5 ≈ 2.2: the 0.0056 spread becomes about 0.0025, still larger than the 0.0013 between the two epochs; and it costs five validation passes per epoch.",
    "c": "No: the fixed draw gives the same value every time (the lesson's cell shows it), so five evaluations cost five times as much and return the same number as one.",
    "d": 'No: the training loss is also measured on fresh draws, on training images, while the weights change during the epoch: it cannot tell whether the validation error fell by 0.0013.',
})
QUESTIONS["10-c"] = Choice(right="d", why={
    "a": 'No: 0.5 is the plain conditional model, s = 1. With s = 3: ε̂ = 0.2 + 3·(0.5 − 0.2) = 1.1.',
    "b": 'No: (1·0.2 + 3·0.5)/4 ≈ 0.425 is a mixture, always between the two; the formula ε_u + s(ε_c − ε_u) is not one for s > 1: it gives 0.2 + 3·0.3 = 1.1.',
    "c": 'No: 3·ε_c forgets the −s·ε_u term: ε̂ = ε_u + 3(ε_c − ε_u) = 3ε_c − 2ε_u = 1.5 − 0.4 = 1.1.',
    "d": "Yes: ε̂ = 0.2 + 3·(0.5 − 0.2) = 1.1, past ε_c = 0.5: guidance extrapolates along what the prompt changes, here three times the prompt's shift of 0.3. That is how s > 1 pushes the image towards the prompt, at the cost of variety.",
})

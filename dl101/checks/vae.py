"""Checkers for the vae chapters' exercises (07: variational autoencoder, 08: discrete VAE).

Each one measures the learner's own trained models again (in eval mode, under a private random state)
instead of comparing with stored numbers, so smoke-sized and full-sized runs are checked alike.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dl101.checks._base import Choice, QUESTIONS, as_number, as_tensor, own_random_state
from dl101.exercises import Incorrect, correct, require
from dl101.modes import eval_mode


def _models_by_key(models, name: str, kind: str, minimum: int) -> dict:
    """A dict of at least ``minimum`` distinct models, refused with a clear message otherwise."""
    require(isinstance(models, dict), f"{name} should be a dict of trained models, got {type(models).__name__}")
    require(len(models) >= minimum, f"{name} holds {len(models)} models: train at least {minimum}")
    for key, model in models.items():
        require(isinstance(model, torch.nn.Module) and hasattr(model, "encode"),
                f"{name}[{key!r}] should be a trained {kind}, got {type(model).__name__}")
    shared = len({id(m) for m in models.values()}) < len(models)
    require(not shared, f"{name} stores the same model object under several keys: it kept training one "
                        f"model. Build a new {kind} (after torch.manual_seed) for each setting")
    return models


def _numeric_keys(models: dict, name: str) -> None:
    """Refuse keys that are not numbers (the β values), with a clear message."""
    for key in models:
        ok = isinstance(key, (int, float)) or (isinstance(key, torch.Tensor) and key.numel() == 1)
        require(ok and not isinstance(key, bool), f"the keys of {name} should be the β values as numbers, "
                                                  f"got {key!r}")


def _pick_key(answer, keys, name: str, what: str):
    """The key of ``keys`` equal to the number ``answer``."""
    value = as_number(answer, name)
    for key in keys:
        if math.isclose(float(key), value, rel_tol=1e-9, abs_tol=1e-12):
            return key
    raise Incorrect(f"{name} = {value:g} is not one of the {what} you trained ({sorted(map(float, keys))})")


# Chapter 07 ---------------------------------------------------------------------------------------
@torch.no_grad()
def _mean_kl(model, images: torch.Tensor) -> float:
    """Mean KL(q(z|x) || N(0, I)) per image, in nats."""
    from dl101.vae import gaussian_kl

    with eval_mode(model):
        return gaussian_kl(*model.encode(images)).mean().item()


def check_beta_sweep(beta_below_5, sweep: dict, images: torch.Tensor, grid=(1, 2, 4, 8, 16)) -> None:
    """The smallest β of the learner's sweep whose VAE has fewer than 5 active latent dimensions."""
    from dl101.vae import active_dimensions

    sweep = _models_by_key(sweep, "sweep", "VAE", len(grid))
    _numeric_keys(sweep, "sweep")
    missing = [b for b in grid if not any(math.isclose(float(k), b) for k in sweep)]
    require(not missing, f"sweep has no model for β = {', '.join(f'{b:g}' for b in missing)}: "
                         f"train one VAE per β in {tuple(grid)}")
    beta = _pick_key(beta_below_5, sweep, "beta_below_5", "β values")
    active = {b: active_dimensions(m, images) for b, m in sweep.items()}  # eval mode, no grad, restored
    below = sorted(b for b, n in active.items() if n < 5)
    require(below, "none of your VAEs has fewer than 5 active dimensions: was each trained with its own β "
                   "(partial(vae_loss, kl_weight=β))?")
    require(active[beta] < 5, f"your VAE trained with β = {float(beta):g} still has {active[beta]} active "
                              "dimensions: 5 or more is not below 5")
    require(beta == below[0], f"β = {float(beta):g} has fewer than 5 active dimensions, but a smaller β of "
                              "your sweep already has too: report the first β where the count falls below 5")
    return correct(f"from β = {float(beta):g} on, fewer than 5 of the {sweep[beta].codings_dim} code "
                   "dimensions carry information.")


def check_sweep_trained(sweep: dict, images: torch.Tensor) -> None:
    """Each VAE of the sweep was trained with its own β: the KL per image falls as β grows."""
    sweep = _models_by_key(sweep, "sweep", "VAE", 2)
    _numeric_keys(sweep, "sweep")
    betas = sorted(sweep, key=float)
    kl = [_mean_kl(sweep[b], images) for b in betas]
    # Neighbouring βs may tie within training noise; over the whole sweep the KL must fall clearly.
    rises = [(a, b) for (a, ka), (b, kb) in zip(zip(betas, kl), zip(betas[1:], kl[1:])) if kb > 1.05 * ka + 0.05]
    require(not rises and kl[-1] < 0.5 * kl[0],
            "the KL per image does not fall as β grows: train each VAE with its own β, "
            "partial(vae_loss, kl_weight=β), not the default β = 1")
    return correct("the KL per image falls as β grows: each VAE was trained with its own β.")


def _frames(model, x_a: torch.Tensor, x_b: torch.Tensor, n_steps: int, sample: bool = False) -> torch.Tensor:
    from dl101.vae import reparameterize

    mean, logvar = model.encode(torch.stack([x_a, x_b]))
    codes = reparameterize(mean, logvar) if sample else mean
    t = torch.linspace(0, 1, n_steps, device=codes.device, dtype=codes.dtype)[:, None]
    return model.decode((1 - t) * codes[0] + t * codes[1]).flatten(1)


def _rmse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().mean(-1).sqrt()


@torch.no_grad()
def path_ratio_variants(model, x_a: torch.Tensor, x_b: torch.Tensor, n_steps: int = 9) -> dict[str, float]:
    """The path ratio, and what the likely mistakes compute instead."""
    with eval_mode(model):
        frames = _frames(model, x_a, x_b, n_steps)
        more = _frames(model, x_a, x_b, n_steps + 1)
    steps = _rmse(frames[1:], frames[:-1])
    ends = _rmse(frames[-1], frames[0])
    return {
        "right": (steps.sum() / ends).item(),
        "you returned the path's length: divide it by the RMSE between the first and last frame": steps.sum().item(),
        "divide by the RMSE between the first and last *decoded* frames, not between the two input images":
            (steps.sum() / _rmse(x_b.flatten(), x_a.flatten())).item(),
        "you averaged the steps: sum them (the path's length)": (steps.mean() / ends).item(),
        "compare frames by RMSE (the square root of the mean squared difference), not by MSE":
            ((frames[1:] - frames[:-1]).square().mean(-1).sum() / (frames[-1] - frames[0]).square().mean()).item(),
        "decode n_steps frames, both ends included (torch.linspace(0, 1, n_steps)), not n_steps + 1":
            (_rmse(more[1:], more[:-1]).sum() / _rmse(more[-1], more[0])).item(),
    }


def check_path_ratio(fn, model, images: torch.Tensor, n_steps: int = 9, pairs=((0, 1), (2, 3), (4, 5))) -> None:
    """``fn(model, x_a, x_b, n_steps)``: decoded path length between two code means / end-to-end RMSE."""
    require(callable(fn), f"path_ratio should be a function, got {type(fn).__name__}")
    for i, j in pairs:
        x_a, x_b = images[i], images[j]
        with eval_mode(model), own_random_state(0):
            got = as_number(fn(model, x_a, x_b, n_steps), "path_ratio(...)")
        with eval_mode(model), own_random_state(1):
            again = as_number(fn(model, x_a, x_b, n_steps), "path_ratio(...)")
        require(math.isclose(got, again, rel_tol=1e-5),
                "your path_ratio changes from call to call: interpolate between the code *means*, "
                "not between sampled codes")
        variants = path_ratio_variants(model, x_a, x_b, n_steps)
        want = variants.pop("right")
        if math.isclose(got, want, rel_tol=1e-4):
            continue
        matched = [hint for hint, value in variants.items() if math.isclose(got, value, rel_tol=1e-4)]
        require(False, matched[0] if matched else
                f"for validation images {i} and {j} your ratio differs from the decoded path's. Decode "
                f"n_steps codes evenly spaced from one code mean to the other, then divide the sum of the "
                f"RMSEs between consecutive frames by the RMSE between the first and last frame")
    return correct("path length / end-to-end distance of the decoded path, from the code means.")


def mean_path_ratio(model, images: torch.Tensor, n_pairs: int = 20, n_steps: int = 9) -> float:
    """Mean path ratio over the pairs of images (0, 1), (2, 3), ..."""
    return sum(path_ratio_variants(model, images[2 * k], images[2 * k + 1], n_steps)["right"]
               for k in range(n_pairs)) / n_pairs


def check_smoothest_beta(smoothest_beta, models: dict, images: torch.Tensor, n_pairs: int = 20) -> None:
    """The β whose VAE has the smallest mean path ratio over the first ``n_pairs`` pairs of images."""
    models = _models_by_key(models, "vaes", "VAE", 2)
    _numeric_keys(models, "vaes")
    beta = _pick_key(smoothest_beta, models, "smoothest_beta", "β values")
    ratio = {b: mean_path_ratio(m, images, n_pairs) for b, m in models.items()}
    best = min(ratio.values())
    if ratio[beta] <= best * (1 + 1e-3):  # a tie within 0.1 % counts as smoothest too
        return correct(f"β = {float(beta):g} decodes the straightest paths (mean ratio {ratio[beta]:.3f}).")
    require(ratio[beta] < max(ratio.values()), f"β = {float(beta):g} has the *largest* mean path ratio of "
                                               "your VAEs: the roughest path, not the smoothest")
    raise Incorrect(f"another VAE has a smaller mean path ratio than β = {float(beta):g} over the pairs "
                    f"(0, 1), (2, 3), … of the first {2 * n_pairs} validation images")


# Chapter 08 ---------------------------------------------------------------------------------------
@torch.no_grad()
def token_rmse(model, images: torch.Tensor) -> float:
    """Valid RMSE of the images decoded from their most likely tokens (argmax of the logits)."""
    with eval_mode(model):
        recon = model.decode_indices(model.encode(images).argmax(-1))
    return (recon - images).square().mean().sqrt().item()


def _as_schedule(value, name: str) -> tuple[float, float]:
    require(not isinstance(value, (str, bytes)),
            f"{name} should be a (start, end) pair of numbers, got the text {value!r}")
    require(isinstance(value, (tuple, list)) and len(value) == 2,
            f"{name} should be a (start, end) pair of numbers, got {value!r}")
    return as_number(value[0], f"{name}[0]"), as_number(value[1], f"{name}[1]")


def check_best_schedule(best_schedule, by_schedule: dict, images: torch.Tensor, min_schedules: int = 4) -> None:
    """The (start, end) temperature schedule whose discrete VAE has the lowest token RMSE on ``images``."""
    by_schedule = _models_by_key(by_schedule, "by_schedule", "DiscreteVAE", min_schedules)
    schedules = {}
    for key, model in by_schedule.items():
        start, end = _as_schedule(key, f"the key {key!r} of by_schedule")
        tau = float(getattr(model, "temperature", float("nan")))
        # `train` sets the temperature at the start of each epoch: it ends at `end` (at `start` after 1 epoch).
        require(any(math.isclose(tau, t, abs_tol=1e-6) for t in (start, end)),
                f"the model stored under {key!r} ended training at τ = {tau:.3g}, not at {end:g}: pass "
                f"start and end to temperature_annealing(n_epochs, start=…, end=…), and train each model "
                f"only once (re-run its cell from the model's creation)")
        schedules[(start, end)] = key
    picked = _as_schedule(best_schedule, "best_schedule")
    key = next((k for s, k in schedules.items()
                if all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(s, picked))), None)
    require(key is not None, f"best_schedule = {tuple(picked)} is not one of the schedules in by_schedule")
    rmse = {k: token_rmse(m, images) for k, m in by_schedule.items()}
    best = min(rmse.values())
    if rmse[key] <= best * (1 + 1e-3):  # a tie within 0.1 % counts as best too
        return correct(f"τ from {picked[0]:g} to {picked[1]:g}: token RMSE {rmse[key]:.4f}, the lowest of "
                       f"your {len(rmse)} schedules.")
    require(rmse[key] < max(rmse.values()), f"the schedule {tuple(picked)} has the *highest* token RMSE of your "
                                            "models: pick the lowest")
    with own_random_state():
        sampled = {}
        for k, m in by_schedule.items():
            with eval_mode(m), torch.no_grad():
                sampled[k] = (m(images).output - images).square().mean().sqrt().item()
    require(min(sampled, key=sampled.get) != key,
            "you ranked the models by reconstructions from Gumbel samples; rank them by the images decoded "
            "from the argmax tokens, the way the tokenizer is used")
    raise Incorrect(f"another schedule of by_schedule decodes its argmax tokens with a lower RMSE than "
                    f"{tuple(picked)}")


@torch.no_grad()
def _usage(model, images: torch.Tensor) -> torch.Tensor:
    """Frequencies (codes, K) of each token position's argmax category over ``images``."""
    with eval_mode(model):
        tokens = model.encode(images).argmax(-1)                       # (N, codes)
    return F.one_hot(tokens, model.n_codes).float().mean(0)           # (codes, K)


@torch.no_grad()
def usage_perplexity_variants(model, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The usage perplexity per token position, and what the likely mistakes compute instead."""
    p = _usage(model, images)
    entropy = -torch.xlogy(p, p).sum(-1)                                # nats; 0·log 0 = 0
    with eval_mode(model):
        log_q = F.log_softmax(model.encode(images).float(), -1)        # (N, codes, K)
    q_entropy = -(log_q.exp() * log_q).sum(-1)                          # (N, codes)
    return {
        "right": entropy.exp(),
        "you returned the entropy: exponentiate it (perplexity = exp(entropy))": entropy,
        "you mixed log bases: exp of an entropy in nats, or 2 ** of one in bits, not one with the other":
            entropy.exp() ** (1 / math.log(2)),
        "you mixed log bases (2 ** of an entropy in nats)": 2 ** entropy,
        "you counted the categories used at least once: perplexity weighs them by how often they occur":
            (p > 0).float().sum(-1),
        "you measured how unsure the encoder is about each image (the entropy of its softmax): first count "
        "each position's argmax tokens over the images, then take the entropy of those frequencies":
            q_entropy.mean(0).exp(),
        "you averaged exp(entropy of each image's softmax): take the entropy of the argmax tokens' "
        "frequencies over the images instead": q_entropy.exp().mean(0),
    }


def check_usage_perplexity(fn, model, images: torch.Tensor) -> None:
    """``fn(model, images)`` -> (coding_length,): exp(entropy) of each position's argmax-token frequencies."""
    require(callable(fn), f"usage_perplexity should be a function, got {type(fn).__name__}")
    with own_random_state(), eval_mode(model):
        raw = fn(model, images)
    if isinstance(raw, torch.Tensor) and raw.is_floating_point() and not bool(torch.isfinite(raw).all()):
        raise Incorrect("your perplexity contains NaN: a category no image uses has frequency 0, and "
                        "0 · log 0 must count as 0 (use torch.xlogy(p, p), or drop the zeros)")
    got = as_tensor(raw, "usage_perplexity(model, images)", (model.coding_length,))
    # the model may sit on a GPU; the answer was moved to the CPU by as_tensor
    variants = {k: v.detach().cpu().float() for k, v in usage_perplexity_variants(model, images).items()}
    want = variants.pop("right")
    if torch.allclose(got, want, rtol=1e-4, atol=1e-5):
        return correct(f"on average {want.mean():.2f} of the {model.n_codes} categories are in use per position.")
    matched = [hint for hint, value in variants.items() if torch.allclose(got, value, rtol=1e-4, atol=1e-5)]
    raise Incorrect(matched[0] if matched else
                    "differs from exp(entropy) of each position's argmax-token frequencies over the images: "
                    "count how often each of the 16 categories is the argmax at each of the 32 positions, "
                    "divide by the number of images, take the entropy in nats, then exp")


# Concept questions ---------------------------------------------------------------------------------
QUESTIONS["07-a"] = Choice(right="a", why={
    "a": "Yes: Σ over 784 pixels = 784 × the per-pixel MSE, so their loss is 784·MSE + KL/784 = 784·(MSE + KL/784²): the chapter's loss with β = 1/784 ≈ 0.0013, a decoder assuming σ² = β/2 ≈ 0.0006. A dimension then pays for itself if it lowers the MSE by more than KL/784², so far more dimensions stay active.",
    "b": 'No: only the reconstruction term is multiplied by 784, not the KL term, so the balance between them changes: it is the same as dividing β by 784.',
    "c": 'No: a larger reconstruction term makes the KL term weigh *less* in comparison (β = 1/784), so fewer dimensions are switched off, not more. β = 10 weighs the KL term more.',
    "d": 'No: the KL term is still in the loss, with weight 1/784 relative to the MSE: small, but a dimension that does not lower the reconstruction error still costs KL, so it still has a reason to sit at the prior.',
})
QUESTIONS["07-b"] = Choice(right="c", why={
    "a": "No: the encoder's means are not random; they are the same every time for the same image. Only z adds the noise σ·ε.",
    "b": 'No: the decoder plays no part in this count: only the codes are measured.',
    "c": 'Yes: an inactive dimension has q(z_j|x) = N(0, 1), so its sampled z_j varies with variance about 1 from the noise ε alone, far above 0.01. Only the means μ_j(x) tell what the image changes.',
    "d": 'No: 0.01 is not the problem; any threshold below 1 counts the noise of the inactive dimensions as activity, since their sampled z_j has variance about 1.',
})
QUESTIONS["07-c"] = Choice(right="d", why={
    "a": "No: β = 0.1 reconstructs better (valid RMSE 0.111 against 0.147): its decoder draws well wherever codes of real images lie. The problem is where the prior's codes land, which more training does not move.",
    "b": 'No: the mean of n codes drawn from N(0, I) is drawn from N(0, I/n), a code near the origin: the samples all crowd the centre and look alike, and nothing says that the β = 0.1 VAE encoded images there.',
    "c": "No: β is a weight in the training loss only; sampling decodes z ~ N(0, I) and never uses β. The trained encoder's codes stay where the β = 0.1 training put them.",
    "d": 'Yes: the holes come from the prior, not the decoder. A Gaussian fitted to the μ(x) of the training images (their mean and covariance) puts its mass where images were encoded, so the decoder gets codes like those it learned from; fitting a density to the codes after training is a known fix for a weakly regularised autoencoder.',
})
QUESTIONS["08-a"] = Choice(right="c", why={
    "a": 'No: with hard=True the forward pass already gets exact one-hots at every temperature; blurred mixtures are what hard=False sends.',
    "b": 'No: argmax((ℓ + g) / τ) = argmax(ℓ + g) for any τ > 0, so the same noise g picks the same category: the draws follow softmax(ℓ) at every τ.',
    "c": 'Yes: the forward pass sends the same one-hot (the argmax does not depend on τ); only the soft sample softmax((ℓ + g) / τ), whose gradient flows backwards, gets sharper.',
    "d": 'No: the KL term is computed from the logits ℓ alone; τ does not enter it.',
})
QUESTIONS["08-b"] = Choice(right="b", why={
    "a": 'No: KL = 0 is the encoder that outputs the uniform distribution for every code, the opposite case; the prior is uniform over the 16 categories, not a one-hot.',
    "b": 'Yes: a one-hot q has Σ q (log q + log K) = log 16 per code, and 32 codes give 32 · log 16 ≈ 88.7 nats per image, the most this KL can be.',
    "c": 'No: with log_softmax, q · log q is 1 · 0 for the chosen category and tends to 0 for the others (0 · log 0 = 0): the KL stays finite.',
    "d": 'No: 88.7 / 784 ≈ 0.113 is what the loss adds per pixel (KL / 784), not the KL per image.',
})
QUESTIONS["08-c"] = Choice(right="b", why={
    "a": 'No: right frequencies per position are not right codes: drawing positions independently ignores which tokens go together in one image, so many drawn codes are still combinations the encoder never makes.',
    "b": "Yes: matching each position's frequencies stops rare categories from being drawn as often as common ones, but the positions are still drawn independently, so tokens that never occur together in one image still meet. A prior over whole token sequences (DALL·E's transformer, VQ-VAE-2's PixelCNN) fixes that.",
    "c": 'No: the decoder does get one-hots either way, but *which* one-hots matters: a code made of tokens the encoder uses often, together, decodes to a garment; a code of rare tokens decodes to what the decoder never learned.',
    "d": "No: drawing from the frequencies makes common categories likelier, not certain: unless a position uses a single category (perplexity 1), several keep being drawn there and the samples still vary.",
})

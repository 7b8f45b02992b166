"""The chapter 07 and 08 checkers: right answers pass (float64 too), each plausible mistake gets the hint
that names it, text gets a clear message, and the learner's random state and model modes are left alone."""
from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchmetrics

from dl101 import checks
from dl101.checks import QUESTIONS, check_choice
from dl101.data import autoencoder_batches
from dl101.exercises import Incorrect
from dl101.training import train
from dl101.vae import (VAE, DiscreteVAE, active_dimensions, discrete_vae_loss, reparameterize,
                       temperature_annealing, vae_loss)

GRID = (1, 2, 4, 8, 16)


@pytest.fixture(scope="module")
def sweep(fashion):
    """One VAE per β of the exercise's grid, trained 1 epoch on 2,000 real images (the smoke setting)."""
    models = {}
    for b in GRID:
        torch.manual_seed(42)
        model = VAE(codings_dim=32)
        train(model, torch.optim.NAdam(model.parameters(), lr=1e-3), partial(vae_loss, kl_weight=b),
              torchmetrics.MeanSquaredError(squared=False),
              autoencoder_batches(fashion.train_x, batch_size=32, shuffle=True), None, 1, verbose=False)
        models[b] = model
    return models


@pytest.fixture(scope="module")
def by_schedule(fashion):
    """Discrete VAEs trained 2 epochs (the smoke setting) under four temperature schedules."""
    models = {}
    for start, end in ((1.0, 0.1), (0.1, 0.1), (1.0, 1.0), (2.0, 0.5)):
        torch.manual_seed(42)
        model = DiscreteVAE()
        train(model, torch.optim.NAdam(model.parameters(), lr=1e-3), discrete_vae_loss,
              torchmetrics.MeanSquaredError(squared=False),
              autoencoder_batches(fashion.train_x, batch_size=32, shuffle=True), None, 2, verbose=False,
              epoch_callback=temperature_annealing(2, start=start, end=end))
        models[(start, end)] = model
    return models


def _unchanged(check, *models):
    """Run ``check`` and assert that it left the random state and every model's mode as they were."""
    for m in models:
        m.train()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    try:
        check()
    finally:
        assert torch.equal(torch.get_rng_state(), state)
        assert all(m.training for m in models)


# Chapter 07 ---------------------------------------------------------------------------------------
def test_beta_sweep_takes_the_first_beta_below_5_and_names_each_mistake(sweep, fashion):
    x = fashion.valid_x
    active = {b: active_dimensions(m, x) for b, m in sweep.items()}
    below = [b for b in GRID if active[b] < 5]
    above = [b for b in GRID if active[b] >= 5]
    assert below and above, active  # the smoke setting crosses 5 inside the grid
    _unchanged(lambda: checks.check_beta_sweep(below[0], sweep, x), *sweep.values())
    checks.check_beta_sweep(np.float64(below[0]), sweep, x)
    checks.check_beta_sweep(torch.tensor(float(below[0]), dtype=torch.float64), sweep, x)
    with pytest.raises(Incorrect, match="5 or more"):
        checks.check_beta_sweep(above[-1], sweep, x)           # the last β still at 5 or more
    if len(below) > 1:
        with pytest.raises(Incorrect, match="smaller β"):
            checks.check_beta_sweep(below[-1], sweep, x)       # below 5, but not the first
    with pytest.raises(Incorrect, match="same model object"):
        checks.check_beta_sweep(below[0], {b: sweep[1] for b in GRID}, x)
    with pytest.raises(Incorrect, match="no model for β = 16"):
        checks.check_beta_sweep(below[0], dict(zip((1, 2, 4, 8, 32), sweep.values())), x)
    with pytest.raises(Incorrect, match="not one of the β"):
        checks.check_beta_sweep(3, sweep, x)
    with pytest.raises(Incorrect, match="got the text"):
        checks.check_beta_sweep(str(below[0]), sweep, x)
    with pytest.raises(Incorrect, match="keys of sweep should be the β values"):
        checks.check_beta_sweep(below[0], {f"β={b}": m for b, m in sweep.items()}, x)


def test_sweep_trained_sees_models_not_trained_with_their_own_beta(sweep, fashion):
    checks.check_sweep_trained(sweep, fashion.valid_x)
    swapped = dict(zip(GRID, reversed(list(sweep.values()))))  # β = 1's model filed under 16, ...
    with pytest.raises(Incorrect, match="KL per image does not fall"):
        checks.check_sweep_trained(swapped, fashion.valid_x)


def _path_ratio(model, x_a, x_b, n_steps=9, sample=False, extra=0, denominator="frames"):
    with torch.no_grad():
        mean, logvar = model.encode(torch.stack([x_a, x_b]))
        z = reparameterize(mean, logvar) if sample else mean
        t = torch.linspace(0, 1, n_steps + extra)[:, None]
        frames = model.decode((1 - t) * z[0] + t * z[1]).flatten(1)
        length = (frames[1:] - frames[:-1]).square().mean(1).sqrt().sum()
        if denominator == "none":
            return length.item()
        ends = (x_b - x_a) if denominator == "images" else (frames[-1] - frames[0])
        return (length / ends.square().mean().sqrt()).item()


def test_path_ratio_accepts_the_ratio_and_names_each_mistake(sweep, fashion):
    x, model = fashion.valid_x, sweep[1]
    _unchanged(lambda: checks.check_path_ratio(_path_ratio, model, x), model)
    checks.check_path_ratio(lambda *a: torch.tensor(_path_ratio(*a), dtype=torch.float64), model, x, n_steps=5)
    for wrong, hint in [(partial(_path_ratio, denominator="none"), "path's length"),
                        (partial(_path_ratio, denominator="images"), "decoded"),
                        (partial(_path_ratio, extra=1), "n_steps frames"),
                        (partial(_path_ratio, sample=True), "code \\*means\\*")]:
        with pytest.raises(Incorrect, match=hint):
            checks.check_path_ratio(wrong, model, x)
    with pytest.raises(Incorrect, match="got the text"):
        checks.check_path_ratio(lambda *a: "1.05", model, x)
    # The learner's own sampling stayed private: the random state is the same after a sampling answer.
    state = torch.get_rng_state()
    with pytest.raises(Incorrect):
        checks.check_path_ratio(partial(_path_ratio, sample=True), model, x)
    assert torch.equal(torch.get_rng_state(), state)


def test_smoothest_beta_is_the_smallest_mean_ratio(sweep, fashion):
    x = fashion.valid_x
    vaes = {b: sweep[b] for b in (1, 2, 16)}
    mean = {b: sum(_path_ratio(m, x[2 * k], x[2 * k + 1]) for k in range(20)) / 20 for b, m in vaes.items()}
    ranked = sorted(mean, key=mean.get)
    assert mean[ranked[1]] > mean[ranked[0]] * 1.001  # the test needs a clear winner
    _unchanged(lambda: checks.check_smoothest_beta(ranked[0], vaes, x), *vaes.values())
    checks.check_smoothest_beta(float(ranked[0]), vaes, x)
    with pytest.raises(Incorrect, match="largest"):
        checks.check_smoothest_beta(ranked[-1], vaes, x)
    with pytest.raises(Incorrect, match="another VAE"):
        checks.check_smoothest_beta(ranked[1], vaes, x)


def test_sampled_codes_make_every_dimension_look_active(sweep, fashion):
    """Question 07-b's claim: the variance of sampled z passes 0.01 in all 32 dimensions at a large β."""
    model = sweep[16]
    torch.manual_seed(0)
    with torch.no_grad():
        z = reparameterize(*model.encode(fashion.valid_x))
    assert active_dimensions(model, fashion.valid_x) < 5
    assert int((z.var(dim=0) > 0.01).sum()) == 32


# Chapter 08 ---------------------------------------------------------------------------------------
def _token_rmse(model, x):
    with torch.no_grad():
        recon = model.decode_indices(model.encode(x).argmax(-1))
    return (recon - x).square().mean().sqrt().item()


def test_best_schedule_is_the_lowest_token_rmse_and_names_each_mistake(by_schedule, fashion):
    x = fashion.valid_x
    rmse = {s: _token_rmse(m, x) for s, m in by_schedule.items()}
    ranked = sorted(rmse, key=rmse.get)
    assert rmse[ranked[1]] > rmse[ranked[0]] * 1.001  # the test needs a clear winner
    _unchanged(lambda: checks.check_best_schedule(ranked[0], by_schedule, x), *by_schedule.values())
    checks.check_best_schedule([np.float64(v) for v in ranked[0]], by_schedule, x)
    with pytest.raises(Incorrect, match="highest"):
        checks.check_best_schedule(ranked[-1], by_schedule, x)
    with pytest.raises(Incorrect, match="same model object"):
        checks.check_best_schedule(ranked[0], dict.fromkeys(by_schedule, by_schedule[(1.0, 0.1)]), x)
    relabelled = dict(zip([(1.0, 0.1), (0.1, 0.1), (1.0, 1.0), (2.0, 0.7)], by_schedule.values()))
    with pytest.raises(Incorrect, match="start and end"):  # trained 2 → 0.5 but filed under 2 → 0.7
        checks.check_best_schedule((1.0, 0.1), relabelled, x)
    with pytest.raises(Incorrect, match="not one of the schedules"):
        checks.check_best_schedule((3.0, 0.1), by_schedule, x)
    with pytest.raises(Incorrect, match="got the text"):
        checks.check_best_schedule("(1.0, 0.1)", by_schedule, x)
    with pytest.raises(Incorrect, match="at least 4"):
        checks.check_best_schedule(ranked[0], {ranked[0]: by_schedule[ranked[0]]}, x)


def _usage(model, x, mistake=None):
    with torch.no_grad():
        logits = model.encode(x)
    freq = F.one_hot(logits.argmax(-1), model.n_codes).float().mean(0)
    if mistake == "nan":
        return torch.exp(-(freq * freq.log()).sum(-1))
    if mistake == "entropy":
        return -torch.xlogy(freq, freq).sum(-1)
    if mistake == "softmax":
        log_q = F.log_softmax(logits, -1)
        return (-(log_q.exp() * log_q).sum(-1)).mean(0).exp()
    if mistake == "distinct":
        return (freq > 0).float().sum(-1)
    if mistake == "bits":
        return torch.exp(-(freq * torch.log2(freq.clamp_min(1e-30))).sum(-1))
    return torch.exp(-torch.xlogy(freq, freq).sum(-1))


def test_usage_perplexity_accepts_the_perplexity_and_names_each_mistake(by_schedule, fashion):
    model, x = by_schedule[(1.0, 0.1)], fashion.valid_x
    assert (_usage(model, x) < 16).all() and bool((F.one_hot(model.encode(x).argmax(-1), 16).sum(0) == 0).any())
    _unchanged(lambda: checks.check_usage_perplexity(_usage, model, x), model)
    checks.check_usage_perplexity(lambda m, i: _usage(m, i).double(), model, x)
    for mistake, hint in [("nan", "0 · log 0"), ("entropy", "exponentiate"), ("softmax", "unsure"),
                          ("distinct", "at least once"), ("bits", "log bases")]:
        with pytest.raises(Incorrect, match=hint):
            checks.check_usage_perplexity(partial(_usage, mistake=mistake), model, x)
    with pytest.raises(Incorrect, match=r"shaped \(32,\)"):
        checks.check_usage_perplexity(lambda m, i: _usage(m, i)[:16], model, x)
    with pytest.raises(Incorrect, match="torch.Tensor, got str"):
        checks.check_usage_perplexity(lambda m, i: "about 5", model, x)


# Concept questions --------------------------------------------------------------------------------
@pytest.mark.parametrize("question", [q for q in QUESTIONS if q[:2] in ("07", "08")])
def test_every_option_of_the_vae_questions_explains_itself(question):
    choice = QUESTIONS[question]
    check_choice(question, choice.right)
    check_choice(question, f"({choice.right.upper()})")
    for letter, why in choice.why.items():
        if letter != choice.right:
            with pytest.raises(Incorrect) as caught:
                check_choice(question, letter)
            assert str(caught.value) == why and why.startswith("No:")
    assert choice.why[choice.right].startswith("Yes:")


def test_question_08_b_maximum_kl_is_32_log_16():
    from dl101.vae import categorical_kl_to_uniform

    confident = torch.full((1, 32, 16), -1e4)
    confident[..., 0] = 1e4
    assert math.isclose(categorical_kl_to_uniform(confident).item(), 32 * math.log(16), rel_tol=1e-6)
    assert round(32 * math.log(16), 1) == 88.7 and round(32 * math.log(16) / 784, 3) == 0.113


def test_question_08_a_temperature_leaves_the_hard_sample_unchanged():
    from dl101.vae import gumbel_softmax

    logits = torch.randn(64, 32, 16)
    draws = []
    for tau in (1.0, 0.1):
        torch.manual_seed(0)
        draws.append(gumbel_softmax(logits, tau=tau, hard=True))
    assert torch.allclose(draws[0], draws[1], atol=1e-6)

"""The checkers of chapters 04-06: right answers pass, plausible mistakes fail with a hint naming them,
float64 answers pass, text gets a clear message, and the learner's random state and model modes stay."""
from __future__ import annotations

import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dl101 import checks
from dl101.autoencoders import (AEOutput, GaussianNoise, RecurrentAutoencoder, denoising_autoencoder,
                                encode_all, sparse_autoencoder)
from dl101.checks._base import QUESTIONS
from dl101.exercises import Incorrect


def _fit(model: nn.Module, x: torch.Tensor, steps: int, lr: float = 3e-3, loss_fn=None, seed: int = 0) -> nn.Module:
    """A few Adam steps: enough for a model to beat its untrained self."""
    loss_fn = loss_fn or (lambda out, b: F.mse_loss(out.output, b))
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        b = x[torch.randint(len(x), (64,), generator=g)]
        loss = loss_fn(model(b), b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _rmse(model, x):
    with torch.no_grad():
        return (model(x).output - x).square().mean().sqrt().item()


# Chapter 04 ---------------------------------------------------------------------------------------
class ColumnReader(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, X):
        out = self.inner(X.transpose(2, 3))
        return AEOutput(out.output.transpose(2, 3).contiguous(), out.codings)


class StaysTransposed(ColumnReader):
    def forward(self, X):
        return self.inner(X.transpose(2, 3))


@pytest.fixture(scope="module")
def rnn_models(fashion):
    torch.manual_seed(1)
    column = _fit(ColumnReader(RecurrentAutoencoder()), fashion.train_x, 25)
    torch.manual_seed(2)
    row = _fit(RecurrentAutoencoder(), fashion.train_x, 25)
    return column, row


def test_rows_or_columns_right_answer_passes_also_as_float64(rnn_models, fashion):
    column, row = rnn_models
    v = fashion.valid_x[:256]
    rmse = _rmse(column, v)
    better = "rows" if _rmse(row, v) < rmse else "columns"
    checks.check_rows_or_columns(column, rmse, better, row, v)
    checks.check_rows_or_columns(column, torch.tensor(rmse, dtype=torch.float64), better, row, v)
    checks.check_column_reader(column, fashion.train_x[:256])


def test_rows_or_columns_names_the_mistake(rnn_models, fashion):
    column, row = rnn_models
    v = fashion.valid_x[:256]
    rmse = _rmse(column, v)
    better = "rows" if _rmse(row, v) < rmse else "columns"
    other = "columns" if better == "rows" else "rows"
    if abs(_rmse(row, v) - rmse) > 0.01 * rmse:   # a clear winner, so the other answer is wrong
        with pytest.raises(Incorrect, match="lower error"):
            checks.check_rows_or_columns(column, rmse, other, row, v)
    with pytest.raises(Incorrect, match="square root"):
        checks.check_rows_or_columns(column, rmse ** 2, better, row, v)
    with pytest.raises(Incorrect, match="remove the quotes"):
        checks.check_rows_or_columns(column, str(rmse), better, row, v)
    with pytest.raises(Incorrect, match='"rows" or "columns"'):
        checks.check_rows_or_columns(column, rmse, "row", row, v)
    with pytest.raises(Incorrect, match="still reads rows"):
        checks.check_rows_or_columns(row, _rmse(row, v), "rows", row, v)
    with pytest.raises(Incorrect, match="comes back transposed"):
        checks.check_column_reader(StaysTransposed(column.inner), v)
    with pytest.raises(Incorrect, match="reuses the row model"):
        checks.check_rows_or_columns(ColumnReader(row), _rmse(ColumnReader(row), v), better, row, v)
    with torch.no_grad():
        unturned = (column.inner(v.transpose(2, 3)).output - v).square().mean().sqrt().item()
    with pytest.raises(Incorrect, match="transpose the reconstruction back"):
        checks.check_rows_or_columns(column, unturned, better, row, v)
    torch.manual_seed(3)
    with pytest.raises(Incorrect, match="untrained"):
        checks.check_column_reader(ColumnReader(RecurrentAutoencoder()), v)


def _timer(warm_up=True, backward=True, per_step=True, n_steps=10):
    def seconds_per_step(model, images):
        def step():
            out = model(images).output
            if backward:
                model.zero_grad()
                F.mse_loss(out, images).backward()
        if warm_up:
            step()
        start = time.perf_counter()
        for _ in range(n_steps):
            step()
        total = time.perf_counter() - start
        return total / n_steps if per_step else total
    return seconds_per_step


def test_step_timer_passes_a_careful_timer_and_names_each_shortcut():
    checks.check_step_timer(_timer())
    checks.check_step_timer(lambda m, x: torch.tensor(_timer()(m, x), dtype=torch.float64))
    with pytest.raises(Incorrect, match="first call"):
        checks.check_step_timer(_timer(warm_up=False))
    with pytest.raises(Incorrect, match="forward pass"):
        checks.check_step_timer(_timer(backward=False))
    with pytest.raises(Incorrect, match="divide by the number of steps"):
        checks.check_step_timer(_timer(per_step=False))
    with pytest.raises(Incorrect, match="several steps"):
        checks.check_step_timer(_timer(n_steps=1))
    with pytest.raises(Incorrect, match="remove the quotes"):
        checks.check_step_timer(lambda m, x: "0.01")
    with pytest.raises(Incorrect, match="function"):
        checks.check_step_timer(0.01)


# Chapter 05 ---------------------------------------------------------------------------------------
class SaltAndPepper(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, X):
        if not self.training:
            return X
        hit = torch.rand_like(X) < self.p
        return torch.where(hit, (torch.rand_like(X) < 0.5).to(X.dtype), X)


class SharedMask(SaltAndPepper):
    def forward(self, X):
        if not self.training:
            return X
        hit = torch.rand_like(X[:1]) < self.p   # one mask for the whole batch
        return torch.where(hit, (torch.rand_like(X[:1]) < 0.5).to(X.dtype), X)


class InPlace(SaltAndPepper):
    def forward(self, X):
        if self.training:
            hit = torch.rand_like(X) < self.p
            X[hit] = (torch.rand_like(X) < 0.5).to(X.dtype)[hit]
        return X


class OnlySalt(SaltAndPepper):
    def forward(self, X):
        return torch.where(torch.rand_like(X) < self.p, torch.ones_like(X), X) if self.training else X


class FixedRate(SaltAndPepper):
    def forward(self, X):
        if not self.training:
            return X
        return torch.where(torch.rand_like(X) < 0.2, (torch.rand_like(X) < 0.5).to(X.dtype), X)


class AlwaysOn(SaltAndPepper):
    def forward(self, X):
        return torch.where(torch.rand_like(X) < self.p, (torch.rand_like(X) < 0.5).to(X.dtype), X)


class Float32Out(SaltAndPepper):
    def forward(self, X):
        return super().forward(X).float()


def test_salt_and_pepper_passes_independent_noise_and_names_each_mistake():
    checks.check_salt_and_pepper(SaltAndPepper)
    checks.check_salt_and_pepper(SaltAndPepper, p=0.05)
    for layer, hint in ((SharedMask, "same noise mask"), (InPlace, "in place"), (OnlySalt, "equally"),
                        (FixedRate, "p=0.5"), (AlwaysOn, "eval mode"), (Float32Out, "dtype"),
                        (SaltAndPepper(0.2), "class itself")):
        with pytest.raises(Incorrect, match=hint):
            checks.check_salt_and_pepper(layer)


@pytest.fixture(scope="module")
def denoisers(fashion):
    out = {}
    for name, corruption in (("clean", nn.Identity()), ("gaussian", GaussianNoise(0.5))):
        torch.manual_seed(0)
        out[name] = _fit(denoising_autoencoder(corruption), fashion.train_x, 60, lr=1e-2)
    return out


def _noisy(clean, std=0.5, seed=0):
    return clean + std * torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))


def right_denoising_rmse(model, clean, noisy):
    from dl101.modes import eval_mode

    with torch.no_grad(), eval_mode(model):
        return (model(noisy).output - clean).square().mean().sqrt().item()


def test_denoising_rmse_right_answer_passes_as_number_function_and_float64(denoisers, fashion):
    model, clean = denoisers["gaussian"], fashion.valid_x[:64]
    noisy = _noisy(clean)
    checks.check_denoising_rmse(right_denoising_rmse, model, clean, noisy)
    value = right_denoising_rmse(model, clean, noisy)
    checks.check_denoising_rmse(torch.tensor(value, dtype=torch.float64), model, clean, noisy)
    model.train()
    checks.check_denoising_rmse(right_denoising_rmse, model, clean, noisy)
    assert model.training
    model.eval()
    checks.check_best_denoiser(min(denoisers, key=lambda k: right_denoising_rmse(denoisers[k], clean, noisy)),
                               denoisers, clean, noisy)


def test_denoising_rmse_names_the_mistake(denoisers, fashion):
    model, clean = denoisers["gaussian"], fashion.valid_x[:64]
    noisy = _noisy(clean)

    def fed_clean(m, c, n):
        return right_denoising_rmse(m, c, c)

    def against_noisy(m, c, n):
        return right_denoising_rmse(m, n, n)

    def training_mode(m, c, n):
        was_training = m.training
        with torch.no_grad():
            m.train()
            value = (m(n).output - c).square().mean().sqrt().item()
            m.train(was_training)
            return value

    def leaves_eval(m, c, n):
        m.eval()
        return right_denoising_rmse(m, c, n)

    for fn, hint in ((fed_clean, "fed the CLEAN images"), (against_noisy, "compared the reconstructions with the NOISY"),
                     (training_mode, "different RMSE at every call"), (lambda m, c, n: right_denoising_rmse(m, c, n) ** 2, "square root"),
                     (lambda m, c, n: (n - c).square().mean().sqrt(), "run the model on the noisy images"),
                     (lambda m, c, n: "0.2", "remove the quotes")):
        with pytest.raises(Incorrect, match=hint):
            checks.check_denoising_rmse(fn, model, clean, noisy)
    with pytest.raises(Incorrect, match="training mode"):
        checks.check_denoising_rmse(training_mode(model, clean, noisy), model, clean, noisy)
    model.train()
    with pytest.raises(Incorrect, match="left the model in eval mode"):
        checks.check_denoising_rmse(leaves_eval, model, clean, noisy)
    assert model.training
    model.eval()
    scores = {k: right_denoising_rmse(m, clean, noisy) for k, m in denoisers.items()}
    worst = max(scores, key=scores.get)
    assert scores[worst] > 1.01 * min(scores.values())
    with pytest.raises(Incorrect, match="not the lowest"):
        checks.check_best_denoiser(worst, denoisers, clean, noisy)
    with pytest.raises(Incorrect, match="one of the names"):
        checks.check_best_denoiser("Gaussian", denoisers, clean, noisy)


def test_denoising_rmse_accepts_identical_clean_and_noisy_images(denoisers, fashion):
    # when there is no noise, feeding the clean images is no mistake
    clean = fashion.valid_x[:16]
    checks.check_denoising_rmse(right_denoising_rmse, denoisers["gaussian"], clean, clean.clone())


# Chapter 06 ---------------------------------------------------------------------------------------
def _l1_loss(weight):
    return lambda out, b: F.mse_loss(out.output, b) + weight * out.codings.abs().mean()


@pytest.fixture(scope="module")
def sparse_models(fashion):
    out = {}
    for weight in (0.0, 0.1, 3.0):
        torch.manual_seed(0)
        out[weight] = _fit(sparse_autoencoder(), fashion.train_x, 150, lr=2e-3, loss_fn=_l1_loss(weight))
    return out


def test_sparsity_tradeoff(sparse_models, fashion):
    v = fashion.valid_x
    plain, good, crushed = sparse_models[0.0], sparse_models[0.1], sparse_models[3.0]
    checks.check_sparsity_tradeoff(0.1, good, plain, v)
    checks.check_sparsity_tradeoff(torch.tensor(0.1, dtype=torch.float64), good, plain, v)
    with pytest.raises(Incorrect, match="smaller weight"):
        checks.check_sparsity_tradeoff(3.0, crushed, plain, v)
    with pytest.raises(Incorrect, match="larger weight"):
        checks.check_sparsity_tradeoff(0.1, good, plain, v, max_mean=0.001)
    with pytest.raises(Incorrect, match="already sparse"):
        checks.check_sparsity_tradeoff(0.1, crushed, good, v)
    with pytest.raises(Incorrect, match="same model"):
        checks.check_sparsity_tradeoff(0.1, good, good, v)
    with pytest.raises(Incorrect, match="remove the quotes"):
        checks.check_sparsity_tradeoff("0.1", good, plain, v)


def right_unit(codings, labels, cls):
    return codings[labels == cls].mean(0).argmax().item()


def test_most_active_unit(sparse_models, fashion):
    model, x, y = sparse_models[0.0], fashion.valid_x, fashion.valid_y
    checks.check_most_active_unit(right_unit, model, x, y, 1)
    checks.check_most_active_unit(right_unit, model, x, y, 7)
    codings = encode_all(model, x)
    checks.check_most_active_unit(torch.tensor(right_unit(codings, y, 1)), model, x, y, 1)
    checks.check_most_active_unit(float(right_unit(codings, y, 1)), model, x, y, 1)
    wrong = {
        "ALL images": lambda c, l, k: c.mean(0).argmax().item(),
        "largest single activation": lambda c, l, k: c[l == k].max(0).values.argmax().item(),
        "argmin": lambda c, l, k: c[l == k].mean(0).argmin().item(),
    }
    for hint, fn in wrong.items():
        # the made-up codings catch every mistake, even where it picks the right unit on the real ones
        with pytest.raises(Incorrect, match=hint):
            checks.check_most_active_unit(fn, model, x, y, 1)
        classes = [k for k in range(10) if fn(codings, y, k) != right_unit(codings, y, k)]
        if classes:
            with pytest.raises(Incorrect, match=hint):
                checks.check_most_active_unit(fn(codings, y, classes[0]), model, x, y, classes[0])
    with pytest.raises(Incorrect, match="made-up codings"):
        checks.check_most_active_unit(lambda c, l, k: 3, model, x, y, 1)
    with pytest.raises(Incorrect, match="whole number"):
        checks.check_most_active_unit(1.5, model, x, y, 1)
    with pytest.raises(Incorrect, match="remove the quotes"):
        checks.check_most_active_unit("12", model, x, y, 1)


# Every chapter --------------------------------------------------------------------------------------
def test_checkers_leave_random_state_and_model_modes_alone(rnn_models, denoisers, sparse_models, fashion):
    column, row = rnn_models
    v = fashion.valid_x[:128]
    models = [column, row, *denoisers.values(), *sparse_models.values()]
    for m in models:
        m.train()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    checks.check_column_reader(column, v)
    rmse = right_denoising_rmse(column, v, v)
    better = "rows" if right_denoising_rmse(row, v, v) < rmse else "columns"
    checks.check_rows_or_columns(column, rmse, better, row, v)
    checks.check_step_timer(_timer())
    checks.check_salt_and_pepper(SaltAndPepper)
    noisy = _noisy(v)
    checks.check_denoising_rmse(right_denoising_rmse, denoisers["gaussian"], v, noisy)
    best = min(denoisers, key=lambda k: right_denoising_rmse(denoisers[k], v, noisy))
    checks.check_best_denoiser(best, denoisers, v, noisy)
    checks.check_sparsity_tradeoff(0.1, sparse_models[0.1], sparse_models[0.0], fashion.valid_x)
    checks.check_most_active_unit(right_unit, sparse_models[0.0], fashion.valid_x, fashion.valid_y, 1)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(m.training for m in models)
    for m in models:
        m.eval()


@pytest.mark.parametrize("question", ["04-a", "04-b", "05-a", "05-b", "05-c", "06-a", "06-b", "06-c"])
def test_concept_questions_explain_every_option(question):
    q = QUESTIONS[question]
    assert set(q.why) == {"a", "b", "c", "d"}
    assert q.why[q.right].startswith("Yes")
    assert all(text.startswith("No") for key, text in q.why.items() if key != q.right)
    checks.check_choice(question, q.right)
    checks.check_choice(question, f"({q.right.upper()})")
    wrong = next(k for k in q.why if k != q.right)
    with pytest.raises(Incorrect, match="No"):
        checks.check_choice(question, wrong)
    with pytest.raises(Incorrect, match="as text"):
        checks.check_choice(question, 2)

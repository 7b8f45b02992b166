"""The checkers of chapters 01-03: right answers pass, plausible wrong ones fail with a hint naming the
mistake, float64 answers work, text gets a clear message, the learner's RNG state and model modes stay."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from dl101 import checks
from dl101.checks import QUESTIONS, check_choice
from dl101.exercises import Incorrect
from dl101.pca import oval_data


@pytest.fixture(scope="module")
def oval():
    return oval_data(60, seed=42)


def _pc1(X: torch.Tensor) -> torch.Tensor:
    centred = X - X.mean(0)
    return torch.linalg.svd(centred, full_matrices=False).Vh[0]


# Chapter 01 ---------------------------------------------------------------------------------------
def test_explained_variance_right_and_float64(oval):
    s = torch.linalg.svdvals(oval - oval.mean(0))
    checks.check_explained_variance((s[:2] ** 2).sum() / (s ** 2).sum(), oval)
    s64 = torch.linalg.svdvals(oval.double() - oval.double().mean(0))
    checks.check_explained_variance(((s64[:1] ** 2).sum() / (s64 ** 2).sum()).item(), oval.double(), k=1)


@pytest.mark.parametrize("mistake, hint", [
    (lambda X, s, raw: (raw[:2] ** 2).sum() / (raw ** 2).sum(), "did not centre"),
    (lambda X, s, raw: s[:2].sum() / s.sum(), "squares"),
    (lambda X, s, raw: (s[:1] ** 2).sum() / (s ** 2).sum(), "kept 1 component"),
    (lambda X, s, raw: 1 - (s[:2] ** 2).sum() / (s ** 2).sum(), "LEFT OUT"),
])
def test_explained_variance_names_the_mistake(oval, mistake, hint):
    s, raw = torch.linalg.svdvals(oval - oval.mean(0)), torch.linalg.svdvals(oval)
    with pytest.raises(Incorrect, match=hint):
        checks.check_explained_variance(mistake(oval, s, raw), oval)


def test_explained_variance_refuses_text(oval):
    with pytest.raises(Incorrect, match="should be a number, got the text"):
        checks.check_explained_variance("0.93", oval)


def test_first_component_tight_and_detects_uncentred(oval):
    checks.check_first_component(-_pc1(oval), oval)                 # sign does not matter
    checks.check_first_component(_pc1(oval).double().numpy(), oval)  # float64, NumPy
    with pytest.raises(Incorrect, match="UNCENTRED"):               # 3.5° off: the old 5° let it pass
        checks.check_first_component(torch.linalg.svd(oval, full_matrices=False).Vh[0], oval)
    with pytest.raises(Incorrect, match="component 3"):
        checks.check_first_component(torch.linalg.svd(oval - oval.mean(0)).Vh[2], oval)
    tilted = _pc1(oval) + 0.05 * torch.linalg.svd(oval - oval.mean(0)).Vh[1]  # ~2.9° off
    with pytest.raises(Incorrect, match="away from PCA"):
        checks.check_first_component(tilted, oval)
    with pytest.raises(Incorrect, match="got the text"):
        checks.check_first_component("x1", oval)
    with pytest.raises(Incorrect, match="3 numbers"):
        checks.check_first_component(torch.ones(2), oval)


# Chapter 02 ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def detector(fashion):
    from dl101.autoencoders import stacked_autoencoder
    from dl101.data import mnist_test

    torch.manual_seed(0)
    model = stacked_autoencoder()
    with torch.no_grad():  # a crude model whose errors still separate digits from clothes somewhat
        model.decoder[2].bias.copy_(torch.logit(fashion.train_x.mean(0).flatten().clamp(0.01, 0.99)))
    digits, _ = mnist_test(n=300)
    return model, fashion.valid_x, digits


def _errors(model, images):
    from dl101.autoencoders import reconstruction_errors

    return reconstruction_errors(model, images)


def _f1(t, normal, anomalies):
    tp, fp = int((anomalies > t).sum()), int((normal > t).sum())
    return 2 * tp / (2 * tp + fp + len(anomalies) - tp)


def test_f1_threshold_right_float64_and_mode_kept(detector):
    model, clothes, digits = detector
    normal, anomalies = _errors(model, clothes), _errors(model, digits)
    best = max(torch.cat([normal, anomalies]).unique().tolist(), key=lambda t: _f1(t, normal, anomalies))
    model.train()
    model.encoder.eval()  # a mixed state: the checker must give back exactly this
    checks.check_f1_threshold(torch.tensor(best, dtype=torch.float64), model, clothes, digits)
    assert model.training and not model.encoder.training and model.decoder.training


@pytest.mark.parametrize("wrong, hint", [
    (lambda n, a: torch.quantile(n, 0.99), "percentile"),
    (lambda n, a: torch.quantile(n, 0.95), "percentile"),
    (lambda n, a: n.min().item() - 1, "higher threshold"),
])
def test_f1_threshold_names_the_mistake(detector, wrong, hint):
    model, clothes, digits = detector
    with pytest.raises(Incorrect, match=hint):
        checks.check_f1_threshold(wrong(_errors(model, clothes), _errors(model, digits)), model, clothes, digits)


def test_f1_threshold_names_the_roc_corner(detector, fashion):
    model, _, digits = detector
    clothes = fashion.valid_x[:20]  # few clothes per digit: the ROC corner is not F1's best threshold there
    normal, anomalies = _errors(model, clothes), _errors(model, digits)
    corner = max(torch.cat([normal, anomalies]).unique().tolist(),
                 key=lambda t: (anomalies > t).float().mean().item() - (normal > t).float().mean().item())
    with pytest.raises(Incorrect, match="TPR − FPR"):
        checks.check_f1_threshold(corner, model, clothes, digits)


def test_f1_threshold_refuses_text(detector):
    with pytest.raises(Incorrect, match="got the text"):
        checks.check_f1_threshold("0.05", *detector)


def _loo(points, labels, distance=torch.cdist, leave_out=True):
    d = distance(points, points)
    if leave_out:
        d.fill_diagonal_(float("inf"))
    return (labels[d.argmin(1)] == labels).float().mean().item()


def test_code_neighbours(detector, fashion):
    from dl101.autoencoders import encode_all

    model, clothes, _ = detector
    labels, codes = fashion.valid_y, encode_all(model, clothes)
    model.train()
    checks.check_code_neighbours(torch.tensor(_loo(codes.double(), labels)), model, clothes, labels)
    assert model.training
    pixels = clothes.flatten(1)
    checks.check_code_neighbours(_loo(pixels, labels), None, clothes, labels)
    with pytest.raises(Incorrect, match="its own nearest neighbour"):
        checks.check_code_neighbours(_loo(codes, labels, leave_out=False), model, clothes, labels)
    with pytest.raises(Incorrect, match="PIXELS"):
        checks.check_code_neighbours(_loo(pixels, labels), model, clothes, labels)
    cosine = lambda a, b: 1 - torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).T
    with pytest.raises(Incorrect, match="cosine"):
        checks.check_code_neighbours(_loo(pixels, labels, cosine), None, clothes, labels)
    with pytest.raises(Incorrect, match="got the text"):
        checks.check_code_neighbours("80%", model, clothes, labels)


# Chapter 03 ---------------------------------------------------------------------------------------
def test_conv_params_function():
    checks.check_conv_params_function(lambda i, o, k: o * (i * k * k + 1))
    checks.check_conv_params_function(lambda i, o, k: float(o * (i * k * k + 1)))  # 320.0 is a whole number
    for wrong, hint in ((lambda i, o, k: o * i * k * k, "biases"),
                        (lambda i, o, k: o * (k * k + 1), "ALL the input channels"),
                        (lambda i, o, k: o * (i * k + 1), "k²"),
                        (lambda i, o, k: 4640, r"conv_params\(1, 16, 3\)"),  # hard-coded: fails the next case
                        (lambda i, o, k: o * (i * k * k + 1) + 0.5, "whole number"),
                        (lambda i, o, k: "4640", "got the text")):
        with pytest.raises(Incorrect, match=hint):
            checks.check_conv_params_function(wrong)


def _small_conv_ae(final=nn.ConvTranspose2d):
    from dl101.autoencoders import Autoencoder

    encoder = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 16, 3, padding="same"), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    decoder = nn.Sequential(
        nn.Linear(16, 16 * 7 * 7), nn.Unflatten(1, (16, 7, 7)),
        nn.ConvTranspose2d(16, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        final(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())
    return Autoencoder(encoder, decoder)


def test_conv_autoencoder(fashion):
    from dl101.autoencoders import Autoencoder, conv_autoencoder, stacked_autoencoder

    model = _small_conv_ae().train()
    model.encoder[0].eval()  # a mixed state the checker must give back exactly
    checks.check_conv_autoencoder(model, 16, fashion.valid_x, max_parameters=30_000)
    assert model.training and not model.encoder[0].training and model.decoder.training
    checks.check_conv_autoencoder(_small_conv_ae().double(), 16, fashion.valid_x, max_parameters=30_000)
    with pytest.raises(Incorrect, match="dense layer"):   # the dense autoencoder the old check let through
        checks.check_conv_autoencoder(stacked_autoencoder(n_codings=16), 16, fashion.valid_x, 300_000)
    with pytest.raises(Incorrect, match="over the budget"):
        checks.check_conv_autoencoder(conv_autoencoder(16), 16, fashion.valid_x, max_parameters=30_000)
    with pytest.raises(Incorrect, match=r"\(N, 16\)"):
        checks.check_conv_autoencoder(conv_autoencoder(32), 16, fashion.valid_x, max_parameters=60_000)
    dense_out = _small_conv_ae()
    dense_out.decoder[-2] = nn.Sequential(nn.Flatten(), nn.Linear(16 * 14 * 14, 784), nn.Unflatten(1, (1, 28, 28)))
    with pytest.raises(Incorrect, match="last layer with weights"):
        checks.check_conv_autoencoder(dense_out, 16, fashion.valid_x, max_parameters=300_000)
    with pytest.raises(Incorrect, match="Autoencoder"):
        checks.check_conv_autoencoder("conv_ae", 16, fashion.valid_x, max_parameters=30_000)
    no_sigmoid = _small_conv_ae()
    no_sigmoid.decoder[-1] = nn.Identity()
    with torch.no_grad():
        no_sigmoid.decoder[-2].bias.fill_(-1.0)  # outputs certainly below 0
    with pytest.raises(Incorrect, match="Sigmoid"):
        checks.check_conv_autoencoder(no_sigmoid, 16, fashion.valid_x, max_parameters=30_000)


def test_checkers_leave_the_random_state_alone(oval, fashion):
    model = _small_conv_ae()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    checks.check_conv_params_function(lambda i, o, k: sum(p.numel() for p in nn.Conv2d(i, o, k).parameters()))
    checks.check_conv_autoencoder(model, 16, fashion.valid_x, max_parameters=30_000)
    checks.check_first_component(_pc1(oval), oval)
    assert torch.equal(torch.get_rng_state(), state)


# Concept questions --------------------------------------------------------------------------------
@pytest.mark.parametrize("question", ["01-a", "01-b", "01-c", "02-a", "02-b", "02-c", "03-a", "03-b", "03-c"])
def test_questions_explain_every_option(question, capsys):
    q = QUESTIONS[question]
    assert set(q.why) == {"a", "b", "c", "d"} and q.why[q.right].startswith("Yes")
    check_choice(question, q.right.upper())
    assert "Correct" in capsys.readouterr().out
    for letter in set(q.why) - {q.right}:
        assert q.why[letter].startswith("No")
        with pytest.raises(Incorrect, match="No"):
            check_choice(question, f"({letter})")
    with pytest.raises(Incorrect, match="as text"):
        check_choice(question, 2)


def test_the_f1_function_check_needs_no_mnist_and_rejects_percentiles():
    from dl101.checks import check_f1_threshold_function

    def best(normal, anomalies):  # every distinct error as a candidate
        candidates = torch.cat([normal, anomalies]).unique()
        def f1(t):
            tp, fp = int((anomalies > t).sum()), int((normal > t).sum())
            return 2 * tp / (2 * tp + fp + len(anomalies) - tp)
        return max(candidates.tolist(), key=f1)

    state = torch.get_rng_state()
    check_f1_threshold_function(best)
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(Incorrect, match="F1"):
        check_f1_threshold_function(lambda normal, anomalies: torch.quantile(normal, 0.99))
    with pytest.raises(Incorrect, match="should be a function"):
        check_f1_threshold_function(0.5)

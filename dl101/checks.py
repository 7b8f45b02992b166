"""The checkers behind each chapter's exercises: ``check_…(answer, …)`` prints ✔ for a right
answer and raises ``Incorrect`` with a specific hint for a wrong one. They recompute the answer
from references (scikit-learn, torch.distributions, the papers' formulas), never from stored numbers.
"""
from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F

from dl101.exercises import Incorrect, close_enough, correct, require
from dl101.modes import eval_mode


@contextmanager
def _own_random_state(seed: int = 0) -> Iterator[None]:
    """Run a check with a fixed seed, then give the learner's random state back untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _number(value, name: str) -> float:
    if isinstance(value, torch.Tensor):
        require(value.numel() == 1, f"{name} should be one number, got a tensor shaped {tuple(value.shape)}")
        value = value.item()
    try:
        value = float(value)  # also NumPy scalars
    except (TypeError, ValueError):
        raise Incorrect(f"{name} should be a number, got {type(value).__name__}") from None
    require(math.isfinite(value), f"{name} is {value}: check for a division by zero or log(0)")
    return float(value)


def _tensor(value, name: str, shape=None) -> torch.Tensor:
    """The answer as a float32 CPU tensor (float64 answers are fine), checked for shape and NaN."""
    require(isinstance(value, torch.Tensor), f"{name} should be a torch.Tensor, got {type(value).__name__}")
    if shape is not None:
        require(tuple(value.shape) == tuple(shape),
                f"{name} should be shaped {tuple(shape)}, got {tuple(value.shape)}")
    value = value.detach().cpu()
    if value.is_floating_point():
        value = value.float()
    require(bool(torch.isfinite(value).all()), f"{name} contains NaN or inf values")
    return value


def _count(value, name: str) -> int:
    """A whole number: 12 and 12.0 pass, 12.5 or text get a clear message."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)  # exact, also beyond float precision (16 ** 32)
    number = _number(value, name)
    require(number == int(number), f"{name} should be a whole number, got {number}")
    return int(number)


# Chapter 01 ---------------------------------------------------------------------------------------
def check_explained_variance(answer, X) -> None:
    """The fraction of X's variance kept by the top-2 principal components."""
    from sklearn.decomposition import PCA

    got = _number(answer, "explained")
    want = PCA(n_components=2).fit(torch.as_tensor(X).cpu().numpy()).explained_variance_ratio_.sum()
    require(0 < got <= 1, f"a fraction of variance lies in (0, 1]; got {got:.4f}")
    require(close_enough(got, want, 0.01),
            f"expected {want:.4f}, got {got:.4f}. Divide the variance of the projections onto the two "
            "components by the total variance of the centred data (sum over the 3 features).")
    return correct(f"the 2-D plane keeps {got:.1%} of the variance.")


def check_first_component(direction, X, tolerance_degrees: float = 5.0) -> None:
    """A 3-d direction that should match PCA's first principal component (up to sign)."""
    from sklearn.decomposition import PCA

    d = _tensor(torch.as_tensor(direction, dtype=torch.float32).flatten().cpu(), "direction", (3,))
    require(d.norm() > 0, "the direction is the zero vector")
    pc1 = torch.as_tensor(PCA(n_components=1).fit(torch.as_tensor(X).cpu().numpy()).components_[0],
                          dtype=torch.float32)
    cos = (d @ pc1).abs() / d.norm()
    angle = math.degrees(math.acos(min(float(cos), 1.0)))
    require(angle <= tolerance_degrees,
            f"your direction is {angle:.1f}° away from PCA's first component. With a 1-d code the "
            "decoder's weight column (decoder.weight[:, 0]) spans the line the autoencoder learned; "
            "train longer or with a smaller learning rate if it is still off.")
    return correct(f"{angle:.2f}° from PCA's first component.")


# Chapter 02 ---------------------------------------------------------------------------------------
def check_anomaly_threshold(threshold, fashion_errors: torch.Tensor, target: float = 0.05) -> None:
    """A threshold that flags about ``target`` of the (normal) Fashion-MNIST images."""
    t = _number(threshold, "threshold")
    flagged = float((fashion_errors > t).float().mean())
    require(abs(flagged - target) <= 0.01,
            f"your threshold {t:.5f} flags {flagged:.1%} of Fashion-MNIST images; aim for "
            f"{target:.0%}. Hint: torch.quantile(errors, {1 - target}) is the error below which "
            f"{1 - target:.0%} of the images fall.")
    return correct(f"{flagged:.1%} of normal images flagged.")


def check_tied_savings(n_saved, stacked, tied) -> None:
    """How many parameters the tied autoencoder saves over the stacked one."""
    got = _count(n_saved, "n_saved")
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    want = count(stacked) - count(tied)
    require(got == want, f"expected {want:,} parameters saved, got {got:,}. Count with "
                         "sum(p.numel() for p in model.parameters()) for both models and subtract.")
    return correct(f"tying saves {want:,} weights: the decoder's two weight matrices.")


# Chapters 03-04 -----------------------------------------------------------------------------------
def check_autoencoder(model, codings_dim: int, images: torch.Tensor) -> None:
    """An autoencoder mapping images to ``codings_dim`` codes and back to (N, 1, 28, 28) in [0, 1]."""
    with torch.no_grad(), eval_mode(model):
        out = model(images[:8])
    require(hasattr(out, "output") and hasattr(out, "codings"),
            "the model should return AEOutput(output, codings); wrap it with "
            "dl101.autoencoders.Autoencoder(encoder, decoder)")
    require(tuple(out.codings.shape) == (len(images[:8]), codings_dim),
            f"codings should be shaped (N, {codings_dim}), got {tuple(out.codings.shape)}")
    require(tuple(out.output.shape) == tuple(images[:8].shape),
            f"reconstructions should be shaped {tuple(images[:8].shape)}, got {tuple(out.output.shape)}")
    require(float(out.output.min()) >= 0 and float(out.output.max()) <= 1,
            "reconstructions should lie in [0, 1] like the pixels: end the decoder with nn.Sigmoid()")
    return correct(f"images -> {codings_dim} codes -> images.")


def check_columns_as_sequence(transformed, images: torch.Tensor) -> None:
    """Images turned so that an LSTM reading rows reads the original columns."""
    t = _tensor(transformed, "transformed", images.shape)
    require(torch.equal(t, images.transpose(2, 3).cpu().float()),
            "the LSTM reads the last dimension as features and the one before as time: swap the "
            "row and column dimensions (2 and 3) of the (N, 1, 28, 28) tensor")
    return correct("the LSTM now reads the image column by column.")


# Chapter 05 ---------------------------------------------------------------------------------------
def check_salt_and_pepper(layer_class) -> None:
    """A corruption layer setting a fraction ``p`` of pixels to 0 or 1 in training, identity in eval."""
    layer = layer_class(0.2)
    x = torch.full((64, 1, 28, 28), 0.5)
    layer.train()
    with _own_random_state():
        y = layer(x)
    require(isinstance(y, torch.Tensor) and y.shape == x.shape, "the layer must return a tensor shaped like its input")
    changed = (y != x).float().mean().item()
    require(abs(changed - 0.2) < 0.03, f"with p=0.2 about 20% of pixels should change, {changed:.1%} did")
    require(bool(((y == x) | (y == 0) | (y == 1)).all()), "changed pixels must become exactly 0 or 1")
    require(0.3 < (y == 1).float().sum().item() / max((y != x).float().sum().item(), 1) < 0.7,
            "salt (1) and pepper (0) should be about equally frequent")
    layer.eval()
    require(torch.equal(layer(x), x), "in eval mode the layer must return its input unchanged")
    return correct("salt-and-pepper noise in training, identity in eval.")


def check_denoising_rmse(answer, model, clean: torch.Tensor, noisy: torch.Tensor) -> None:
    """RMSE between clean images and the model's reconstructions of their noisy versions."""
    got = _number(answer, "rmse")
    with torch.no_grad(), eval_mode(model):
        want = (model(noisy).output - clean).square().mean().sqrt().item()
    require(close_enough(got, want, 0.01),
            f"expected {want:.4f}, got {got:.4f}. Feed the NOISY images, compare with the CLEAN ones, "
            "in eval mode (model.eval()), and take the square root of the mean squared error.")
    return correct(f"RMSE {got:.4f} against the clean images.")


# Chapter 06 ---------------------------------------------------------------------------------------
def check_l1_penalty(fn) -> None:
    """An L1 sparsity penalty: the mean absolute code activation."""
    codings = torch.rand(16, 256, generator=torch.Generator().manual_seed(0))
    with _own_random_state():
        got = _number(fn(codings), "penalty")
    want = codings.abs().mean().item()
    require(close_enough(got, want, 1e-4),
            f"expected the mean absolute activation {want:.5f}, got {got:.5f}")
    return correct("the L1 penalty pushes every activation towards 0, unlike KL which targets p.")


def check_most_active_unit(unit, model, images: torch.Tensor, labels: torch.Tensor, cls: int) -> None:
    """The code unit with the highest mean activation on images of class ``cls``."""
    got = int(_number(unit, "unit"))
    with torch.no_grad(), eval_mode(model):
        means = model(images[labels == cls]).codings.mean(0)
    want = int(means.argmax())
    require(got == want, f"unit {got} has mean activation {means[got]:.3f} on this class; unit "
                         f"{want} has {means[want]:.3f}. Average codings over the class, then argmax.")
    return correct(f"unit {want} fires most (mean {means[want]:.3f}) for this class.")


# Chapter 07 ---------------------------------------------------------------------------------------
def check_gaussian_kl(fn) -> None:
    """KL(N(μ, σ²) || N(0, 1)) per example, summed over dimensions, from (mean, logvar)."""
    from torch.distributions import Normal, kl_divergence

    g = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    with _own_random_state():
        got = _tensor(fn(mean, logvar), "kl", (8,))
    want = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    require(torch.allclose(got, want, atol=1e-5),
            f"differs from torch.distributions by up to {(got - want).abs().max():.4g}. Check the "
            "sign, that σ² = exp(logvar), and that you sum over the last dimension.")
    return correct("matches torch.distributions.kl_divergence.")


def check_prior_samples(images, codings_dim: int, n: int) -> None:
    """``n`` images decoded from codings drawn from the prior N(0, I)."""
    x = _tensor(images, "images", (n, 1, 28, 28))
    require(float(x.min()) >= 0 and float(x.max()) <= 1, "decoded images should lie in [0, 1]")
    require(float(x.std(0).mean()) > 1e-3, "all samples look identical: draw a different z for each image")
    return correct(f"{n} new images from z ~ N(0, I_{codings_dim}).")


# Chapter 08 ---------------------------------------------------------------------------------------
def check_categorical_kl(fn) -> None:
    """KL(q || uniform) per example from logits (N, codes, K), stable for extreme logits."""
    logits = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0)) * 3
    logits[0, 0] = torch.tensor([200.0, -200.0, 0.0, 0.0, 0.0])  # softmax underflows to exactly 0
    with _own_random_state():
        got = _tensor(fn(logits), "kl", (4,))
    q = torch.distributions.Categorical(logits=logits)
    uniform = torch.distributions.Categorical(logits=torch.zeros_like(logits))
    want = torch.distributions.kl_divergence(q, uniform).sum(-1)
    require(torch.allclose(got, want, atol=1e-4),
            f"differs from torch.distributions by up to {(got - want).abs().max():.4g}. Use "
            "F.log_softmax for log q (softmax().log() breaks when a probability underflows to 0).")
    return correct("stable and equal to torch.distributions' KL.")


def check_code_count(answer, coding_length: int = 32, n_codes: int = 16) -> None:
    """How many different codings the discrete VAE can express."""
    got = _count(answer, "answer")
    want = n_codes ** coding_length
    require(got == want, f"each of the {coding_length} codes picks one of {n_codes} categories "
                         "independently: multiply the choices")
    return correct(f"{want:.3e} distinct codings, from a 32×16 one-hot table.")


# Chapter 09 ---------------------------------------------------------------------------------------
def check_generator_loss(fn) -> None:
    """The non-saturating generator loss from D's logits on fakes: −mean log σ(logits)."""
    logits = torch.randn(32, 1, generator=torch.Generator().manual_seed(0)) * 4
    with _own_random_state():
        got = _number(fn(logits), "loss")
    want = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).item()
    require(close_enough(got, want, 1e-4),
            f"expected {want:.5f}, got {got:.5f}. G wants D to say 'real' (label 1) on fakes; with "
            "logits use F.binary_cross_entropy_with_logits, not a sigmoid followed by a log.")
    return correct("G is trained to make D say 'real'.")


def check_discriminator_accuracy(answer, discriminator, real: torch.Tensor, fake: torch.Tensor) -> None:
    """D's accuracy on a batch of real and a batch of fake images (logit > 0 means 'real')."""
    got = _number(answer, "accuracy")
    with torch.no_grad(), eval_mode(discriminator):
        want = torch.cat([(discriminator(real) > 0).float(), (discriminator(fake) <= 0).float()]).mean().item()
    require(close_enough(got, want, 0.01, 1e-3),
            f"expected {want:.3f}, got {got:.3f}. A logit above 0 means 'real'; count right answers "
            "on both batches, in eval mode.")
    return correct(f"D is right on {want:.1%} of the images.")


# Chapter 10 ---------------------------------------------------------------------------------------
def check_forward_diffusion(fn, alpha_bar: torch.Tensor) -> None:
    """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for a batch of steps t."""
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(6, 1, 28, 28, generator=g) * 2 - 1, torch.randn(6, 1, 28, 28, generator=g)
    t = torch.linspace(1, len(alpha_bar) - 1, 6).long()  # from the first step to T
    alpha_bar = alpha_bar.cpu().float()
    with _own_random_state():
        got = _tensor(fn(x0, t, eps), "x_t", x0.shape)
    ab = alpha_bar[t].view(-1, 1, 1, 1)
    want = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    require(torch.allclose(got, want, atol=1e-5),
            "x_t differs from √ᾱ_t·x_0 + √(1−ᾱ_t)·ε. Index ᾱ with t and reshape it to (N, 1, 1, 1) "
            "so that each image gets its own step.")
    return correct("that is DDPM's closed-form jump (eq. 4).")


def check_ddim_sigma(fn) -> None:
    """DDIM's σ for steps t → t_prev and a given η (Song et al. 2021, eq. 16)."""
    ab_t, ab_prev = torch.tensor(0.3), torch.tensor(0.6)
    for eta in (0.0, 0.5, 1.0):
        got = _number(fn(ab_t, ab_prev, eta), "sigma")
        want = eta * math.sqrt((1 - 0.6) / (1 - 0.3) * (1 - 0.3 / 0.6))
        if not close_enough(got, want, 1e-4, 1e-7):
            raise Incorrect(f"for η={eta}: expected σ={want:.5f}, got {got:.5f}. Use ᾱ of the two steps "
                            "actually taken: σ = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_prev).")
    return correct("σ(η) of eq. 16, correct also when steps are skipped.")


def check_conv_parameters(answer, in_channels: int, out_channels: int, kernel_size: int) -> None:
    """Parameters of one ``nn.Conv2d(in, out, kernel_size)`` layer with a bias."""
    from torch import nn

    got = _count(answer, "n_params")
    want = sum(p.numel() for p in nn.Conv2d(in_channels, out_channels, kernel_size).parameters())
    require(got == want, f"expected {want:,}, got {got:,}: each of the {out_channels} filters has "
                         f"{in_channels}×{kernel_size}×{kernel_size} weights plus one bias")
    return correct(f"{want:,} parameters, whatever the image size: that is weight sharing.")

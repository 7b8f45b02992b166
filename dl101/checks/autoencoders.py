"""Checkers for the autoencoders chapters' exercises."""
from __future__ import annotations

import math
from contextlib import contextmanager, nullcontext
from typing import Iterator

import torch
import torch.nn.functional as F

from dl101.checks._base import Choice, QUESTIONS, as_count, as_number, as_tensor, own_random_state
from dl101.exercises import Incorrect, close_enough, correct, require
from dl101.modes import eval_mode


# Chapter 01 ---------------------------------------------------------------------------------------
def _as_direction(direction, name: str = "direction") -> torch.Tensor:
    """A 3-d direction as a float32 tensor (NumPy arrays and lists are fine; text is refused)."""
    if isinstance(direction, (str, bytes)):
        raise Incorrect(f"{name} should be a tensor of 3 numbers, got the text {direction!r}")
    if not isinstance(direction, torch.Tensor):
        try:
            direction = torch.as_tensor(direction, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise Incorrect(f"{name} should be a tensor of 3 numbers, got {type(direction).__name__}") from None
    d = as_tensor(direction, name)
    require(d.numel() == 3, f"{name} should hold 3 numbers (a direction in 3-D), got shape {tuple(d.shape)}")
    d = d.flatten()
    require(float(d.norm()) > 0, f"{name} is the zero vector: it points nowhere")
    return d


def _angle_degrees(d: torch.Tensor, v: torch.Tensor) -> float:
    """The angle between the lines spanned by d and v (so 0° also for opposite signs)."""
    cos = float((d.double() @ v.double()).abs() / (d.double().norm() * v.double().norm()))
    return math.degrees(math.acos(min(cos, 1.0)))


def check_explained_variance(answer, X, k: int = 2) -> None:
    """The fraction of X's variance kept by the top-k principal components."""
    from sklearn.decomposition import PCA

    got = as_number(answer, "explained")
    X = torch.as_tensor(X).detach().cpu().double()
    want = float(PCA(n_components=k).fit(X.numpy()).explained_variance_ratio_.sum())
    require(0 < got <= 1, f"a fraction of the variance lies in (0, 1]; got {got:.4f}")
    if close_enough(got, want, 1e-4):
        return correct(f"the best {k}-D subspace keeps {got:.2%} of the variance.")
    # The mistakes we have seen, each recomputed on this X, so the hint names the one actually made.
    s = torch.linalg.svdvals(X - X.mean(0))
    raw = torch.linalg.svdvals(X)
    mistakes = {
        "you did not centre X: subtract X.mean(0) before the SVD, or the mean itself counts as variance":
            float((raw[:k] ** 2).sum() / (raw ** 2).sum()),
        "you divided singular values, not their squares: the variance along a direction is s_i²":
            float(s[:k].sum() / s.sum()),
        "you computed the fraction LEFT OUT by the subspace; take the top components' share instead":
            1 - want,
    }
    for other_k in range(1, len(s) + 1):
        if other_k != k:
            mistakes[f"you kept {other_k} component(s) instead of the {k} asked for (use k, not a fixed number)"] = \
                float((s[:other_k] ** 2).sum() / (s ** 2).sum())
    for hint, value in mistakes.items():
        require(not close_enough(got, value, 1e-4), hint)
    raise Incorrect(f"{got:.5f} is not the fraction of variance the top {k} components keep: divide the sum of "
                    f"the top {k} squared singular values of the CENTRED data by the total variance, the sum "
                    "of all of them.")


def check_first_component(direction, X, tolerance_degrees: float = 1.0) -> None:
    """A 3-d direction that should match PCA's first principal component (up to sign)."""
    from sklearn.decomposition import PCA

    d = _as_direction(direction)
    X = torch.as_tensor(X).detach().cpu().double()
    components = torch.as_tensor(PCA(n_components=3).fit(X.numpy()).components_)
    angle = _angle_degrees(d, components[0])
    if angle <= tolerance_degrees:
        return correct(f"{angle:.2f}° from PCA's first component.")
    uncentred = torch.linalg.svd(X, full_matrices=False).Vh[0]
    require(_angle_degrees(d, uncentred) > tolerance_degrees,
            f"your direction is {angle:.1f}° from PCA's first component but lines up with the first singular "
            "vector of the UNCENTRED data: a model without biases (or an SVD of X itself) must pass "
            "through the origin, so the mean pulls the line towards it. Keep the biases / centre X.")
    for i in (1, 2):
        require(_angle_degrees(d, components[i]) > tolerance_degrees,
                f"your direction is {angle:.0f}° away from PCA's first component: it is PCA's component "
                f"{i + 1}. The 1-d code should keep the direction of LARGEST variance.")
    raise Incorrect(f"your direction is {angle:.1f}° away from PCA's first component (aim for under "
                    f"{tolerance_degrees:g}°). With a 1-d code the decoder's weight column "
                    "(decoder.weight[:, 0]) spans the line the autoencoder learned — not its bias; "
                    "if that is what you used, train longer or with a smaller learning rate.")


QUESTIONS["01-a"] = Choice(right="b", why={
    "a": "No: the reconstruction is W_d A⁻¹ (A W_e x + A b_e) + b_d = W_d (W_e x + b_e) + b_d, exactly as before, "
         "so the loss cannot change.",
    "b": "Yes: A⁻¹A cancels, every reconstruction stays the same, so the loss is blind to how the plane's "
         "axes are chosen; PCA adds that choice (orthogonal axes sorted by variance), the autoencoder does not.",
    "c": "No: the reconstructions are identical, so the loss is identical; decorrelated codings are not "
         "something the squared error rewards.",
    "d": "No: A⁻¹A = I for every invertible A, a stretch like diag(2, 1) included.",
})
QUESTIONS["01-b"] = Choice(right="b", why={
    "a": "No: without biases the model can only reach planes through the origin; PCA's plane passes through "
         "the data's mean, which is not the origin here.",
    "b": "Yes: a bias-free linear autoencoder finds the top singular vectors of the UNCENTRED data; the mean "
         "pulls its plane away from PCA's, so the principal angles are not both ≈ 0°.",
    "c": "No: it still minimises the squared error, so it keeps directions of large spread (measured from the "
         "origin), never the smallest ones.",
    "d": "No: removing the biases makes the model smaller, not unstable; the loss just cannot fall as low.",
})
QUESTIONS["01-c"] = Choice(right="b", why={
    "a": "No: each gradient step updates every weight at once; nothing makes z₁ finish first.",
    "b": "Yes: the loss changes little when the plane turns between two directions of nearly equal variance, "
         "so the gradient doing that turn is small; the 1st direction, far above the others, is found fast.",
    "c": "No: the same 60 points give angles below 0.02° after 100 epochs, so the 2nd direction can be found.",
    "d": "No: a smaller step makes every move smaller; it cannot speed up a rotation the gradient barely drives.",
})


# Chapter 02 ---------------------------------------------------------------------------------------
@contextmanager
def _every_mode_kept(model) -> Iterator[None]:
    """Evaluate ``model`` in eval mode, then give EVERY submodule its own mode back (eval_mode restores one
    flag for the whole model, which would switch a learner's frozen submodule back to training)."""
    modules = list(model.modules()) if isinstance(model, torch.nn.Module) else []
    flags = [m.training for m in modules]
    try:
        with eval_mode(model) if modules else nullcontext():
            yield
    finally:
        for m, flag in zip(modules, flags):
            m.training = flag


def _f1_at(threshold: float, normal: torch.Tensor, anomalies: torch.Tensor) -> float:
    """F1 of "error > threshold means anomaly", anomalies being the positive class."""
    tp = int((anomalies > threshold).sum())
    fp = int((normal > threshold).sum())
    return 2 * tp / (2 * tp + fp + (len(anomalies) - tp))


def _best_f1(normal: torch.Tensor, anomalies: torch.Tensor) -> tuple[float, float]:
    """The best F1 over every threshold, and a threshold reaching it (flag the k largest errors, every k)."""
    scores = torch.cat([normal, anomalies]).double()
    is_anomaly = torch.cat([torch.zeros(len(normal)), torch.ones(len(anomalies))]).double()
    order = scores.argsort(descending=True)
    tp = is_anomaly[order].cumsum(0)
    f1 = 2 * tp / (torch.arange(1, len(scores) + 1) + len(anomalies))  # 2TP / (flagged + positives)
    i = int(f1.argmax())
    below = scores[order][i + 1] if i + 1 < len(scores) else scores[order][i] - 1
    return float(f1[i]), float(scores[order][i] + below) / 2


def check_f1_threshold(threshold, model, normal_images: torch.Tensor, anomaly_images: torch.Tensor,
                       tolerance: float = 0.002) -> None:
    """A reconstruction-error threshold whose F1 (anomalies = positives) is as high as any threshold's."""
    from dl101.autoencoders import reconstruction_errors  # eval mode inside, the model's mode kept

    t = as_number(threshold, "threshold")
    with _every_mode_kept(model):
        normal = reconstruction_errors(model, normal_images)
        anomalies = reconstruction_errors(model, anomaly_images)
    got, (best, best_t) = _f1_at(t, normal, anomalies), _best_f1(normal, anomalies)
    if got >= best - tolerance:
        return correct(f"F1 {got:.4f} at your threshold: no threshold does better by more than {tolerance}.")
    flagged = float((normal > t).float().mean())
    for q in (0.01, 0.05):
        require(abs(flagged - q) > 0.005,
                f"your threshold flags {flagged:.1%} of the normal images: it looks like a percentile of the "
                f"normal errors. That fixes the false-alarm rate, not F1, which also counts the anomalies "
                f"missed. Search over candidate thresholds and keep the one with the highest F1.")
    candidates = torch.cat([normal, anomalies, torch.tensor([t])]).double().unique()

    def tpr_minus_fpr(c: torch.Tensor) -> torch.Tensor:  # the ROC curve's distance above the diagonal
        above = lambda e: len(e) - torch.searchsorted(e.double().sort().values, c, right=True)  # noqa: E731
        return above(anomalies) / len(anomalies) - above(normal) / len(normal)

    j = tpr_minus_fpr(candidates)
    require(float(tpr_minus_fpr(torch.tensor([t], dtype=torch.float64))[0]) < float(j.max()) - 1e-9,
            "your threshold maximises TPR − FPR (the ROC curve's corner), not F1: F1 depends on precision, so "
            "on how many normal images there are per anomaly. Compute F1 itself for each candidate.")
    direction = "lower" if best_t < t else "higher"
    raise Incorrect(f"F1 at your threshold is {got:.4f}; a {direction} threshold does better. F1 = 2·TP / "
                    "(2·TP + FP + FN) with the digits as positives and error > threshold as the prediction: "
                    "try every distinct error as a candidate and keep the best.")


def check_code_neighbours(answer, model, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Leave-one-out 1-nearest-neighbour accuracy (Euclidean) of the codes, or of the pixels if model is None."""
    got = as_number(answer, "accuracy")
    require(0 <= got <= 1, f"an accuracy lies in [0, 1]; got {got:.4f}")
    space = "pixels" if model is None else "codes"
    if model is None:
        points = images.detach().flatten(1).cpu().float()
    else:
        with torch.no_grad(), _every_mode_kept(model):
            points = torch.cat([model.encode(chunk).cpu().float() for chunk in images.split(1024)])
    labels = torch.as_tensor(labels).cpu()

    def accuracy(distance: torch.Tensor, leave_out: bool = True) -> float:
        if leave_out:
            distance = distance.clone().fill_diagonal_(float("inf"))
        return float((labels[distance.argmin(1)] == labels).float().mean())

    euclid = torch.cdist(points, points)
    want = accuracy(euclid)
    one_image = 1 / len(labels)  # the only slack: a tie broken the other way moves one image
    if close_enough(got, want, 0, 1.5 * one_image):
        return correct(f"{got:.1%} of the images have a nearest neighbour ({space}) of their own class.")
    unit = F.normalize(points, dim=1)
    mistakes = {
        "every image is its own nearest neighbour (distance 0): leave it out, e.g. set the diagonal of the "
        "distance matrix to infinity before the argmin": accuracy(euclid, leave_out=False),
        "you used the cosine distance; use the Euclidean one (torch.cdist)": accuracy(1 - unit @ unit.T),
    }
    if model is not None:
        pixels = images.detach().flatten(1).cpu().float()
        mistakes["that is the accuracy of the PIXELS' neighbours: encode the images first (encode_all)"] = \
            accuracy(torch.cdist(pixels, pixels))
    for hint, value in mistakes.items():
        require(not close_enough(got, value, 0, 0.5 * one_image), hint)
    raise Incorrect(f"{got:.4f} is not the leave-one-out 1-nearest-neighbour accuracy of these {space}: for each "
                    "image find the OTHER image at the smallest Euclidean distance and count how often its label "
                    "is the same.")


QUESTIONS["02-a"] = Choice(right="b", why={
    "a": "No: 102,400 is half of the two matrices; tying removes the decoder's matrices entirely, since the "
         "decoder reads the encoder's ones transposed.",
    "b": "Yes: the decoder's two weight matrices, 16×256 and 256×784, are gone: 4,096 + 200,704 = 204,800. Its "
         "biases (256 + 784) stay: tying shares weight matrices, not biases.",
    "c": "No: that also counts the decoder's biases (256 + 784) as saved, but a tied decoder keeps its own "
         "biases; the output layer's 784 biases have no counterpart in the encoder at all.",
    "d": "No: 200,704 is only the 256×784 matrix; the 16×256 one is tied too.",
})
QUESTIONS["02-b"] = Choice(right="c", why={
    "a": "No: F1 uses precision, TP / (TP + FP); with twice as many digits per garment, the same detector has "
         "more true positives per false alarm, so its F1 changes with the mix, not just with the model.",
    "b": "No: precision is TP / (TP + FP); doubling the digits per garment doubles TP at the same threshold "
         "and leaves FP alone, so precision rises with the mix even for the same detector.",
    "c": "Yes: ROC AUC only uses rates WITHIN each class (TPR among digits, FPR among clothes), so the ratio of "
         "digits to clothes does not enter it; F1's precision does depend on that ratio.",
    "d": "No: the ROC curve plots TPR against FPR, each computed inside one class; the class ratio cancels.",
})
QUESTIONS["02-c"] = Choice(right="d", why={
    "a": "No: there was little overfitting to reduce: each model's validation error is within 0.002 of its "
         "training error.",
    "b": "No: the tied model has about half the weights; it has less capacity, not more.",
    "c": "No: the stacked model's validation RMSE (0.1191) is as low as its training RMSE (0.1175): it does not "
         "overfit.",
    "d": "Yes: with no train–valid gap there is nothing for a regulariser to close; the tied model simply fits "
         "the training images better (0.1069 vs 0.1175), and its validation error follows.",
})


def check_anomaly_threshold(threshold, fashion_errors: torch.Tensor, target: float = 0.05) -> None:
    """A threshold that flags about ``target`` of the (normal) Fashion-MNIST images."""
    t = as_number(threshold, "threshold")
    flagged = float((fashion_errors > t).float().mean())
    require(abs(flagged - target) <= 0.01,
            f"your threshold {t:.5f} flags {flagged:.1%} of Fashion-MNIST images; aim for "
            f"{target:.0%}. Hint: torch.quantile(errors, {1 - target}) is the error below which "
            f"{1 - target:.0%} of the images fall.")
    return correct(f"{flagged:.1%} of normal images flagged.")


def check_tied_savings(n_saved, stacked, tied) -> None:
    """How many parameters the tied autoencoder saves over the stacked one."""
    got = as_count(n_saved, "n_saved")
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    want = count(stacked) - count(tied)
    require(got == want, f"expected {want:,} parameters saved, got {got:,}. Count with "
                         "sum(p.numel() for p in model.parameters()) for both models and subtract.")
    return correct(f"tying saves {want:,} weights: the decoder's two weight matrices.")


# Chapter 03 ---------------------------------------------------------------------------------------
CONV_CASES = ((16, 32, 3), (1, 16, 3), (3, 8, 5), (64, 32, 1))


def check_conv_params_function(fn, cases=CONV_CASES) -> None:
    """``fn(in_channels, out_channels, kernel_size)`` = the parameters of ``nn.Conv2d(in, out, k)`` (with bias)."""
    from torch import nn

    for i, o, k in cases:
        with own_random_state():  # building a layer draws its initial weights: not from the learner's stream
            got = as_count(fn(i, o, k), f"conv_params({i}, {o}, {k})")
            want = sum(p.numel() for p in nn.Conv2d(i, o, k).parameters())
        if got == want:
            continue
        mistakes = {
            o * i * k * k: "you forgot the biases: one per filter",
            o * k * k + o: "each filter spans ALL the input channels: k×k weights per input channel",
            o * i * k + o: "a k×k filter has k² weights per input channel, not k",
            i * k * k + 1: "that is one filter; there are out_channels of them",
            (i + o) * k * k + o: "weights multiply: in_channels × k × k per filter, not in_channels + ...",
        }
        raise Incorrect(f"conv_params({i}, {o}, {k}) gave {got:,}: " +
                        mistakes.get(got, "count, per filter, its weights (one k×k grid per input channel) and "
                                          "its bias, then multiply by the number of filters"))
    return correct("the count depends on channels and kernel size only, never on the image size.")


def check_conv_autoencoder(model, codings_dim: int, images: torch.Tensor, max_parameters: int) -> None:
    """A convolutional autoencoder: conv layers read and write the pixels, a ``codings_dim`` code, a budget."""
    from torch import nn

    require(isinstance(model, nn.Module) and hasattr(model, "encoder") and hasattr(model, "decoder"),
            "wrap your layers as Autoencoder(encoder, decoder) (from dl101.autoencoders)")

    def weighted(part: nn.Module) -> list[nn.Module]:
        return [m for m in part.modules() if any(True for _ in m.parameters(recurse=False))]

    first, last = weighted(model.encoder)[:1], weighted(model.decoder)[-1:]
    require(bool(first) and isinstance(first[0], nn.Conv2d),
            "the encoder's first layer with weights reads the pixels: make it an nn.Conv2d. A dense layer "
            "there learns a separate weight for every pixel; a convolution shares one small filter.")
    require(bool(last) and isinstance(last[0], (nn.ConvTranspose2d, nn.Conv2d)),
            "the decoder's last layer with weights writes the pixels: make it an nn.ConvTranspose2d, not a "
            "dense layer")
    require(any(isinstance(m, nn.ConvTranspose2d) for m in model.decoder.modules()),
            "the decoder should grow the image back with transposed convolutions (nn.ConvTranspose2d)")
    n = sum(p.numel() for p in model.parameters())
    require(n <= max_parameters, f"your model has {n:,} parameters, over the budget of {max_parameters:,}: "
                                 "fewer channels, or a smaller dense layer between the code and the first "
                                 "feature map")
    weight = next(model.parameters())
    batch = images[:8].to(weight.device, weight.dtype)  # a float64 model, or one on another device, is fine
    with torch.no_grad(), _every_mode_kept(model):
        out = model(batch)
    require(hasattr(out, "output") and hasattr(out, "codings"),
            "the model should return AEOutput(output, codings); wrap it with Autoencoder(encoder, decoder)")
    require(tuple(out.codings.shape) == (len(batch), codings_dim),
            f"codings should be shaped (N, {codings_dim}), got {tuple(out.codings.shape)}")
    require(tuple(out.output.shape) == tuple(batch.shape),
            f"reconstructions should be shaped {tuple(batch.shape)}, got {tuple(out.output.shape)}: print the "
            "shape after each layer; a transposed convolution with padding=1 needs output_padding=1 to double")
    require(float(out.output.min()) >= 0 and float(out.output.max()) <= 1,
            "reconstructions should lie in [0, 1] like the pixels: end the decoder with nn.Sigmoid()")
    return correct(f"images -> {codings_dim} codes -> images with {n:,} parameters, convolutions at both ends.")


QUESTIONS["03-a"] = Choice(right="b", why={
    "a": "No: a convolution's weights are its k×k filters, whatever the size of the grid they slide over.",
    "b": "Yes: 56×56 = 3,136 inputs make the dense first layer 4× larger (3,136×128 instead of 784×128); the "
         "convolutions keep their 3×3 filters, and AdaptiveAvgPool2d(1) averages any grid to one value per "
         "channel, so the code stays 32-d.",
    "c": "No: it is the other way round: a dense layer has one weight per input pixel and unit; a filter's size "
         "does not depend on the image.",
    "d": "No: the dense layer's weight matrix is (units × pixels): 4× the pixels, 4× the weights.",
})
QUESTIONS["03-b"] = Choice(right="a", why={
    "a": "Yes: with a kernel of 4 and a stride of 2, each input's 4×4 patch overlaps its neighbours' by exactly "
         "half, so every output pixel away from the border receives 2×2 = 4 contributions: no grid pattern.",
    "b": "No: output_padding only adds a row and a column at the end; it changes the size, not how the "
         "patches overlap.",
    "c": "No: 5 is not a multiple of 2 either: outputs alternate between 3 and 2 contributions per direction "
         "(9, 6 and 4 in 2-D), so the grid remains.",
    "d": "No: padding trims the border; the uneven overlap inside stays the same.",
})
QUESTIONS["03-c"] = Choice(right="a", why={
    "a": "Yes: (3 − 1)·2 − 2·1 + 3 = 5: padding=1 trims a pixel on each side, so the decoder no longer lands on 7.",
    "b": "No: 6 would need output_padding=1 on top of padding=1: (3 − 1)·2 − 2 + 3 + 1 = 6.",
    "c": "No: 7 is what the layer gives WITHOUT padding: (3 − 1)·2 + 3.",
    "d": "No: a stride-2 transposed convolution roughly doubles the size; (3 − 1)·2 − 2 + 3 = 5, not 3.",
})


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
    t = as_tensor(transformed, "transformed", images.shape)
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
    with own_random_state():
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
    got = as_number(answer, "rmse")
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
    with own_random_state():
        got = as_number(fn(codings), "penalty")
    want = codings.abs().mean().item()
    require(close_enough(got, want, 1e-4),
            f"expected the mean absolute activation {want:.5f}, got {got:.5f}")
    return correct("the L1 penalty pushes every activation towards 0, unlike KL which targets p.")


def check_most_active_unit(unit, model, images: torch.Tensor, labels: torch.Tensor, cls: int) -> None:
    """The code unit with the highest mean activation on images of class ``cls``."""
    got = int(as_number(unit, "unit"))
    with torch.no_grad(), eval_mode(model):
        means = model(images[labels == cls]).codings.mean(0)
    want = int(means.argmax())
    require(got == want, f"unit {got} has mean activation {means[got]:.3f} on this class; unit "
                         f"{want} has {means[want]:.3f}. Average codings over the class, then argmax.")
    return correct(f"unit {want} fires most (mean {means[want]:.3f}) for this class.")

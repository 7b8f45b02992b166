"""Checkers for the autoencoders chapters' exercises."""
from __future__ import annotations

import math
import time
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

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
                    "if that is what you used, train longer (100 epochs, as in the cell above).")


QUESTIONS["01-a"] = Choice(right="c", why={
    "a": "No: the reconstruction is W_d A⁻¹ (A W_e x + A b_e) + b_d = W_d (W_e x + b_e) + b_d, exactly as "
         "before, so the loss cannot change; nothing made the trained codings PCA's coordinates in the first "
         "place.",
    "b": "No: the reconstructions are identical, so the loss is identical; the squared error only looks at the"
         " reconstructions, and decorrelating the codings does not change a single one of them.",
    "c": "Yes: A⁻¹A cancels, every reconstruction stays the same, so the loss is blind to how the plane's axes"
         " are chosen; PCA adds that choice (orthogonal axes sorted by variance), the autoencoder does not.",
    "d": "No: A⁻¹A = I for every invertible A, a stretch like diag(2, 1) included: the decoder's A⁻¹ undoes "
         "the stretch of the codings before any reconstruction is made.",
})
QUESTIONS["01-b"] = Choice(right="d", why={
    "a": "No: the weight columns span a plane through the origin, and without biases the model can reach no "
         "other; PCA's plane passes through the data's mean, which is not the origin here.",
    "b": "No: the model still minimises the squared error, so it keeps the directions of largest spread "
         "measured from the origin, never the smallest ones.",
    "c": "No: removing the biases makes the model smaller, not unstable; the loss just cannot fall as low as "
         "with biases.",
    "d": "Yes: a bias-free linear autoencoder finds the top singular vectors of the UNCENTRED data; the mean "
         "pulls its plane away from PCA's, so the principal angles are not both ≈ 0°.",
})
QUESTIONS["01-c"] = Choice(right="a", why={
    "a": "Yes: a plane's squared error is the variance it leaves out. A plane through the mean that holds the "
         "1st direction and any direction u of the (2nd, 3rd) plane keeps λ₁ + λ₂, whichever u, when λ₂ = λ₃: "
         "the loss is flat along that rotation, so the second angle goes wherever the start and the minibatch "
         "noise take it. PCA's 2nd component is not unique then either.",
    "b": "No: NAdam rescales each parameter's step by the running size of its gradients, but it keeps the sign"
         " of their average. When all those planes have the same loss, the average push towards PCA's plane is"
         " zero: there is nothing to scale up, only minibatch noise, which favours no direction.",
    "c": "No: the 1st variance is still far above the others, so the direction of largest variance is unique "
         "and the loss drops steeply as the plane turns towards it: one angle goes to ≈ 0°, as on this data.",
    "d": "No: on this data the rotation is slow because the gap is small but not zero. At a gap of zero the "
         "loss is not less steep along the rotation but flat, so no number of epochs settles the 2nd "
         "direction.",
})


# Chapter 02 ---------------------------------------------------------------------------------------
def _every_mode_kept(model):
    """Eval mode inside the block, every submodule's own mode back after it (anything not a module: as is)."""
    return eval_mode(model) if isinstance(model, torch.nn.Module) else nullcontext()


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


def check_f1_threshold_function(fn) -> None:
    """``fn(normal_errors, anomaly_errors)`` -> the F1-best threshold, tried on made-up error sets (no MNIST needed)."""
    require(callable(fn), f"best_f1_threshold should be a function, got {type(fn).__name__}")
    g = torch.Generator().manual_seed(7)  # private: the learner's random state is untouched
    for n_normal, n_anomalies, shift in ((900, 100, 2.0), (300, 300, 1.0), (2000, 50, 3.0)):
        normal = torch.randn(n_normal, generator=g).abs() * 0.02
        anomalies = (torch.randn(n_anomalies, generator=g).abs() + shift) * 0.02
        t = as_number(fn(normal, anomalies), "best_f1_threshold(normal_errors, anomaly_errors)")
        best, _ = _best_f1(normal, anomalies)
        got = _f1_at(t, normal, anomalies)
        require(got >= best - 0.002,
                f"on {n_normal} made-up normal errors and {n_anomalies} anomalies your threshold reaches "
                f"F1 {got:.4f}, and another threshold does better. Try every distinct error as a candidate and keep "
                "the one with the highest F1 = 2·TP / (2·TP + FP + FN).")
    return correct("your function finds the F1-best threshold on made-up errors of three different mixes.")


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


QUESTIONS["02-a"] = Choice(right="d", why={
    "a": "No: 102,400 is half of the two matrices; tying removes the decoder's matrices entirely, since the "
         "decoder reads the encoder's ones transposed.",
    "b": "No: that also counts the decoder's biases (256 + 784) as saved, but a tied decoder keeps its own "
         "biases; the output layer's 784 biases have no counterpart in the encoder at all.",
    "c": "No: 200,704 is only the 256×784 matrix; the 16×256 one is tied too.",
    "d": "Yes: the decoder's two weight matrices, 16×256 and 256×784, are gone: 4,096 + 200,704 = 204,800. Its"
         " biases (256 + 784) stay: tying shares weight matrices, not biases.",
})
QUESTIONS["02-b"] = Choice(right="a", why={
    "a": "Yes: the ROC AUC only uses rates WITHIN each group (the true-positive rate among digits, the "
         "false-positive rate among garments); the ratio of digits to garments enters neither, so only the "
         "sampling noise of the smaller test moves it.",
    "b": "No: F1 contains the precision, TP / (TP + FP). At the same threshold, twice as many digits per "
         "garment double TP relative to FP, so precision and F1 rise, though the detector did not change.",
    "c": "No: the threshold is set on the garments alone, but the precision then counts digits among the "
         "flagged images: with twice as many digits per garment, TP doubles relative to FP, so the precision "
         "moves with the mix.",
    "d": "No: every point of the ROC curve is a pair (FPR, TPR), each a rate inside one group; the number of "
         "digits per garment cancels from both, so the curve and its area stay put.",
})
QUESTIONS["02-c"] = Choice(right="b", why={
    "a": "No: a gap that differs between two models trained on the same images with the same schedule does say"
         " something: the stacked model fits images it has seen much better than new ones, which is "
         "overfitting.",
    "b": "Yes: with 1,000 images the stacked model learns them better than new ones (a gap); tying halves the "
         "free weights, so the model cannot fit them as closely, and its validation error ends lower. In the "
         "lesson's full run there was no gap, so there tying had nothing to regularise.",
    "c": "No: the tied model has about half the weights, so less capacity; here it wins on validation BECAUSE "
         "it cannot fit the training images as closely.",
    "d": "No: one seed cannot rule out noise, but these numbers point one way: the model with fewer free "
         "weights has the smaller gap and the lower validation error, the pattern a regulariser gives.",
})



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
            "the decoder's last layer with weights writes the pixels: make it a convolution (nn.ConvTranspose2d, "
            "or an nn.Conv2d mapping the channels to one), not a dense layer")
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


QUESTIONS["03-a"] = Choice(right="a", why={
    "a": "Yes: 56×56 = 3,136 inputs make the dense first layer 4× larger (3,136×128 instead of 784×128); the "
         "convolutions keep their 3×3 filters, and AdaptiveAvgPool2d(1) averages any grid to one value per "
         "channel, so the code stays 32-d.",
    "b": "No: a convolution's weights are its k×k filters, whatever the size of the grid they slide over; only"
         " the dense layer has a weight per pixel.",
    "c": "No: it is the other way round: a filter's size does not depend on the image, while a dense layer has"
         " one weight per input pixel and unit.",
    "d": "No: the dense layer's weight matrix is (units × pixels): 4× the pixels, 4× the weights.",
})
QUESTIONS["03-b"] = Choice(right="d", why={
    "a": "No: a kernel of 4 is flat for stride 2 because 4 is a multiple of 2 (4 / 2 = 2 contributions per "
         "direction). 4 is not a multiple of 3: neighbouring patches overlap by one pixel only.",
    "b": "No: 4, 6 and 9 is the pattern of a kernel of 5 with a stride of 2 (2 or 3 per direction). With a "
         "stride of 3, a 4-wide patch overlaps the next by one pixel, so the counts are 1 or 2.",
    "c": "No: the patches are 4 wide but start only 3 apart, so neighbouring patches share one row and one "
         "column: those pixels get two contributions, four where a shared row meets a shared column.",
    "d": "Yes: per direction the counts repeat 1, 1, 2, so in 2-D they are 1, 2 and 4 — a grid with a period "
         "of 3 pixels. The output is flat only when the kernel is a multiple of the stride.",
})
QUESTIONS["03-c"] = Choice(right="c", why={
    "a": "No: (7 − 1)·2 − 2·1 + 4 + 1 = 15. With a kernel of 3, output_padding=1 made up for the kernel being "
         "one short of 4; a kernel of 4 already adds that pixel.",
    "b": "No: (7 − 1)·2 + 4 = 16: a stride-2 transposed convolution gives 2·(n − 1) + kernel, which is 2·n "
         "only when padding and output_padding take the extra pixels back.",
    "c": "Yes: (7 − 1)·2 − 2·1 + 4 + 0 = 14: the size is (n − 1)·stride − 2·padding + kernel + output_padding.",
    "d": "No: (7 − 1)·2 − 2·2 + 4 + 1 = 13: padding trims on both sides, so one more pixel of padding costs two.",
})


# Chapters 03-04 -----------------------------------------------------------------------------------



# Chapter 04 ---------------------------------------------------------------------------------------



def _recurrent_core(model: nn.Module) -> nn.Module | None:
    """The RecurrentAutoencoder inside ``model`` (or ``model`` itself), found by its two LSTMs."""
    found = [m for m in model.modules() if hasattr(m, "encoder_lstm") and hasattr(m, "decoder_lstm")]
    return found[0] if len(found) == 1 else None


def _plain_recurrent(core: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The chapter's RecurrentAutoencoder computation on ``core``'s weights, whatever the learner overrode."""
    from dl101.autoencoders import RecurrentAutoencoder

    return RecurrentAutoencoder.decode(core, RecurrentAutoencoder.encode(core, X))


def _rmse_of(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> float:
    """Root of the mean squared reconstruction error over all pixels, in eval mode, without gradients."""
    total, count = 0.0, 0
    with torch.no_grad(), eval_mode(model):
        for chunk in images.split(batch_size):
            total += (model(chunk).output.double() - chunk.double()).square().sum().item()
            count += chunk.numel()
    return math.sqrt(total / count)


def check_column_reader(column_ae, images: torch.Tensor) -> None:
    """A trained autoencoder of whole images whose LSTM reads them column by column."""
    _require_column_reader(column_ae, images)
    return correct("the LSTM reads columns and the model is trained.")


def _require_column_reader(column_ae, images: torch.Tensor) -> None:
    from dl101.autoencoders import RecurrentAutoencoder

    require(isinstance(column_ae, nn.Module), f"column_ae should be a model (an nn.Module), got "
                                              f"{type(column_ae).__name__}")
    core = _recurrent_core(column_ae)
    require(core is not None, "column_ae should hold exactly one RecurrentAutoencoder (the LSTMs that read "
                              "and write the sequence)")
    X = images[:64]
    with torch.no_grad(), eval_mode(column_ae):
        out = column_ae(X)
        require(hasattr(out, "output") and hasattr(out, "codings"),
                "column_ae should return AEOutput(output, codings) like the other autoencoders")
        require(tuple(out.output.shape) == tuple(X.shape),
                f"column_ae should take and return images shaped (N, 1, 28, 28); it returned "
                f"{tuple(out.output.shape)}")
        got = out.output.float()
        want = _plain_recurrent(core, X.transpose(2, 3)).transpose(2, 3).float()
        if not torch.allclose(got, want, atol=1e-4):
            require(not torch.allclose(got, _plain_recurrent(core, X).float(), atol=1e-4),
                    "column_ae still reads rows: transpose dimensions 2 and 3 of the images before the "
                    "LSTM sees them")
            require(not torch.allclose(got, _plain_recurrent(core, X.transpose(2, 3)).float(), atol=1e-4),
                    "the LSTM reads columns, but the reconstruction comes back transposed: transpose it "
                    "back so that it lines up with the input image")
            require(False, "column_ae(images).output should be the LSTM autoencoder's reconstruction of the "
                           "transposed images, transposed back")
    with own_random_state(42):
        fresh = RecurrentAutoencoder(core.encoder_lstm.hidden_size, core.decoder_lstm.input_size)
    fresh = fresh.to(X.device)
    untrained = _rmse_of(_Transposed(fresh), images)
    trained = _rmse_of(column_ae, images)
    require(trained < 0.9 * untrained,
            f"column_ae reconstructs no better than an untrained model (RMSE {trained:.3f} against "
            f"{untrained:.3f}): train it on the training images first")


class _Transposed(nn.Module):
    """A RecurrentAutoencoder reading columns: the reference wrapper of exercise 4.1."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, X: torch.Tensor):
        from dl101.autoencoders import AEOutput

        out = self.inner(X.transpose(2, 3))
        return AEOutput(out.output.transpose(2, 3), out.codings)


def check_rows_or_columns(column_ae, column_rmse, better_reading, row_ae, images: torch.Tensor) -> None:
    """The column model's RMSE on ``images`` and which reading, rows or columns, reconstructs better."""
    _require_column_reader(column_ae, images)
    require(_recurrent_core(column_ae) is not _recurrent_core(row_ae),
            "column_ae reuses the row model's LSTMs: build and train a fresh RecurrentAutoencoder")
    got = as_number(column_rmse, "column_rmse")
    want = _rmse_of(column_ae, images)
    if not close_enough(got, want, 0.005):
        require(not close_enough(got, want ** 2, 0.005),
                "column_rmse is the mean squared error: take its square root")
        with torch.no_grad(), eval_mode(column_ae):
            core = _recurrent_core(column_ae)
            unturned = math.sqrt(sum((_plain_recurrent(core, c.transpose(2, 3)).double() - c.double())
                                     .square().sum().item() for c in images.split(1024)) / images.numel())
        require(not close_enough(got, unturned, 0.005),
                "column_rmse compares a transposed reconstruction with the upright image: transpose "
                "the reconstruction back first")
        require(False, f"column_rmse should be the RMSE of column_ae on the validation images (all pixels of "
                       f"all {len(images):,} images), got {got:.4f}")
    require(isinstance(better_reading, str) and better_reading.strip().lower() in ("rows", "columns"),
            f'better_reading should be the text "rows" or "columns", got {better_reading!r}')
    row_rmse = _rmse_of(row_ae, images)
    winner = "rows" if row_rmse < want else "columns"
    tie = abs(row_rmse - want) <= 0.005 * min(row_rmse, want)
    require(tie or better_reading.strip().lower() == winner,
            "compare column_rmse with the row model's valid RMSE on the same images "
            "(history['valid_metric'][-1]): the reading with the lower error reconstructs better")
    return correct(f"columns: RMSE {want:.4f}, rows: {row_rmse:.4f}"
                   + (" (a tie within 0.5%)." if tie else f"; {winner} win here."))


class _SleepThenCount(torch.autograd.Function):
    """Identity whose backward sleeps, so a timer that skips backward() shows it."""

    @staticmethod
    def forward(ctx, X, model):
        ctx.model = model
        return X.clone()

    @staticmethod
    def backward(ctx, grad):
        ctx.model.backward_calls += 1
        start = time.perf_counter()
        time.sleep(ctx.model.backward_delay)
        ctx.model.slept += time.perf_counter() - start
        return grad, None


class _SlowAutoencoder(nn.Module):
    """A stand-in model with known costs: each step sleeps, and the first call sleeps much longer."""

    def __init__(self, forward_delay: float, backward_delay: float, first_delay: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))
        self.forward_delay, self.backward_delay, self.first_delay = forward_delay, backward_delay, first_delay
        self.calls, self.backward_calls, self.slept = 0, 0, 0.0

    def forward(self, X: torch.Tensor):
        from dl101.autoencoders import AEOutput

        self.calls += 1
        if self.calls == 1:
            time.sleep(self.first_delay)  # like cuDNN picking algorithms, or memory being allocated
        start = time.perf_counter()
        time.sleep(self.forward_delay)
        self.slept += time.perf_counter() - start
        out = _SleepThenCount.apply(X * self.weight, self)
        return AEOutput(out, out.flatten(1)[:, :8])


def check_step_timer(seconds_per_step, forward_delay: float = 0.005, backward_delay: float = 0.005,
                     first_delay: float = 0.5) -> None:
    """A function ``seconds_per_step(model, images)`` timing one training step (forward and backward)."""
    require(callable(seconds_per_step), "seconds_per_step should be a function (model, images) -> seconds")
    model = _SlowAutoencoder(forward_delay, backward_delay, first_delay)
    images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    got = as_number(seconds_per_step(model, images), "seconds_per_step(model, images)")
    require(model.backward_calls > 0, "you timed only the forward pass: a training step also computes the "
                                      "loss and calls backward(), which costs about as much again")
    timed_steps = model.calls - 1
    require(timed_steps >= 3, f"the model ran {model.calls} time(s): run one step to warm up, then average "
                              "over several steps (10, say), since one step's time is noisy")
    step = model.slept / model.calls  # what one step really costs, measured as it ran
    require(got > 0, f"seconds_per_step returned {got}: time with time.perf_counter() after minus before")
    if got > 1.3 * step:
        # which mistake explains the number best: the total of all steps, or a first call left in?
        total = min(abs(math.log(got / (n * step))) for n in (timed_steps, model.calls))
        first_left_in = abs(math.log(got / ((first_delay + model.calls * step) / model.calls)))
        require(total > first_left_in,
                "that is the time of all the steps together: divide by the number of steps you timed")
        require(False, "your time includes the first call, which is slow for reasons that have nothing to "
                       "do with the model (memory allocation, lazy set-up, cuDNN choosing algorithms): "
                       "run one step before starting the clock")
    require(got > 0.85 * step, "your time is shorter than the steps really took: divide by the number of "
                               "steps you timed, not more, and start the clock before the first timed step")
    return correct("one step timed after a warm-up, forward and backward, averaged over several steps.")


QUESTIONS["04-a"] = Choice(right="b", why={
    "a": "No: 28 steps multiply 28 step-to-step Jacobians; 280 steps multiply 280. A product of factors a "
         "little above 1 in size grows exponentially with their number, so a threefold margin at 28 steps "
         "guarantees nothing at 280.",
    "b": "Yes: the sequence, and the data, changed, so the old norms don't carry over: measure them again. "
         "Clipping is the safety net for this case: it shrinks only the batches whose norm is above 1 and "
         "leaves the others exactly as they are.",
    "c": "No: clipping only ever shrinks a gradient whose norm is above the limit; it never scales a small "
         "gradient up, so it cannot fix vanishing gradients (the LSTM's gates are for that).",
    "d": "No: backpropagation through time multiplies Jacobians, it does not add a fixed amount per step: the "
         "norm can grow much faster than in proportion, or shrink, so no simple rule turns 0.306 into 3.",
})
QUESTIONS["04-b"] = Choice(right="a", why={
    "a": "Yes: a step's products for 256 sequences are a few million multiply-adds, far too little to fill a "
         "GPU, so the time is set by the 28 steps that run one after the other. Twice the rows mostly occupy "
         "units that were idle, and the time grows far less than the work.",
    "b": "No: that holds when the GPU is already busy; here it is not, since each of the 28 sequential "
         "products is small. The LSTM is slower than the convolutional model by more than its 3.5× "
         "multiply-adds for the same reason.",
    "c": "No: the sequences of a batch run together, as one (N, 28) × (28, 512) product per step for the first"
         " layer; only the time steps are sequential, and there are 28 of them whatever the batch size.",
    "d": "No: 512 hidden states of 128 numbers are 65,536 floats, 256 KB; a GPU's on-chip cache holds tens of "
         "megabytes, so memory is not the limit here.",
})


# Chapter 05 ---------------------------------------------------------------------------------------
def check_salt_and_pepper(layer_class, p: float = 0.2) -> None:
    """A corruption layer setting a fraction ``p`` of pixels to 0 or 1 in training, identity in eval."""
    require(isinstance(layer_class, type) and issubclass(layer_class, nn.Module),
            f"pass the class itself (SaltAndPepper, an nn.Module subclass), got {type(layer_class).__name__}")
    # the layer sits after nn.Flatten in denoising_autoencoder, so (N, 784) inputs matter as much as images
    for rate, shape, dtype in ((p, (64, 1, 28, 28), torch.float32), (p, (64, 784), torch.float64),
                               (0.5, (64, 784), torch.float32)):
        layer = layer_class(rate)
        x = torch.full(shape, 0.5, dtype=dtype)
        layer.train()
        with own_random_state():
            y = layer(x)
        require(isinstance(y, torch.Tensor) and y.shape == x.shape,
                f"the layer must return a tensor shaped like its input {tuple(shape)}")
        require(bool((x == 0.5).all()), "the layer changed its input in place: build a new tensor "
                                        "(torch.where) so the clean images stay clean")
        require(y.dtype == x.dtype, f"a {dtype} input came back as {y.dtype}: keep the input's dtype")
        require(bool(((y == x) | (y == 0) | (y == 1)).all()), "changed pixels must become exactly 0 or 1")
        hit = (y != x).reshape(len(x), -1).float()
        changed = hit.mean().item()
        require(abs(changed - rate) < 0.03, f"with p={rate} about {rate:.0%} of the pixels should change, "
                                            f"{changed:.1%} did: use one draw per pixel, hit when below p")
        require(not bool((hit == hit[0]).all()),
                "every image of the batch gets the same noise mask: draw it for the whole batch "
                "(torch.rand_like(X)), not for one image")
        overlap = (hit[0] * hit[1:]).mean().item()  # independent masks: about rate², one shared mask: rate
        require(overlap < (rate ** 2 + rate) / 2, "the images' noise masks are (nearly) the same: draw a "
                                                  "fresh mask for every image, e.g. with torch.rand_like(X)")
        per_image = hit.mean(1)
        require(float(((per_image - rate).abs() < 0.1).float().mean()) > 0.9,
                "some images are hit everywhere and others nowhere: choose each pixel independently")
        salt = (y == 1).reshape(len(x), -1).float().sum(1) / hit.sum(1).clamp_min(1)
        require(0.4 < salt.mean().item() < 0.6, "salt (1) and pepper (0) should be about equally frequent")
        require(float(((salt > 0.25) & (salt < 0.75)).float().mean()) > 0.9,
                "each image gets only salt or only pepper: choose 0 or 1 for each pixel, not each image")
        layer.eval()
        require(torch.equal(layer(x), x), "in eval mode the layer must return its input unchanged")
    return correct("independent salt-and-pepper noise for every pixel of every image in training, identity in eval.")


def _rmse(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).square().mean().sqrt().item()


class _HalvingModel(nn.Module):
    """A stand-in denoiser with a known output: half its input in eval mode, plus noise in training mode."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))

    def forward(self, X: torch.Tensor):
        from dl101.autoencoders import AEOutput

        out = self.scale * X
        if self.training:
            out = out + 0.3 * torch.randn_like(out)
        return AEOutput(out, out.flatten(1))


def _run_denoising_rmse(fn, model, clean: torch.Tensor, noisy: torch.Tensor) -> float:
    """Call the learner's function twice; it must give the mode back and not depend on the random state."""
    was_training = model.training
    results = []
    for seed in (1, 2):  # a right answer does not depend on the random state
        try:
            with own_random_state(seed):
                results.append(fn(model, clean, noisy))
        finally:
            left_in = model.training
            model.train(was_training)  # whatever the function did, the model keeps its mode
        require(left_in == was_training,
                f"your function left the model in {'training' if left_in else 'eval'} mode: evaluate inside "
                "`with dl101.modes.eval_mode(model):`, which restores the mode it found")
    first, second = (as_number(r, "denoising_rmse(model, clean, noisy)") for r in results)
    require(close_enough(first, second, 1e-6),
            "your function gives a different RMSE at every call: the corruption layer is still on "
            "(training mode). Evaluate in eval mode, `with dl101.modes.eval_mode(model):`")
    return first


def check_denoising_rmse(answer, model, clean: torch.Tensor, noisy: torch.Tensor) -> None:
    """RMSE between clean images and the model's reconstructions of their noisy versions.

    ``answer`` is the number, or a function ``(model, clean, noisy) -> rmse``: it then runs first on a
    stand-in model whose output is known (so every mistake shows, however well the learner's model is
    trained), then on ``model``.
    """
    was_training = model.training
    if callable(answer) and not isinstance(answer, torch.Tensor):
        probe = _HalvingModel().to(clean.device).train()
        got = _run_denoising_rmse(answer, probe, clean, noisy)
        half = lambda X: 0.5 * X  # noqa: E731  (the probe's eval-mode output)
        want = _rmse(half(noisy), clean)
        if not close_enough(got, want, 1e-4):
            for hint, value in {
                "you fed the CLEAN images to the model: feed the noisy ones, compare with the clean ones":
                    _rmse(half(clean), clean),
                "you compared the reconstructions with the NOISY images: compare them with the CLEAN ones":
                    _rmse(half(noisy), noisy),
                "that is the RMSE between the noisy and the clean images: run the model on the noisy images "
                "first": _rmse(noisy, clean),
                "that is the mean squared error: take its square root": want ** 2,
            }.items():
                require(close_enough(value, want, 1e-4) or not close_enough(got, value, 1e-4), hint)
            require(False, "on a stand-in model whose output is half its input, your function's RMSE is off: "
                           "feed the NOISY images in eval mode, compare with the CLEAN ones, and take the "
                           "square root of the mean squared error over all pixels")
        answer = _run_denoising_rmse(answer, model, clean, noisy)
    got = as_number(answer, "rmse")
    with torch.no_grad(), eval_mode(model):
        out = model(noisy).output
        want = _rmse(out, clean)
        variants = {
            "you fed the CLEAN images to the model: feed the noisy ones, compare with the clean ones":
                _rmse(model(clean).output, clean),
            "you compared the reconstructions with the NOISY images: compare them with the CLEAN ones":
                _rmse(out, noisy),
            "that is the RMSE between the noisy and the clean images: run the model on the noisy images first":
                _rmse(noisy, clean),
            "that is the mean squared error: take its square root": want ** 2,
        }
    if not close_enough(got, want, 0.01):
        for hint, value in variants.items():
            # a variant that equals the right value (clean == noisy, say) is no mistake
            require(close_enough(value, want, 0.01) or not close_enough(got, value, 0.01), hint)
        with torch.no_grad(), own_random_state():
            model.train()
            try:  # training mode gives a random result: compare with the spread of a few draws
                draws = torch.tensor([_rmse(model(noisy).output, clean) for _ in range(5)], dtype=torch.float64)
            finally:
                model.train(was_training)
        spread = max(4 * draws.std().item(), 0.005 * draws.mean().item())
        require(abs(got - draws.mean().item()) > spread,
                "the corruption layer was on (training mode): evaluate in eval mode, "
                "`with dl101.modes.eval_mode(model):`")
        require(False, f"got {got:.4f}: feed the NOISY images in eval mode, compare with the CLEAN ones, and "
                       "take the square root of the mean squared error over all pixels")
    return correct(f"RMSE {got:.4f} against the clean images.")


def check_best_denoiser(best, models: dict, clean: torch.Tensor, noisy: torch.Tensor) -> None:
    """The name of the model in ``models`` whose reconstructions of ``noisy`` are closest to ``clean``."""
    names = ", ".join(f'"{k}"' for k in models)
    require(isinstance(best, str) and best in models, f"best_denoiser should be one of the names {names}, "
                                                      f"got {best!r}")
    scores = {}
    for name, model in models.items():
        with torch.no_grad(), eval_mode(model):
            scores[name] = _rmse(model(noisy).output, clean)
    winner = min(scores, key=scores.get)
    tie = scores[best] <= scores[winner] * 1.005
    require(tie, f'"{best}" is not the lowest: compute denoising_rmse for every model in models on the same '
                 "noisy images and take the name with the smallest RMSE")
    return correct(f'"{best}" denoises best here (RMSE {scores[best]:.4f}).')


QUESTIONS["05-a"] = Choice(right="c", why={
    "a": "No: the first linear layer does keep the means, but the ReLU after it does not: averaging ReLU "
         "outputs is not the ReLU of the averaged input, and the same holds for the sigmoid at the end.",
    "b": "No: nn.Dropout(0.5) doubles the pixels it keeps, so each pixel is x on average in training mode, as "
         "bright as in eval mode; the difference comes later, from the non-linear layers.",
    "c": "Yes: dropout makes the INPUT right on average, but the network is not linear (ReLU, sigmoid), and "
         "the mean of f(input) differs from f(mean input). Eval mode's 'no dropout' is an approximation of "
         "that average, usually a close one.",
    "d": "No: the rescaling makes each layer's input right on average only for the layer right after dropout; "
         "it would give the eval output exactly only for a linear network, and this one has ReLUs and a "
         "sigmoid.",
})
QUESTIONS["05-b"] = Choice(right="b", why={
    "a": "No: 'noise' is not one thing: the Gaussian model saw small changes on every pixel; a few pixels "
         "jumping to 0 or 1 is a damage it never saw in training, so its 0.25 need not carry over.",
    "b": "Yes: robustness is learned for the damage seen in training. Salt-and-pepper changes a few pixels by "
         "a lot (the pepper half resembles dropout's zeroed pixels, the salt half nothing any model saw), so "
         "which encoder is steadiest has to be measured.",
    "c": "No: the weights are the whole difference; the same architecture trained on different inputs gives "
         "different encoders, as 0.56 / 0.47 / 0.25 under Gaussian noise already show.",
    "d": "No: 0 and 1 occur in clean images, but not in random places: a white pixel in a dark background is "
         "what the clean-trained model never saw, and nothing trained it to ignore such pixels.",
})
QUESTIONS["05-c"] = Choice(right="d", why={
    "a": "No: that is dropout without rescaling; nn.Dropout divides the kept values by the keep rate 1 − p = "
         "0.2, so the average stays 0.5 and eval mode does nothing at all.",
    "b": "No: p is the probability of ZEROING a value, not of keeping it, and the kept values are divided by "
         "the keep rate 1 − p = 0.2, not by p.",
    "c": "No: dropout is random for every pixel: each one is either zeroed or kept (and rescaled), never "
         "scaled by a fixed factor.",
    "d": "Yes: each pixel is zeroed with probability 0.8 and a kept one is divided by 1 − 0.8 = 0.2, so 0.5 "
         "becomes 0 or 2.5; 0.2 × 2.5 = 0.5 on average, which is why eval mode needs no rescaling.",
})


# Chapter 06 ---------------------------------------------------------------------------------------


def _mean_activation(model, images: torch.Tensor) -> float:
    from dl101.autoencoders import encode_all

    return encode_all(model, images).double().mean().item()


def check_sparsity_tradeoff(l1_weight, l1_ae, plain_ae, images: torch.Tensor, max_mean: float = 0.05,
                            max_increase: float = 0.05) -> None:
    """An L1-penalised model with mean code activation ≤ ``max_mean`` and RMSE within ``max_increase`` of
    the unpenalised model's, both measured here on ``images``."""
    weight = as_number(l1_weight, "l1_weight")
    require(weight > 0, f"l1_weight should be the positive weight you chose, got {weight}")
    require(isinstance(l1_ae, nn.Module) and isinstance(plain_ae, nn.Module),
            "l1_ae and plain_ae should be trained models (nn.Module)")
    require(l1_ae is not plain_ae, "l1_ae and plain_ae are the same model: train one without and one with "
                                   "the penalty")
    plain_mean, l1_mean = _mean_activation(plain_ae, images), _mean_activation(l1_ae, images)
    require(plain_mean > 2 * max_mean, f"plain_ae's mean activation is {plain_mean:.3f}, already sparse: train "
                                       "it without any penalty (plain MSE) so that it is the reference")
    plain_rmse, l1_rmse = _rmse_of(plain_ae, images), _rmse_of(l1_ae, images)
    require(l1_mean <= max_mean, f"l1_ae's mean activation is {l1_mean:.3f}, above {max_mean}: "
                                 "try a larger weight")
    increase = l1_rmse / plain_rmse - 1
    require(increase <= max_increase, f"l1_ae's RMSE is {increase:.1%} above plain_ae's (at most "
                                      f"{max_increase:.0%}): the penalty is too strong, try a smaller weight")
    return correct(f"mean activation {l1_mean:.3f} (unpenalised {plain_mean:.3f}) for an RMSE change of "
                   f"{increase:+.1%}, with weight {weight:g}.")


def _require_most_active_unit_function(fn) -> None:
    """Run ``fn`` on made-up codings where each likely mistake picks a different unit."""
    labels = torch.tensor([1] * 10 + [0] * 30)
    codings = torch.full((40, 6), 0.1)
    codings[:10] = torch.tensor([0.01, 0.2, 0.6, 0.2, 0.1, 0.3])  # class 1: unit 2 has the highest mean
    codings[0, 4] = 0.95                                           # unit 4: the largest single activation
    codings[10:, 5] = 0.9                                          # unit 5: the highest over all images
    got = as_count(fn(codings.clone(), labels.clone(), 1), "most_active_unit(codings, labels, cls)")
    hints = {5: "that unit fires most over ALL images; keep only the images of class cls "
                "(codings[labels == cls]) before averaging",
             4: "that unit has the largest single activation; average each unit over the class's images "
                "(.mean(0)) and take the argmax of the means",
             0: "that is the unit that fires least: argmax, not argmin"}
    require(got == 2, hints.get(got, f"on made-up codings where unit 2 has the highest mean over class 1, your "
                                     f"function returned {got}: average over the class's images (dim 0), "
                                     "then take the argmax"))


def check_most_active_unit(unit, model, images: torch.Tensor, labels: torch.Tensor, cls: int) -> None:
    """The code unit with the highest mean activation on images of class ``cls``.

    ``unit`` is the index, or a function ``(codings, labels, cls) -> index`` that is then run here.
    """
    from dl101.autoencoders import encode_all

    codings, labels = encode_all(model, images), labels.cpu()
    if callable(unit):
        _require_most_active_unit_function(unit)
        unit = unit(codings.clone(), labels.clone(), cls)
    got = as_count(unit, "unit")
    require(0 <= got < codings.shape[1], f"unit should be an index between 0 and {codings.shape[1] - 1}, got {got}")
    means = codings[labels == cls].mean(0)
    want = int(means.argmax())
    if got != want:
        require(got != int(codings.mean(0).argmax()),
                f"that unit fires most over ALL images; keep only the images of class {cls} "
                "(codings[labels == cls]) before averaging")
        require(got != int(codings[labels == cls].max(0).values.argmax()),
                "that unit has the largest single activation; average each unit over the class's images "
                "(.mean(0)) and take the argmax of the means")
        require(got != int(means.argmin()), "that is the unit that fires least: argmax, not argmin")
        require(False, f"unit {got} has mean activation {means[got]:.3f} on class {cls}, and another unit has "
                       "more: average the codings over the class's images (dim 0), then take the argmax")
    return correct(f"unit {want} fires most (mean {means[want]:.3f}) for class {cls}.")


QUESTIONS["06-a"] = Choice(right="d", why={
    "a": 'No: p·log(p/q) does grow as q → 0, but at q = 0.075 the unit is close to p: KL(0.1 ‖ 0.075) ≈ 0.004 nats with slope ≈ −0.36, against ≈ 0.058 nats and slope ≈ +0.74 at q = 0.231. The unit above p is pulled harder.',
    "b": "No: the penalty is a sum over units of KL(p ‖ q_j), each with its own unit's mean q_j, so each unit is pushed according to its own distance from p: about +0.74 per unit of q at 0.231, −0.36 at 0.075.",
    "c": 'No: KL(p ‖ q) has a slope as soon as q ≠ p (−p/q + (1 − p)/(1 − q)): +0.74 at 0.231, −0.36 at 0.075. The spread survived at 1e-5 because that weight is small against the reconstruction error, not because the penalty is flat.',
    "d": 'Yes: KL(0.1 ‖ 0.231) ≈ 0.058 nats with slope −p/q + (1 − p)/(1 − q) ≈ +0.74, against ≈ 0.004 nats and slope ≈ −0.36 at 0.075. The busy unit is more than five times as far from p (0.131 above it, against 0.025 below), so its term is about 14 times larger and its slope twice as steep: a larger weight reins in the busiest units first. (At equal distances KL(p ‖ q) is in fact steeper below p: 0.0041 nats at 0.075 against 0.0030 at 0.125.)',
})
QUESTIONS["06-b"] = Choice(right="c", why={
    "a": 'No: the slope of weight·|a| is the same weight / (number of values) for every positive activation, small or large; and the KL penalty pushes a quiet unit up, not down, since its slope is negative for q < p.',
    "b": 'No: the L1 penalty has no target at all: its slope is the same positive constant for every unit, so it only ever pushes down. Pulling a unit back towards a target is what the KL penalty does, towards p.',
    "c": "Yes: weight·|a| has the same slope for every positive activation, so L1 pushes a quiet unit down as hard as a busy one and never pushes it back; only the reconstruction error can keep it alive. The KL penalty's slope −p/q + (1 − p)/(1 − q) is negative for q < p: it pushes a quiet unit back up towards p. Count the units of your l1_ae and of sparse_ae with a mean below 0.01 and compare.",
    "d": 'No: the codes come out of a sigmoid, which is always positive; and below 0, |a| would grow again, so a negative activation would raise the L1 penalty, not lower it.',
})
QUESTIONS["06-c"] = Choice(right="a", why={
    "a": "Yes: the penalty sees only the unit's mean over the batch, q = 0.1 = p, so it is 0; yet an output that is the same for every image says nothing about the image. Sparsity per image is not what the KL penalty asks for.",
    "b": 'No: q is the mean over the batch, 0.1, equal to p, so KL(p || q) is exactly 0; the penalty never looks at whether single activations are 0 or 1.',
    "c": 'No: the penalty is the KL divergence of the batch mean from p; it does not look at each activation, so a constant 0.1 costs nothing.',
    "d": 'No: the penalty is 0, but a constant unit carries no information about the image; the decoder can only use it as an extra bias.',
})

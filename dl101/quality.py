"""How good are generated clothes? A Fréchet distance and a class histogram, both judged by a classifier.

The usual FID compares Inception-v3 features of real and generated photos. Inception never saw
28×28 gray clothes, so here the judge is ``dl101.classifier.FashionClassifier``: the Fréchet
distance between its penultimate features of two image sets (lower is closer; 0 for identical
statistics), and a histogram of the classes it sees (a generator that forgot a class shows a gap).
Both leave the classifier's mode and the global random state as they were.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dl101.classifier import N_CLASSES, predict
from dl101.modes import eval_mode
from dl101.shapes import validate_images

RANGE_TOLERANCE = 1e-2  # a generator's float rounding may overshoot [0, 1] a little; [-1, 1] may not


class ClassifierFeatures(nn.Module):
    """Adapter for torchmetrics' FID: (N, C, H, W) uint8 or float images -> the classifier's features.

    torchmetrics gives a custom feature module uint8 images in [0, 255] in some versions and float
    images in [0, 1] in others, and probes it with a dummy (1, 3, 299, 299) image: all are turned
    into float (N, 1, 28, 28) in [0, 1] (mean over channels, resized when needed).
    """

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier
        self.num_features = int(classifier.n_features)  # torchmetrics reads this instead of probing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device = next(self.classifier.parameters()).device
        x = x.to(device)
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        x = x.mean(1, keepdim=True)
        if x.shape[-2:] != (28, 28):
            x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False, antialias=True)
        with eval_mode(self.classifier):  # dropout off; the caller's mode comes back afterwards
            return self.classifier.features(x)


def check_unit_range(images: torch.Tensor, name: str) -> torch.Tensor:
    """Raise a clear error unless ``images`` are float (N, C, H, W) in [0, 1]; return them clamped."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.dim() != 4:
        validate_images(images, name=name)  # its message says what arrived and how to fix it
    if len(images) < 2:
        raise ValueError(f"{name}: a Fréchet distance needs at least 2 images (a covariance), got {len(images)}")
    low, high = images.min().item(), images.max().item()
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        hint = ": diffusion samples are in [-1, 1], convert them with (x + 1) / 2" if low < -0.5 else ""
        raise ValueError(f"expected {name} with pixels in [0, 1], got values from {low:.3g} to {high:.3g}{hint}")
    return images.clamp(0, 1)


@torch.no_grad()
def frechet_distance(real: torch.Tensor, fake: torch.Tensor, classifier: nn.Module, batch_size: int = 500) -> float:
    """Fréchet distance between the classifier's features of ``real`` and ``fake`` images (lower is closer)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    real, fake = check_unit_range(real, "real images"), check_unit_range(fake, "fake images")
    device = next(classifier.parameters()).device
    with torch.random.fork_rng(devices=[]):  # older torchmetrics probe the module with a random image
        fid = FrechetInceptionDistance(feature=ClassifierFeatures(classifier), normalize=True).to(device)
    for images, is_real in ((real, True), (fake, False)):
        for chunk in images.split(batch_size):
            fid.update(chunk.to(device), real=is_real)
    return fid.compute().item()


def class_histogram(images: torch.Tensor, classifier: nn.Module) -> torch.Tensor:
    """How many of ``images`` the classifier puts in each class: a (10,) int64 tensor on the CPU."""
    return torch.bincount(predict(classifier, images), minlength=N_CLASSES)


def show_class_histogram(counts: torch.Tensor, classes, title: str | None = None, ax=None):
    """Bar chart of the share of images per class, with the uniform share (real data) dashed."""
    import matplotlib.pyplot as plt

    counts = torch.as_tensor(counts).cpu().float()
    if len(counts) != len(classes):
        raise ValueError(f"got {len(counts)} counts for {len(classes)} class names: pass one count per class")
    ax = ax or plt.subplots(figsize=(7, 3))[1]
    shares = 100 * counts / counts.sum().clamp(min=1)
    ax.bar(range(len(classes)), shares.numpy(), color="tab:blue")
    ax.axhline(100 / len(classes), color="gray", linestyle="--", label="uniform")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_ylabel("% of images")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax


def judge_samples(samples: torch.Tensor, real: torch.Tensor, classifier: nn.Module, classes,
                  name: str) -> dict:
    """Score ``samples`` (pixels in [0, 1]) against ``real`` and draw their class histogram.

    Returns ``{"fd": Fréchet distance, "counts": samples per class}``, the numbers a chapter records.
    """
    import matplotlib.pyplot as plt

    fd = frechet_distance(real, samples, classifier)
    counts = class_histogram(samples, classifier)
    show_class_histogram(counts, classes, title=f"{name}: Fréchet distance {fd:.1f}")
    plt.show()
    return {"fd": fd, "counts": counts.tolist()}

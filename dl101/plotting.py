"""Pictures: one image, a grid, originals against reconstructions, learning curves.

Images may be in [0, 1] (autoencoders, VAEs, GANs) or in [-1, 1] (diffusion: pass
``value_range=(-1, 1)``), on any device, shaped (N, 1, H, W), (1, H, W) or (H, W).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from dl101.modes import eval_mode
from dl101.training import output_of


def to_numpy_image(image, value_range: tuple = (0, 1)) -> np.ndarray:
    """One image -> an (H, W) float array in [0, 1] for ``imshow``."""
    image = torch.as_tensor(image).detach().float().cpu()
    if image.dim() == 3:
        if image.shape[0] != 1:
            raise ValueError(f"expected one gray image (1, H, W), got {tuple(image.shape)}")
        image = image[0]
    if image.dim() != 2:
        raise ValueError(f"expected an image shaped (H, W) or (1, H, W), got {tuple(image.shape)}")
    low, high = value_range
    return ((image - low) / (high - low)).clamp(0, 1).numpy()


def show_image(image, ax=None, value_range: tuple = (0, 1), title: str | None = None):
    """Draw one gray image without axes (dark ink on white, like the original lesson's figures)."""
    ax = ax or plt.gca()
    ax.imshow(to_numpy_image(image, value_range), cmap="binary", vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def show_images(images, n_cols: int | None = None, titles=None, value_range: tuple = (0, 1),
                size: float = 1.2, suptitle: str | None = None):
    """Draw a grid of images; returns the figure."""
    images = torch.as_tensor(images).detach().cpu()
    if images.dim() == 3:
        images = images.unsqueeze(1)
    n = len(images)
    n_cols = min(n_cols or n, n) or 1
    n_rows = (n - 1) // n_cols + 1
    title_room = 0.35 if suptitle else 0.0  # inches: without it the title squeezes a short strip to specks
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * size, n_rows * size + title_room), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            show_image(images[i], ax, value_range, titles[i] if titles is not None else None)
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


@torch.no_grad()
def show_reconstructions(model, images: torch.Tensor, n_images: int = 5, inputs=None,
                         value_range: tuple = (0, 1), title: str | None = None):
    """Originals (top row) above the model's reconstructions (bottom row).

    ``inputs`` lets you feed corrupted images while showing them on top (denoising autoencoders).
    """
    shown = (images if inputs is None else inputs)[:n_images]
    with eval_mode(model):
        pred = output_of(model(shown))
    fig = show_images(torch.cat([shown.cpu(), pred.cpu()]), n_cols=len(shown), value_range=value_range,
                      size=1.5, suptitle=title)
    fig.axes[0].set_title("input", fontsize=9, loc="left")
    fig.axes[len(shown)].set_title("reconstruction", fontsize=9, loc="left")
    return fig


def plot_history(history, metric: str = "RMSE", ax=None, title: str | None = None):
    """Learning curves: training loss, and training/validation metric per epoch."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_metric"], "b.-", label=f"train {metric}")
    if any(v is not None for v in history.get("valid_metric", [])):
        ax.plot(epochs, history["valid_metric"], "r.-", label=f"valid {metric}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_gan_history(history, ax=None):
    """D and G losses per epoch."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    epochs = np.arange(1, len(history["d_loss"]) + 1)
    ax.plot(epochs, history["d_loss"], "r.-", label="discriminator")
    ax.plot(epochs, history["g_loss"], "b.-", label="generator")
    ax.set_xlabel("epoch")
    ax.set_ylabel("BCE loss")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def scatter_with_thumbnails(points, images, labels, class_names=None, min_distance: float = 0.04,
                            max_thumbnails: int = 120, ax=None):
    """2-D points coloured by class, with some images drawn at their points (t-SNE maps)."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    points = np.asarray(points, dtype=float)
    labels = np.asarray(torch.as_tensor(labels).cpu())
    z = (points - points.min(0)) / (points.max(0) - points.min(0))  # into the unit square
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 8))
    cmap = plt.cm.tab10
    ax.scatter(z[:, 0], z[:, 1], c=labels, s=8, cmap=cmap, vmin=-0.5, vmax=9.5)
    placed = np.array([[10.0, 10.0]])
    for i, position in enumerate(z):
        if len(placed) > max_thumbnails:
            break
        if ((position - placed) ** 2).sum(1).min() > min_distance ** 2 * 4:
            placed = np.r_[placed, [position]]
            box = AnnotationBbox(OffsetImage(to_numpy_image(images[i]), cmap="binary", zoom=0.6), position,
                                 bboxprops={"edgecolor": cmap(int(labels[i])), "lw": 2})
            ax.add_artist(box)
    if class_names is not None:
        handles = [plt.Line2D([], [], marker="o", ls="", color=cmap(k), label=n) for k, n in enumerate(class_names)]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1, 1), fontsize=9)
    ax.axis("off")
    return ax


def top_activating(codings: torch.Tensor, images: torch.Tensor, unit: int, n: int = 35) -> torch.Tensor:
    """The ``n`` images that excite code ``unit`` most, strongest first."""
    if not 0 <= unit < codings.shape[1]:
        raise ValueError(f"unit must be between 0 and {codings.shape[1] - 1}, got {unit}")
    order = codings[:, unit].argsort(descending=True)[:n]
    return images[order.to(images.device)]


def show_top_activating(codings: torch.Tensor, images: torch.Tensor, unit: int, n: int = 35, n_cols: int = 7):
    """Grid of the images that excite one code unit most."""
    return show_images(top_activating(codings, images, unit, n), n_cols=n_cols,
                       suptitle=f"the {n} images that excite code unit {unit} most")

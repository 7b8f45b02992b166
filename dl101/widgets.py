"""Interactive explorers. Each has plain, testable logic (``image_at``), a ``figure()`` that draws a
static version (for GitHub or wherever widgets don't render) and a ``widget()`` for Jupyter.

Only widget API common to ipywidgets 7 and 8 is used (Colab ships 7).
"""
from __future__ import annotations

import io
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from dl101.plotting import show_images, to_numpy_image


def png_bytes(image: np.ndarray, scale: int = 6) -> bytes:
    """An (H, W) array in [0, 1] -> PNG bytes, enlarged ``scale`` times with sharp pixels."""
    from PIL import Image

    gray = (255 * (1 - np.repeat(np.repeat(image, scale, 0), scale, 1))).astype(np.uint8)  # dark ink
    buffer = io.BytesIO()
    Image.fromarray(gray, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


class _Explorer:
    value_range = (0, 1)

    def _image_widget(self, image):
        import ipywidgets as W

        return W.Image(value=png_bytes(image), format="png", width=168, height=168)


class InterpolationExplorer(_Explorer):
    """Decode points on the line between two codings; a slider moves along it."""

    def __init__(self, decode: Callable, z_start: torch.Tensor, z_end: torch.Tensor):
        if z_start.shape != z_end.shape:
            raise ValueError(f"both codings need the same shape, got {tuple(z_start.shape)} "
                             f"and {tuple(z_end.shape)}")
        self.decode, self.z_start, self.z_end = decode, z_start, z_end

    @torch.no_grad()
    def image_at(self, alpha: float) -> np.ndarray:
        """The decoded image at ``alpha`` ∈ [0, 1] along the path, as an (H, W) array."""
        z = torch.lerp(self.z_start, self.z_end, float(alpha)).unsqueeze(0)
        return to_numpy_image(self.decode(z)[0], self.value_range)

    def figure(self, n_steps: int = 9):
        """A static strip of the interpolation."""
        alphas = np.linspace(0, 1, n_steps)
        images = torch.tensor(np.stack([self.image_at(a) for a in alphas])).unsqueeze(1)
        return show_images(images, titles=[f"{a:.2f}" for a in alphas])

    def widget(self):
        """A slider for α and the decoded image."""
        import ipywidgets as W

        image = self._image_widget(self.image_at(0.0))
        slider = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="α",
                               continuous_update=True)
        slider.observe(lambda change: setattr(image, "value", png_bytes(self.image_at(change["new"]))),
                       names="value")
        box = W.VBox([slider, image])
        box.add_class("dl101-interpolation")  # a handle for browser tests and custom CSS
        return box


class LatentGridExplorer(_Explorer):
    """A 2-D latent space: the manifold of decoded images on a grid, and sliders for (z₁, z₂)."""

    def __init__(self, decode: Callable, limit: float = 2.5, device=None):
        self.decode, self.limit, self.device = decode, limit, device

    @torch.no_grad()
    def image_at(self, z1: float, z2: float) -> np.ndarray:
        """The decoded image at the latent point (z₁, z₂)."""
        z = torch.tensor([[float(z1), float(z2)]], device=self.device)
        return to_numpy_image(self.decode(z)[0], self.value_range)

    def figure(self, n: int = 12):
        """The manifold: decoded images on an n×n grid over [-limit, limit]², z₂ growing upwards."""
        values = np.linspace(-self.limit, self.limit, n)
        canvas = np.ones((28 * n, 28 * n))
        for row, z2 in enumerate(values[::-1]):
            for col, z1 in enumerate(values):
                canvas[row * 28:(row + 1) * 28, col * 28:(col + 1) * 28] = self.image_at(z1, z2)
        fig, ax = plt.subplots(figsize=(6, 6))
        ax.imshow(canvas, cmap="binary", extent=[-self.limit, self.limit, -self.limit, self.limit])
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
        return fig

    def widget(self):
        """Two sliders (z₁, z₂) and the decoded image."""
        import ipywidgets as W

        image = self._image_widget(self.image_at(0.0, 0.0))
        sliders = [W.FloatSlider(value=0.0, min=-self.limit, max=self.limit, step=0.1, description=d)
                   for d in ("z₁", "z₂")]

        def update(_):
            image.value = png_bytes(self.image_at(sliders[0].value, sliders[1].value))

        for s in sliders:
            s.observe(update, names="value")
        box = W.HBox([W.VBox(sliders), image])
        box.add_class("dl101-latent-grid")
        return box


class TrajectoryExplorer(_Explorer):
    """Scrub through a sampling trajectory x_T … x_0 of one image."""

    value_range = (-1, 1)

    def __init__(self, trajectory: Sequence[tuple[int, torch.Tensor]], index: int = 0):
        if not trajectory:
            raise ValueError("the trajectory is empty: sample with keep_every > 0 to record one")
        self.steps = [int(t) for t, _ in trajectory]
        self.frames = [x[index] for _, x in trajectory]

    def image_at(self, position: int) -> np.ndarray:
        """The image at ``position`` along the trajectory (0 = pure noise x_T, last = x_0)."""
        return to_numpy_image(self.frames[int(position)], self.value_range)

    def figure(self, n_frames: int = 8):
        """A static strip of snapshots from noise to image."""
        idx = np.linspace(0, len(self.frames) - 1, min(n_frames, len(self.frames))).round().astype(int)
        images = torch.stack([self.frames[i] for i in idx])
        return show_images(images, titles=[f"t={self.steps[i]}" for i in idx], value_range=(-1, 1))

    def widget(self):
        """A slider over the trajectory's positions, the step t, and the image."""
        import ipywidgets as W

        image = self._image_widget(self.image_at(0))
        label = W.Label(f"t = {self.steps[0]}")
        slider = W.IntSlider(value=0, min=0, max=len(self.frames) - 1, description="position")

        def update(change):
            image.value = png_bytes(self.image_at(change["new"]))
            label.value = f"t = {self.steps[change['new']]}"

        slider.observe(update, names="value")
        box = W.VBox([W.HBox([slider, label]), image])
        box.add_class("dl101-trajectory")
        return box


class GuidanceExplorer(_Explorer):
    """One prompt, a slider over guidance scales, and the same starting noise drawn at each scale."""

    def __init__(self, pipe, prompt: str = "sneaker", scales: Sequence[float] = (0, 1, 2, 3, 5, 8),
                 n_images: int = 6, n_steps: int = 25, seed: int = 0):
        from dl101.latent import encode_prompts

        encode_prompts(prompt)  # an unknown prompt fails here, with the list of known ones
        self.pipe, self.prompt, self.scales = pipe, prompt, [float(s) for s in scales]
        self.n_images, self.n_steps, self.seed = n_images, n_steps, seed
        self._cache: dict[tuple[str, float], torch.Tensor] = {}

    def images_at(self, scale: float, prompt: str | None = None) -> torch.Tensor:
        """``n_images`` images (N, 1, 28, 28) of ``prompt`` at guidance ``scale``, always from the same noise."""
        key = (prompt or self.prompt, float(scale))
        if key not in self._cache:
            generator = torch.Generator().manual_seed(self.seed)
            self._cache[key] = self.pipe([key[0]] * self.n_images, guidance_scale=key[1], n_steps=self.n_steps,
                                         generator=generator).cpu()
        return self._cache[key]

    def image_at(self, scale: float, prompt: str | None = None) -> np.ndarray:
        """The images at ``scale`` side by side, as one (28, 28·n) array."""
        return np.concatenate([to_numpy_image(x, self.value_range) for x in self.images_at(scale, prompt)], axis=1)

    def figure(self):
        """A static strip: one row of images per guidance scale."""
        images = torch.cat([self.images_at(s) for s in self.scales])
        fig = show_images(images, n_cols=self.n_images)
        for row, scale in enumerate(self.scales):
            fig.axes[row * self.n_images].set_title(f"s = {scale:g}", loc="left", fontsize=9)
        fig.suptitle(f"\"{self.prompt}\" at each guidance scale (same starting noise)")
        fig.tight_layout()
        return fig

    def widget(self):
        """A prompt menu, a guidance-scale slider and the images, redrawn on every change."""
        import ipywidgets as W

        from dl101.latent import PROMPTS

        image = W.Image(value=png_bytes(self.image_at(self.scales[0]), scale=4), format="png",
                        width=28 * 4 * self.n_images)  # drawn at its own size, not stretched to the page
        prompt = W.Dropdown(options=list(PROMPTS), value=self.prompt, description="prompt")
        slider = W.SelectionSlider(options=self.scales, value=self.scales[0], description="scale s")

        def update(_):
            image.value = png_bytes(self.image_at(slider.value, prompt.value), scale=4)

        prompt.observe(update, names="value")
        slider.observe(update, names="value")
        box = W.VBox([W.HBox([prompt, slider]), image])
        box.add_class("dl101-guidance")
        return box


def unit_picker(codings: torch.Tensor, images: torch.Tensor, unit: int = 6, n: int = 35):
    """A slider choosing a code unit, and the grid of images that excite it most."""
    import ipywidgets as W
    from IPython.display import display

    from dl101.plotting import show_top_activating

    out = W.Output()
    slider = W.IntSlider(value=unit, min=0, max=codings.shape[1] - 1, description="unit",
                         continuous_update=False)

    def draw(change=None):
        with out:
            out.clear_output(wait=True)
            show_top_activating(codings, images, slider.value, n)
            plt.show()

    slider.observe(draw, names="value")
    draw()
    display(W.VBox([slider, out]))

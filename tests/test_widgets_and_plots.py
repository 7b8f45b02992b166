import numpy as np
import pytest
import torch

from dl101 import plotting, widgets
from dl101.vae import VAE


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return VAE(codings_dim=2).eval()


def test_interpolation_update_returns_the_decoded_image_for_a_slider_value(vae):
    a, b = torch.zeros(2), torch.ones(2) * 2
    explorer = widgets.InterpolationExplorer(vae.decode, a, b)
    with torch.no_grad():
        expected = vae.decode(torch.tensor([[1.0, 1.0]]))[0, 0].numpy()
    assert np.allclose(explorer.image_at(0.5), expected, atol=1e-6)
    assert not np.allclose(explorer.image_at(0.0), explorer.image_at(1.0))


def test_the_interpolation_widget_redraws_when_the_slider_moves(vae):
    box = widgets.InterpolationExplorer(vae.decode, torch.zeros(2), torch.ones(2) * 3).widget()
    slider, image = box.children
    before = image.value
    slider.value = 1.0
    assert image.value != before and image.value[:4] == b"\x89PNG"


def test_the_latent_grid_explorer_decodes_the_point_under_its_sliders(vae):
    explorer = widgets.LatentGridExplorer(vae.decode, limit=2.0)
    with torch.no_grad():
        expected = vae.decode(torch.tensor([[0.5, -1.0]]))[0, 0].numpy()
    assert np.allclose(explorer.image_at(0.5, -1.0), expected, atol=1e-6)
    box = explorer.widget()
    (z1, z2), image = box.children[0].children, box.children[1]
    before = image.value
    z2.value = -1.5
    assert image.value != before
    canvas = np.asarray(explorer.figure(n=4).axes[0].images[0].get_array())
    assert canvas.shape == (4 * 28, 4 * 28)  # a 4×4 grid of decoded images, z₂ growing upwards
    assert np.allclose(canvas[:28, :28], explorer.image_at(-2.0, 2.0), atol=1e-6)


def test_the_trajectory_explorer_shows_each_saved_step():
    frames = [(t, torch.full((2, 1, 28, 28), v)) for t, v in ((100, -1.0), (50, 0.0), (0, 1.0))]
    explorer = widgets.TrajectoryExplorer(frames)
    assert explorer.image_at(0).max() == 0 and explorer.image_at(2).min() == 1  # [-1, 1] -> [0, 1]
    box = explorer.widget()
    slider, label = box.children[0].children
    slider.value = 1
    assert label.value == "t = 50"
    with pytest.raises(ValueError, match="keep_every"):
        widgets.TrajectoryExplorer([])


@pytest.mark.parametrize("value_range", [(0, 1), (-1, 1)])
def test_image_grids_accept_both_value_ranges_and_any_batch_layout(value_range):
    low, high = value_range
    images = torch.linspace(low, high, 5 * 28 * 28).view(5, 1, 28, 28)
    fig = plotting.show_images(images, n_cols=3, value_range=value_range)
    assert len(fig.axes) == 6
    arr = plotting.to_numpy_image(images[-1], value_range)
    assert arr.min() >= 0 and arr.max() == pytest.approx(1.0)
    plotting.show_images(images[:, 0])  # (N, H, W) works too


def test_to_numpy_image_explains_a_wrong_shape():
    with pytest.raises(ValueError, match="one gray image"):
        plotting.to_numpy_image(torch.zeros(3, 28, 28))


def test_reconstructions_and_learning_curves_draw(fashion):
    from dl101.autoencoders import stacked_autoencoder

    fig = plotting.show_reconstructions(stacked_autoencoder(), fashion.valid_x, n_images=4)
    assert len(fig.axes) == 8
    ax = plotting.plot_history({"train_loss": [1, 0.5], "train_metric": [0.3, 0.2], "valid_metric": [0.3, 0.25]})
    assert len(ax.lines) == 2
    ax = plotting.plot_gan_history({"d_loss": [1, 0.9], "g_loss": [2, 1.5]})
    assert len(ax.lines) == 2


def test_the_unit_picker_redraws_the_top_images_of_the_chosen_unit(fashion, monkeypatch):
    import ipywidgets
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda w: shown.append(w))
    codings = torch.rand(50, 8)
    widgets.unit_picker(codings, fashion.valid_x[:50], unit=3, n=5)
    (box,) = shown
    slider = box.children[0]
    assert isinstance(slider, ipywidgets.IntSlider) and slider.max == 7
    top = plotting.top_activating(codings, fashion.valid_x[:50], 5, n=5)
    assert torch.equal(top[0], fashion.valid_x[codings[:, 5].argmax()])
    slider.value = 5  # redraws without error
    with pytest.raises(ValueError, match="between 0 and 7"):
        plotting.top_activating(codings, fashion.valid_x[:50], 8)


def test_a_title_does_not_shrink_a_strip_of_images():
    """A one-row strip keeps the image size it has without a title (the title gets its own room)."""
    from dl101.plotting import show_images

    def image_inches(**kwargs) -> float:
        fig = show_images(torch.zeros(14, 1, 28, 28), n_cols=14, size=0.8, **kwargs)
        return fig.axes[0].get_position().height * fig.get_size_inches()[1]

    plain, titled = image_inches(), image_inches(suptitle="β = 0.1: decoded prior samples")
    assert titled >= 0.9 * plain, f"a title shrank each image from {plain:.2f} to {titled:.2f} inches"

"""The CUDA-graph fast path. These run only where a GPU is present (not in CI)."""
import warnings

import pytest
import torch
import torchmetrics
from torch import nn

from dl101 import gan
from dl101.autoencoders import conv_autoencoder, stacked_autoencoder
from dl101.data import Batches, autoencoder_batches
from dl101.graphs import STALE_GRAPH_ADVICE
from dl101.training import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def images(fashion):
    return fashion.train_x.cuda(), fashion.valid_x.cuda()


def _fit(build, images, graphs, epochs=2):
    torch.manual_seed(0)
    model = build().cuda()
    history = train(model, torch.optim.NAdam(model.parameters(), lr=0.005), nn.MSELoss(),
                    torchmetrics.MeanSquaredError(squared=False),
                    autoencoder_batches(images[0], shuffle=True), autoencoder_batches(images[1], 256),
                    epochs, cuda_graphs=graphs, verbose=False)
    return history


@pytest.mark.parametrize("build", [stacked_autoencoder, conv_autoencoder])
def test_graphed_training_learns_like_eager_training(images, build):
    graphed, eager = _fit(build, images, True), _fit(build, images, False)
    assert graphed["valid_metric"][-1] == pytest.approx(eager["valid_metric"][-1], rel=0.05)
    assert graphed["valid_metric"][-1] < graphed["valid_metric"][0]


def test_a_stale_autograd_graph_turns_graphs_off_instead_of_breaking_the_rng(images):
    torch.manual_seed(0)
    model = conv_autoencoder().cuda()
    kept_alive = model(images[1][:2])  # a forward pass with gradients, its graph kept alive  # noqa: F841
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = train(model, torch.optim.NAdam(model.parameters(), lr=0.005), nn.MSELoss(),
                        torchmetrics.MeanSquaredError(squared=False), autoencoder_batches(images[0], shuffle=True),
                        None, 2, cuda_graphs=True, verbose=False)
    assert history.epochs == 2
    assert any(STALE_GRAPH_ADVICE in str(w.message) for w in caught)
    torch.randperm(10, device="cuda")  # the CUDA RNG still works


def test_graphed_gan_steps_train_both_networks(images):
    torch.manual_seed(0)
    g, d = gan.dcgan_generator(100).cuda(), gan.dcgan_discriminator().cuda()
    g0, d0 = [p.detach().clone() for p in g.parameters()], [p.detach().clone() for p in d.parameters()]
    history = gan.train_gan(g, d, Batches(images[0], batch_size=32, shuffle=True), 100, n_epochs=1,
                            cuda_graphs=True, verbose=False)
    assert all(not torch.equal(a, b) for a, b in zip(g0, g.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d0, d.parameters()))
    assert 0 < history["d_loss"][0] < 5 and all(p.requires_grad for p in d.parameters())


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_graphed_sampling_gives_the_eager_samplers_images(sampler):
    from dl101 import diffusion as D

    torch.manual_seed(0)
    schedule, model = D.cosine_schedule(50), D.DiffusionUNet(T=50).cuda()

    def sample(graphs):
        g = torch.Generator().manual_seed(3)
        if sampler == "ddpm":
            return D.ddpm_sample(model, schedule, n=8, generator=g, progress=False, cuda_graphs=graphs)
        return D.ddim_sample(model, schedule, n=8, n_steps=20, eta=0.5, generator=g, progress=False,
                             cuda_graphs=graphs)

    graphed, eager = sample(True), sample(False)
    # Float tolerance: convolutions captured in a graph may round differently in the last bit, and
    # DDPM's first step multiplies by 1/√α_T ≈ 31.6 (measured on an H200: at most 4e-4 after 50 steps).
    assert torch.allclose(graphed, eager, atol=2e-3), (graphed - eager).abs().max()

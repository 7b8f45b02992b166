import pytest
import torch
from torch.distributions import Bernoulli, kl_divergence

from dl101 import autoencoders as ae


@pytest.mark.parametrize("build, codings", [
    (ae.stacked_autoencoder, 32), (ae.TiedAutoencoder, 32), (ae.conv_autoencoder, 32),
    (ae.RecurrentAutoencoder, 32), (lambda: ae.denoising_autoencoder(torch.nn.Dropout(0.5)), 128),
    (lambda: ae.denoising_autoencoder(ae.GaussianNoise(0.5)), 128), (ae.sparse_autoencoder, 256)])
def test_every_autoencoder_maps_images_to_codings_and_back(fashion, build, codings):
    model = build().eval()
    out = model(fashion.valid_x[:5])
    assert out.codings.shape == (5, codings)
    assert out.output.shape == (5, 1, 28, 28)
    assert 0 <= out.output.min() and out.output.max() <= 1


def test_linear_autoencoder_has_a_two_d_code():
    out = ae.linear_autoencoder()(torch.randn(4, 3))
    assert out.codings.shape == (4, 2) and out.output.shape == (4, 3)


def test_tied_autoencoder_reuses_the_encoder_weights_and_has_fewer_parameters():
    tied, stacked = ae.TiedAutoencoder(), ae.stacked_autoencoder()
    assert ae.count_parameters(stacked) - ae.count_parameters(tied) == 28 * 28 * 128 + 128 * 32
    tied.enc1.weight.data.zero_()
    decoded = tied.decode(torch.ones(1, 32))
    assert torch.allclose(decoded, torch.sigmoid(tied.dec2_bias).view(1, 1, 28, 28))


@pytest.mark.parametrize("layer", [torch.nn.Dropout(0.5), ae.GaussianNoise(0.5)])
def test_corruption_changes_the_input_in_training_and_is_the_identity_in_eval(fashion, layer):
    x = fashion.valid_x[:8]
    layer.train()
    assert not torch.equal(layer(x), x)
    layer.eval()
    assert torch.equal(layer(x), x)


def test_gaussian_noise_has_the_requested_standard_deviation():
    torch.manual_seed(0)
    noise = ae.GaussianNoise(0.5)(torch.zeros(100_000))
    assert noise.std().item() == pytest.approx(0.5, rel=0.01)


def test_kl_sparsity_penalty_equals_bernoulli_kl_from_torch_distributions():
    torch.manual_seed(0)
    codings = torch.rand(64, 256)
    q = codings.mean(0)
    reference = kl_divergence(Bernoulli(probs=torch.full_like(q, 0.1)), Bernoulli(probs=q)).sum()
    assert ae.kl_sparsity_penalty(codings, p=0.1).item() == pytest.approx(reference.item(), rel=1e-5)
    assert ae.kl_sparsity_penalty(torch.full((4, 3), 0.1), p=0.1).item() == pytest.approx(0, abs=1e-6)


def test_sparse_loss_adds_the_weighted_penalty_to_the_mse(fashion):
    model = ae.sparse_autoencoder()
    x = fashion.valid_x[:16]
    pred = model(x)
    mse = torch.nn.functional.mse_loss(pred.output, x)
    expected = mse + 1e-3 * ae.kl_sparsity_penalty(pred.codings, 0.1)
    assert ae.sparse_loss(0.1, 1e-3)(pred, x).item() == pytest.approx(expected.item())


@pytest.mark.parametrize("build", [ae.stacked_autoencoder, ae.conv_autoencoder, ae.RecurrentAutoencoder,
                                   ae.TiedAutoencoder])
def test_a_wrong_image_shape_gets_an_error_that_says_how_to_fix_it(build):
    model = build()
    with pytest.raises(ValueError, match=r"x\[None, None\]"):
        model(torch.rand(28, 28))
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.rand(4, 28, 28))
    with pytest.raises(TypeError, match="float"):
        model(torch.zeros(4, 1, 28, 28, dtype=torch.uint8))


def test_reconstruction_errors_are_per_image(fashion):
    model = ae.stacked_autoencoder()
    errors = ae.reconstruction_errors(model, fashion.valid_x[:10], batch_size=3)
    manual = (model(fashion.valid_x[:10]).output - fashion.valid_x[:10]).square().mean((1, 2, 3))
    assert torch.allclose(errors, manual.detach(), atol=1e-6)


def test_a_unit_saturated_on_the_whole_batch_gives_a_finite_sparsity_penalty_and_gradient():
    """sigmoid(x ≥ 17) is exactly 1.0 in float32, where 1 − 1e-8 is also 1.0: the old clamp did nothing."""
    logits = torch.full((8, 4), -2.0)
    logits[:, 0] = 20.0
    logits.requires_grad_(True)
    codings = torch.sigmoid(logits)
    assert codings[:, 0].eq(1.0).all()
    penalty = ae.kl_sparsity_penalty(codings, p=0.1)
    penalty.backward()
    assert torch.isfinite(penalty) and torch.isfinite(logits.grad).all()
    assert penalty > 10  # still a strong push away from saturation


def test_decoders_explain_codings_of_the_wrong_size():
    for model, n in ((ae.stacked_autoencoder(n_codings=32), 32), (ae.conv_autoencoder(16), 16),
                     (ae.TiedAutoencoder(n_codings=32), 32), (ae.RecurrentAutoencoder(n_codings=8), 8)):
        with pytest.raises(ValueError, match=rf"shaped \(N, {n}\), got \(2, 5\)"):
            model.decode(torch.zeros(2, 5))


def test_inference_helpers_keep_the_models_mode(fashion):
    model = ae.stacked_autoencoder().train()
    ae.reconstruction_errors(model, fashion.valid_x[:10])
    ae.encode_all(model, fashion.valid_x[:10])
    assert model.training

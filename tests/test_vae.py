import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Categorical, Normal, kl_divergence

from dl101 import vae as V


def test_gaussian_kl_equals_torch_distributions():
    torch.manual_seed(0)
    mean, logvar = torch.randn(16, 8), torch.randn(16, 8)
    reference = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(V.gaussian_kl(mean, logvar), reference, atol=1e-5)


def test_reparameterized_samples_have_the_requested_mean_and_variance():
    torch.manual_seed(0)
    mean, logvar = torch.tensor([1.5, -2.0, 0.0]), torch.tensor([0.0, math.log(4.0), math.log(0.25)])
    z = V.reparameterize(mean.expand(200_000, 3), logvar.expand(200_000, 3))
    # 200k samples: the standard error of the mean is at most 2/sqrt(2e5) ≈ 0.0045
    assert torch.allclose(z.mean(0), mean, atol=0.02)
    assert torch.allclose(z.var(0), logvar.exp(), rtol=0.02)


def test_reparameterization_lets_gradients_reach_mean_and_logvar():
    mean, logvar = torch.zeros(4, 2, requires_grad=True), torch.zeros(4, 2, requires_grad=True)
    V.reparameterize(mean, logvar).sum().backward()
    assert mean.grad is not None and logvar.grad is not None


def test_vae_outputs_and_loss(fashion):
    model = V.VAE()
    x = fashion.valid_x[:8]
    out = model(x)
    assert out.output.shape == x.shape and out.codings_mean.shape == (8, 32)
    loss = V.vae_loss(out, x)
    kl = V.gaussian_kl(out.codings_mean, out.codings_logvar).mean() / 784
    assert loss.item() == pytest.approx((F.mse_loss(out.output, x) + kl).item(), rel=1e-6)


def _frequencies(sample_fn, logits, n=40_000):
    samples = sample_fn(logits.expand(n, -1))
    return samples.argmax(-1).bincount(minlength=logits.size(-1)).float() / n


def test_gumbel_softmax_samples_categories_with_softmax_probabilities():
    torch.manual_seed(0)
    logits = torch.tensor([[2.0, 0.5, -1.0, 0.0]])
    probs = logits.softmax(-1)[0]
    ours = _frequencies(lambda l: V.gumbel_softmax(l, tau=1.0, hard=True), logits)
    torchs = _frequencies(lambda l: F.gumbel_softmax(l, tau=1.0, hard=True), logits)
    # 40k draws: standard error ≤ 0.0025; tolerance 0.01 is four standard errors
    assert torch.allclose(ours, probs, atol=0.01)
    assert torch.allclose(ours, torchs, atol=0.015)


def test_hard_gumbel_softmax_gives_exact_one_hots_with_the_soft_samples_gradient():
    logits = torch.randn(64, 5, requires_grad=True)
    weights = torch.randn(64, 5)
    torch.manual_seed(1)
    hard = V.gumbel_softmax(logits, tau=0.5, hard=True)
    assert torch.equal(hard.sum(-1), torch.ones(64)) and set(hard.unique().tolist()) <= {0.0, 1.0}
    (hard * weights).sum().backward()
    grad_hard = logits.grad.clone()
    logits.grad = None
    torch.manual_seed(1)
    soft = V.gumbel_softmax(logits, tau=0.5, hard=False)
    (soft * weights).sum().backward()
    assert torch.allclose(grad_hard, logits.grad, atol=1e-6)
    assert torch.equal(hard.argmax(-1), soft.argmax(-1))


def test_categorical_kl_matches_torch_distributions_and_stays_finite_when_softmax_underflows():
    torch.manual_seed(0)
    logits = torch.randn(4, 32, 16)
    logits[0, 0, 0] = 500.0  # other probabilities of that code underflow to exactly 0
    reference = kl_divergence(Categorical(logits=logits),
                              Categorical(logits=torch.zeros_like(logits))).sum(-1)
    ours = V.categorical_kl_to_uniform(logits)
    assert torch.isfinite(ours).all()
    assert torch.allclose(ours, reference, atol=1e-4)
    naive = (logits.softmax(-1) * (logits.softmax(-1).log() + math.log(16))).sum((1, 2))
    assert torch.isnan(naive[0])  # the seed's form, for contrast


def test_discrete_vae_shapes_and_one_hot_codings(fashion):
    model = V.DiscreteVAE()
    out = model(fashion.valid_x[:4])
    assert out.logits.shape == (4, 32, 16) and out.output.shape == (4, 1, 28, 28)
    assert torch.equal(out.codings.sum(-1), torch.ones(4, 32))
    images = model.decode_indices(torch.randint(0, 16, (3, 32)))
    assert images.shape == (3, 1, 28, 28)


def test_temperature_annealing_goes_from_one_to_a_tenth():
    model, anneal = V.DiscreteVAE(), V.temperature_annealing(20)
    temps = []
    for epoch in range(20):
        anneal(model, epoch)
        temps.append(model.temperature)
    assert temps[0] == 1.0 and temps[-1] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(temps, temps[1:]))


def test_decoders_explain_codings_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"shaped \(N, 32\), got \(4, 16\)"):
        V.VAE(codings_dim=32).decode(torch.zeros(4, 16))
    with pytest.raises(ValueError, match="add a batch dimension"):
        V.VAE(codings_dim=2).decode(torch.zeros(2))
    with pytest.raises(ValueError, match=r"\(N, 32, 16\).*decode_indices"):
        V.DiscreteVAE().decode(torch.zeros(4, 32))


def test_float64_images_get_a_hint_to_convert_them():
    with pytest.raises(TypeError, match=r"float64.*float32.*x.float\(\)"):
        V.VAE()(torch.rand(2, 1, 28, 28, dtype=torch.float64))

import pytest
import torch

from dl101 import gan
from dl101.data import Batches


def _snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(module, before):
    return [not torch.equal(a, b) for a, b in zip(before, module.parameters())]


@pytest.fixture(params=["mlp", "dcgan"])
def pair(request):
    torch.manual_seed(0)
    if request.param == "mlp":
        return gan.mlp_generator(32), gan.mlp_discriminator(), 32
    return gan.dcgan_generator(100), gan.dcgan_discriminator(), 100


def test_generators_make_images_in_the_data_range_and_discriminators_give_one_logit(pair, fashion):
    generator, discriminator, dim = pair
    images = generator(torch.randn(4, dim))
    gan.validate_generator_output(images)
    assert discriminator(fashion.valid_x[:4]).shape == (4, 1)


def test_a_discriminator_step_changes_d_and_not_g(pair, fashion):
    generator, discriminator, dim = pair
    g_before, d_before = _snapshot(generator), _snapshot(discriminator)
    opt = torch.optim.NAdam(discriminator.parameters(), lr=1e-3)
    gan.discriminator_step(generator, discriminator, opt, fashion.train_x[:16], dim)
    assert all(_changed(discriminator, d_before))
    assert not any(_changed(generator, g_before))


def test_a_generator_step_changes_g_and_not_d(pair):
    generator, discriminator, dim = pair
    g_before, d_before = _snapshot(generator), _snapshot(discriminator)
    opt = torch.optim.NAdam(generator.parameters(), lr=1e-3)
    gan.generator_step(generator, discriminator, opt, 16, dim, "cpu")
    assert all(_changed(generator, g_before))
    assert not any(_changed(discriminator, d_before))
    assert all(p.grad is None for p in discriminator.parameters())
    assert all(p.requires_grad for p in discriminator.parameters())


def test_requires_grad_is_restored_after_an_exception_inside_the_generator_step():
    generator, discriminator = gan.mlp_generator(32), gan.mlp_discriminator()
    list(discriminator.parameters())[0].requires_grad_(False)  # a layer the learner froze stays frozen
    opt = torch.optim.NAdam(generator.parameters())
    with pytest.raises(ValueError, match=r"noise shaped \(N, 32\), got \(4, 7\)"):
        gan.generator_step(generator, discriminator, opt, 4, 7, "cpu")  # wrong noise size
    flags = [p.requires_grad for p in discriminator.parameters()]
    assert flags == [False] + [True] * (len(flags) - 1)


def test_train_gan_keeps_per_epoch_losses_and_samples_of_one_fixed_noise_batch(fashion):
    torch.manual_seed(0)

    generator, discriminator = gan.mlp_generator(32), gan.mlp_discriminator()
    batches = Batches(fashion.train_x[:256], batch_size=32, shuffle=True)
    history = gan.train_gan(generator, discriminator, batches, 32, n_epochs=3, sample_every=2,
                            n_samples=8, verbose=False)
    assert len(history["d_loss"]) == len(history["g_loss"]) == 3
    assert sorted(history["samples"]) == [1, 3] and history["samples"][1].shape == (8, 1, 28, 28)
    fixed = torch.randn(8, 32, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(history["samples"][3], gan.generate(generator, fixed), atol=1e-6)


def test_generator_output_outside_the_data_range_is_explained():
    with pytest.raises(ValueError, match="Sigmoid"):
        gan.validate_generator_output(torch.full((2, 1, 28, 28), -0.5))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        gan.validate_generator_output(torch.rand(2, 784))


def test_sample_diversity_is_zero_for_identical_images_and_higher_for_real_ones(fashion):
    same = fashion.valid_x[:1].repeat(20, 1, 1, 1)
    assert gan.sample_diversity(same) == pytest.approx(0.0, abs=1e-6)
    assert gan.sample_diversity(fashion.valid_x[:50]) > 0.2
    a, b = torch.zeros(1, 1, 28, 28), torch.ones(1, 1, 28, 28)
    assert gan.sample_diversity(torch.cat([a, b])) == pytest.approx(1.0)


def test_plain_gan_models_explain_wrong_inputs(pair):
    generator, discriminator, dim = pair
    with pytest.raises(ValueError, match=rf"noise shaped \(N, {dim}\), got \(3, 5\)"):
        generator(torch.randn(3, 5))
    with pytest.raises(ValueError, match="add a channel dimension"):
        discriminator(torch.rand(3, 28, 28))
    with pytest.raises(TypeError, match="float64.*x.float"):
        discriminator(torch.rand(3, 1, 28, 28, dtype=torch.float64))


def test_train_gan_leaves_both_networks_in_eval_mode_and_refuses_empty_batches(fashion):

    generator, discriminator = gan.mlp_generator(32), gan.mlp_discriminator()
    history = gan.train_gan(generator, discriminator, Batches(fashion.train_x[:64], batch_size=32), 32,
                            n_epochs=1, verbose=False)
    assert not generator.training and not discriminator.training  # as its docstring says
    assert history["samples"][1].shape == (32, 1, 28, 28)
    with pytest.raises(ValueError, match="empty"):
        gan.train_gan(generator, discriminator, Batches(fashion.train_x[:0], batch_size=32), 32, n_epochs=1,
                      verbose=False)


def test_generate_keeps_the_generators_mode():
    generator = gan.dcgan_generator(100).train()
    gan.generate(generator, torch.randn(2, 100))
    assert generator.training


def test_train_gan_uses_the_given_discriminator_step(fashion):
    calls = []

    def counting_step(generator, discriminator, d_optimizer, real, codings_dim):
        calls.append(len(real))
        return gan.discriminator_step(generator, discriminator, d_optimizer, real, codings_dim)

    torch.manual_seed(0)
    G, D = gan.mlp_generator(codings_dim=8), gan.mlp_discriminator()
    batches = Batches(fashion.train_x[:96], batch_size=32)
    gan.train_gan(G, D, batches, codings_dim=8, n_epochs=2, verbose=False, d_step_fn=counting_step)
    assert calls == [32] * 6

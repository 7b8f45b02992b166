"""The checkers of chapters 09 (GANs) and 10 (diffusion): right answers pass, likely mistakes get a
hint that names them, float64 is fine, text is refused, and the learner's RNG and model modes stay."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dl101 import diffusion as D
from dl101 import gan
from dl101.checks import QUESTIONS, check_choice
from dl101.checks.diffusion import (check_enough_steps, check_respaced_ddpm, check_step_distances,
                                    sample_distances)
from dl101.checks.gan import (check_accuracy_function, check_discriminator_accuracy,
                              check_smoothed_discriminator_step)
from dl101.exercises import Incorrect
from dl101.modes import eval_mode


# Chapter 09 ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dcgan():
    torch.manual_seed(0)
    return gan.dcgan_generator(100).eval(), gan.dcgan_discriminator().eval()


def smoothed_step(generator, discriminator, d_optimizer, real, codings_dim, real_label=0.9, fake_label=0.0,
                  mean=False):
    d_optimizer.zero_grad()
    with torch.no_grad():
        fake = generator(torch.randn(len(real), codings_dim, device=real.device))
    real_logits, fake_logits = discriminator(real), discriminator(fake)
    loss = (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, fake_label)))
    (loss / 2 if mean else loss).backward()
    d_optimizer.step()
    return loss.detach()


def test_smoothed_step_passes_on_the_learners_models_and_leaves_them_alone(dcgan, fashion):
    generator, discriminator = dcgan
    discriminator.train()
    before = [p.clone() for p in discriminator.parameters()]
    torch.manual_seed(123)
    state = torch.get_rng_state()
    check_smoothed_discriminator_step(smoothed_step, generator, discriminator, fashion.valid_x[:32])
    # fakes scored first, and through a concatenated batch: still right (D runs without dropout)
    def fakes_first(g, d, opt, real, codings_dim):
        opt.zero_grad()
        fake = g(torch.randn(len(real), codings_dim)).detach()
        logits = d(torch.cat([fake, real]))
        targets = torch.cat([torch.zeros(len(fake), 1), torch.full((len(real), 1), 0.9)])
        (2 * F.binary_cross_entropy_with_logits(logits, targets)).backward()
        opt.step()
    check_smoothed_discriminator_step(fakes_first, generator, discriminator, fashion.valid_x[:32].double())
    assert torch.equal(torch.get_rng_state(), state)
    assert discriminator.training and not generator.training
    assert all(torch.equal(a, b) for a, b in zip(before, discriminator.parameters()))
    discriminator.eval()


@pytest.mark.parametrize("kwargs, hint", [
    ({"real_label": 1.0}, "nothing is smoothed"),
    ({"fake_label": 0.1}, "both sides"),
    ({"real_label": 1.0, "fake_label": 0.1}, "fake label instead"),
    ({"real_label": 0.1}, "real label to 0.1"),
    ({"mean": True}, "averaging"),
])
def test_smoothed_step_names_the_mistake(dcgan, fashion, kwargs, hint):
    generator, discriminator = dcgan
    with pytest.raises(Incorrect, match=hint):
        check_smoothed_discriminator_step(lambda *a: smoothed_step(*a, **kwargs), generator, discriminator,
                                          fashion.valid_x[:32])


def test_smoothed_step_on_the_simple_gan_and_a_step_that_does_nothing(fashion):
    torch.manual_seed(1)
    g, d = gan.mlp_generator(32), gan.mlp_discriminator()
    check_smoothed_discriminator_step(smoothed_step, g, d, fashion.valid_x[32:64], codings_dim=32)
    with pytest.raises(Incorrect, match="did not move"):
        check_smoothed_discriminator_step(lambda *a: None, g, d, fashion.valid_x[:32], codings_dim=32)
    with pytest.raises(Incorrect, match="function itself"):
        check_smoothed_discriminator_step("smoothed_step", g, d, fashion.valid_x[:32], codings_dim=32)


def accuracy(discriminator, real, fake):
    with torch.no_grad(), eval_mode(discriminator):
        right = torch.cat([discriminator(real) > 0, discriminator(fake) <= 0])
    return right.float().mean().item()


def test_discriminator_accuracy_right_float64_and_mode_kept(dcgan, fashion):
    generator, discriminator = dcgan
    real = fashion.valid_x[:64]
    fake = gan.generate(generator, torch.randn(64, 100, generator=torch.Generator().manual_seed(0)))
    discriminator.train()
    acc = accuracy(discriminator, real, fake)
    check_discriminator_accuracy(acc, discriminator, real.double(), fake.double())
    check_discriminator_accuracy(torch.tensor(acc, dtype=torch.float64), discriminator, real, fake)
    assert discriminator.training
    check_accuracy_function(accuracy, discriminator, real, fake)
    assert discriminator.training
    discriminator.eval()
    check_accuracy_function(accuracy, discriminator, real, fake)
    assert not discriminator.training
    with pytest.raises(Incorrect, match="should be a number, got the text"):
        check_discriminator_accuracy("0.7", discriminator, real, fake)


def test_discriminator_accuracy_names_the_mistake(fashion):
    torch.manual_seed(5)
    d = gan.mlp_discriminator()
    real, fake = fashion.valid_x[:32], torch.rand(32, 1, 28, 28)
    with torch.no_grad():
        on_real, on_fake = (d(real) > 0).float().mean().item(), (d(fake) <= 0).float().mean().item()
    acc = (on_real + on_fake) / 2
    assert len({round(v, 4) for v in (acc, 1 - acc, on_real, on_fake)}) == 4  # the variants are distinct
    check_discriminator_accuracy(acc, d, real, fake)
    for wrong, hint in [(100 * acc, "percentage"), (1 - acc, "wrong answers"), (on_real, "real images only"),
                        (on_fake, "fakes only"), (acc + 0.3, "logit above 0")]:
        with pytest.raises(Incorrect, match=hint):
            check_discriminator_accuracy(wrong, d, real, fake)


def test_accuracy_function_catches_train_mode_and_a_lost_mode(dcgan, fashion):
    generator, discriminator = dcgan
    real = fashion.valid_x[:64]
    fake = gan.generate(generator, torch.randn(64, 100, generator=torch.Generator().manual_seed(0)))

    def in_train_mode(d, r, f):
        return torch.cat([d(r) > 0, d(f) <= 0]).float().mean()

    def leaves_eval(d, r, f):
        d.eval()
        return torch.cat([d(r) > 0, d(f) <= 0]).float().mean()

    with pytest.raises(Incorrect, match="train mode"):
        check_accuracy_function(in_train_mode, discriminator, real, fake)
    with pytest.raises(Incorrect, match="mode back"):
        check_accuracy_function(leaves_eval, discriminator, real, fake)
    assert not discriminator.training


# Chapter 10 ---------------------------------------------------------------------------------------
T = 50


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    return D.DiffusionUNet(T=T, dim=8, down_dims=(16, 16, 32), up_dims=(16, 8, 8)).eval(), D.cosine_schedule(T)


def respaced(model, schedule, clip=True, beta_kind="respaced", var_kind="tilde", skip_noise=False):
    ab = schedule.alpha_bar

    def sample(x, n_steps, noise):
        times = D.ddim_timesteps(schedule.T, n_steps)
        with torch.no_grad():
            for k, (t, t_prev) in enumerate(zip(times[:-1], times[1:])):
                eps = model(D.DiffusionSample(x, torch.full((len(x),), t)))
                beta = 1 - ab[t] / ab[t_prev] if beta_kind == "respaced" else schedule.beta[t]
                x0 = (x - (1 - ab[t]).sqrt() * eps) / ab[t].sqrt()
                x0 = x0.clamp(-1, 1) if clip else x0
                x = (ab[t_prev].sqrt() * beta / (1 - ab[t]) * x0
                     + (1 - beta).sqrt() * (1 - ab[t_prev]) / (1 - ab[t]) * x)
                var = (1 - ab[t_prev]) / (1 - ab[t]) * beta if var_kind == "tilde" else beta
                if t_prev > 0 and not skip_noise:
                    x = x + var.sqrt() * noise[k]
        return x.clamp(-1, 1).double()  # float64 answers are fine
    return sample


def test_respaced_ddpm_right_answer_keeps_rng_and_mode(unet):
    model, schedule = unet
    torch.manual_seed(5)
    state = torch.get_rng_state()
    check_respaced_ddpm(respaced(model, schedule), model, schedule, n_steps=6)
    check_respaced_ddpm(respaced(model, schedule), model, schedule, n_steps=4, n=2, seed=1)
    assert torch.equal(torch.get_rng_state(), state) and not model.training


@pytest.mark.parametrize("kwargs, hint", [
    ({"clip": False}, "did not clip"), ({"beta_kind": "one-step"}, "one-step β_t"),
    ({"var_kind": "beta"}, "posterior variance"), ({"skip_noise": True}, "noise\\[k\\]"),
])
def test_respaced_ddpm_names_the_mistake(unet, kwargs, hint):
    model, schedule = unet
    with pytest.raises(Incorrect, match=hint):
        check_respaced_ddpm(respaced(model, schedule, **kwargs), model, schedule, n_steps=6)


def test_respaced_ddpm_refuses_ddim_itself_and_a_wrong_shape(unet):
    model, schedule = unet

    def via_ddim(x, n_steps, noise):
        return D.ddim_step(x, x, schedule.alpha_bar[1], schedule.alpha_bar[0])

    with pytest.raises(Incorrect, match="yourself"):
        check_respaced_ddpm(via_ddim, model, schedule, n_steps=6)
    with pytest.raises(Incorrect, match="shaped"):
        check_respaced_ddpm(lambda x, n_steps, noise: x[0], model, schedule, n_steps=6)


def test_enough_steps_and_distances(unet):
    model, schedule = unet
    candidates, reference = [2, 5, 10, 20], 25
    distances = sample_distances(model, schedule, candidates, reference)
    tolerance = (distances[5] + distances[10]) / 2  # between two candidates, whatever the untrained model does
    want = min(k for k in candidates if distances[k] < tolerance)
    torch.manual_seed(5)
    state = torch.get_rng_state()
    check_enough_steps(want, model, schedule, candidates, reference, tolerance)
    check_enough_steps(float(want), model, schedule, candidates, reference, tolerance)
    check_step_distances({k: torch.tensor(v, dtype=torch.float64) for k, v in distances.items()}, model,
                         schedule, reference)
    assert torch.equal(torch.get_rng_state(), state) and not model.training
    too_few = max(k for k in candidates if k < want)
    with pytest.raises(Incorrect, match="not within"):
        check_enough_steps(too_few, model, schedule, candidates, reference, tolerance)
    with pytest.raises(Incorrect, match="fewer steps"):
        check_enough_steps(20, model, schedule, candidates, reference, tolerance)
    with pytest.raises(Incorrect, match="one of the step counts"):
        check_enough_steps(7, model, schedule, candidates, reference, tolerance)
    with pytest.raises(Incorrect, match="got the text"):
        check_enough_steps("ten", model, schedule, candidates, reference, tolerance)
    with pytest.raises(Incorrect, match="square root"):
        check_step_distances({k: v ** 2 for k, v in distances.items()}, model, schedule, reference)
    with pytest.raises(Incorrect, match="same noise"):
        check_step_distances({k: 1.1 * v for k, v in distances.items()}, model, schedule, reference)


# Concept questions -------------------------------------------------------------------------------
@pytest.mark.parametrize("question", ["09-a", "09-b", "09-c", "10-a", "10-b", "10-c"])
def test_questions_have_a_reason_for_every_option(question):
    q = QUESTIONS[question]
    assert set(q.why) == {"a", "b", "c", "d"} and q.right in q.why
    check_choice(question, q.right)
    for wrong in set(q.why) - {q.right}:
        with pytest.raises(Incorrect):
            check_choice(question, wrong)

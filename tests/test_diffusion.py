import pytest
import torch

from dl101 import diffusion as D

T = 4000


@pytest.fixture(scope="module")
def schedule():
    return D.cosine_schedule(T)


def test_cosine_schedule_equals_diffusers_squaredcos_cap_v2_betas(schedule):
    from diffusers import DDPMScheduler

    reference = DDPMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2").betas
    difference = (schedule.beta[1:] - reference).abs().max().item()
    print(f"max |beta - diffusers beta| = {difference:.3e}")
    assert difference < 1e-6
    assert schedule.beta[0] == 0 and schedule.alpha_bar[0] == 1


def test_alpha_bar_is_the_running_product_of_the_clipped_betas(schedule):
    assert torch.allclose(schedule.alpha_bar, torch.cumprod(1 - schedule.beta.double(), 0).float())
    assert schedule.beta.max().item() == pytest.approx(0.999)
    # The first DDPM step multiplies x_T by 1/√α_T = 1/√(1 − 0.999) ≈ 31.6: that comes from the clip
    # at β_T = 0.999, not from how ᾱ is computed (ᾱ taken straight from the cosine gives the same).
    assert (1 / schedule.alpha[T].sqrt()).item() == pytest.approx(1000 ** 0.5, rel=1e-4)
    unclipped = D.cosine_schedule(T, max_beta=1.0)
    assert unclipped.beta[T] == pytest.approx(1.0)  # without the clip the last step would divide by √0 = 0


def _diffusers_ddim(schedule, n_steps, clip):
    from diffusers import DDIMScheduler

    s = DDIMScheduler(num_train_timesteps=T, trained_betas=schedule.beta[1:].tolist(), clip_sample=clip,
                      set_alpha_to_one=True)
    s.set_timesteps(n_steps)
    return s


@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("clip", [False, True])
def test_a_ddim_step_with_skipped_steps_equals_diffusers_ddimscheduler_step(schedule, eta, clip):
    scheduler = _diffusers_ddim(schedule, n_steps=50, clip=clip)  # jumps of 80 steps
    torch.manual_seed(0)
    x, eps, noise = torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    for k in (scheduler.timesteps[0].item(), scheduler.timesteps[10].item(), scheduler.timesteps[-1].item()):
        prev = k - T // 50
        ref = scheduler.step(eps, k, x, eta=eta, variance_noise=noise, use_clipped_model_output=clip).prev_sample
        # diffusers' index k is our step k + 1 (our index 0 is the clean image, ᾱ = 1)
        ab_prev = schedule.alpha_bar[prev + 1] if prev >= 0 else torch.tensor(1.0)
        ours = D.ddim_step(x, eps, schedule.alpha_bar[k + 1], ab_prev, eta, noise, clip_x0=clip)
        assert torch.allclose(ours, ref, atol=2e-4), (k, (ours - ref).abs().max())


def test_clipped_ddim_stays_bounded_when_the_model_overestimates_the_noise(schedule):
    """A denoiser whose ε is 5% too large: clipping x̂_0 but keeping the raw ε lets x_t grow step after
    step at high noise (with the real model it reached 1e37 within 40 of 500 steps); recomputing ε from
    the clipped x̂_0 never lets |x_t| grow beyond where it started."""
    torch.manual_seed(0)
    x_raw = x_fixed = torch.randn(4, 1, 28, 28)
    start, peak_raw, peak_fixed = x_raw.abs().max().item(), 0.0, 0.0
    times = D.ddim_timesteps(T, 500)
    for t, t_prev in zip(times[:-1], times[1:]):
        ab, ab_prev = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]
        x_fixed = D.ddim_step(x_fixed, 1.05 * x_fixed, ab, ab_prev, clip_x0=True)
        x0 = ((x_raw - (1 - ab).sqrt() * 1.05 * x_raw) / ab.sqrt()).clamp(-1, 1)
        x_raw = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * 1.05 * x_raw  # the inconsistent form
        peak_raw, peak_fixed = max(peak_raw, x_raw.abs().max().item()), max(peak_fixed, x_fixed.abs().max().item())
    assert peak_fixed <= start + 1e-4
    assert peak_raw > 10 * start  # measured: 63 from a start of 4.1


def test_ddim_sigma_follows_eq_16_and_differs_from_the_seeds_formula_when_steps_are_skipped(schedule):
    t, t_prev = 3000, 2920
    ab_t, ab_prev = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]
    sigma = D.ddim_sigma(ab_t, ab_prev, 1.0)
    assert sigma.item() == pytest.approx(((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev)).sqrt().item())
    seed_sigma = ((1 - ab_prev) / (1 - ab_t) * schedule.beta[t]).sqrt()
    assert sigma > 5 * seed_sigma


def test_a_ddpm_step_matches_diffusers_mean_at_the_last_step(schedule):
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(num_train_timesteps=T, trained_betas=schedule.beta[1:].tolist(), clip_sample=False)
    torch.manual_seed(0)
    x, eps = torch.randn(2, 1, 28, 28), torch.randn(2, 1, 28, 28)
    for k in (0, 500, 2000):  # at k > 0 diffusers adds noise; compare with the posterior mean (eq. 7)
        ref = scheduler.step(eps, k, x).prev_sample if k == 0 else None
        ours = D.ddpm_step(x, eps, k + 1, schedule, noise=torch.zeros_like(x))
        if ref is not None:
            assert torch.allclose(ours, ref, atol=5e-4)  # float32; 1 - ᾱ_1 is tiny
        else:
            ab, ab_prev, beta = schedule.alpha_bar[k + 1], schedule.alpha_bar[k], schedule.beta[k + 1]
            x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
            posterior_mean = (ab_prev.sqrt() * beta / (1 - ab) * x0
                              + schedule.alpha[k + 1].sqrt() * (1 - ab_prev) / (1 - ab) * x)
            assert torch.allclose(ours, posterior_mean, atol=1e-4)


def test_forward_diffusion_has_the_right_mean_and_variance(schedule):
    torch.manual_seed(0)
    x0 = torch.full((100_000, 1, 1, 1), 0.6)
    for t in (1, 1000, 3000):
        xt, _ = D.forward_diffusion(x0, torch.full((100_000,), t), schedule.alpha_bar)
        ab = schedule.alpha_bar[t].item()
        # 100k samples: standard error of the mean ≤ 0.0032
        assert xt.mean().item() == pytest.approx(ab ** 0.5 * 0.6, abs=0.015)
        assert xt.var().item() == pytest.approx(1 - ab, rel=0.02, abs=1e-5)


def test_noising_transform_returns_samples_and_the_noise_that_made_them(schedule, fashion):
    sample, eps = D.noising(schedule)(fashion.valid_x[:8])
    assert isinstance(sample, D.DiffusionSample) and sample.t.min() >= 1 and sample.t.max() <= T
    x0 = D.to_model_range(fashion.valid_x[:8])
    expected, _ = D.forward_diffusion(x0, sample.t, schedule.alpha_bar, eps)
    assert torch.allclose(sample.xt, expected)


def test_validation_batches_are_the_same_draw_every_time(schedule, fashion):
    batches = D.fixed_diffusion_batches(fashion.valid_x[:64], schedule, batch_size=32)
    first = [(s.xt.clone(), s.t.clone(), e.clone()) for s, e in batches]
    second = [(s.xt, s.t, e) for s, e in batches]
    assert all(torch.equal(a, b) for f, s in zip(first, second) for a, b in zip(f, s))


def test_the_unet_predicts_noise_shaped_like_its_input_and_rejects_a_bare_tensor(fashion):
    model = D.DiffusionUNet(T=100)
    sample = D.DiffusionSample(fashion.valid_x[:3] * 2 - 1, torch.tensor([1, 50, 100]))
    assert model(sample).shape == (3, 1, 28, 28)
    with pytest.raises(TypeError, match="DiffusionSample"):
        model(fashion.valid_x[:3])
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        model(D.DiffusionSample(torch.zeros(3, 28, 28), torch.tensor([1, 2, 3])))


def test_samplers_return_images_of_the_right_shape_and_range():
    torch.manual_seed(0)
    schedule, model = D.cosine_schedule(20), D.DiffusionUNet(T=20)
    images = D.ddpm_sample(model, schedule, n=3, progress=False)
    assert images.shape == (3, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    images, trajectory = D.ddim_sample(model, schedule, n=2, n_steps=5, keep_every=1, progress=False)
    assert images.shape == (2, 1, 28, 28) and images.abs().max() <= 1
    assert [t for t, _ in trajectory] == [20, 16, 12, 8, 4, 0]


def test_ddim_with_eta_zero_is_deterministic_given_the_start_noise():
    schedule, model = D.cosine_schedule(20), D.DiffusionUNet(T=20)
    a = D.ddim_sample(model, schedule, n=2, n_steps=4, eta=0.0, generator=torch.Generator().manual_seed(1),
                      progress=False)
    torch.manual_seed(123)  # a different global RNG state must not matter when η = 0
    b = D.ddim_sample(model, schedule, n=2, n_steps=4, eta=0.0, generator=torch.Generator().manual_seed(1),
                      progress=False)
    c = D.ddim_sample(model, schedule, n=2, n_steps=4, eta=1.0, generator=torch.Generator().manual_seed(1),
                      progress=False)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_ddim_timesteps_start_at_T_and_end_at_zero():
    assert D.ddim_timesteps(4000, 4) == [4000, 3000, 2000, 1000, 0]
    assert D.ddim_timesteps(10, 10) == list(range(10, -1, -1))
    with pytest.raises(ValueError):
        D.ddim_timesteps(10, 11)


def test_the_offline_stable_diffusion_path_builds_and_runs_one_step_on_cpu(capsys):
    from dl101.stable_diffusion import describe_pipeline, load_text_to_image

    pipe, real = load_text_to_image(device="cpu")
    image = pipe("A closeup photo of an orangutan reading a book", num_inference_steps=1,
                 guidance_scale=0.0, height=64, width=64).images[0]
    assert not real and "tiny" in capsys.readouterr().out
    assert image.size == (64, 64)
    assert set(describe_pipeline(pipe)) == {"tokenizer", "text_encoder", "unet", "vae", "scheduler"}
    assert pipe.vae_scale_factor == 8


@pytest.mark.parametrize("T_, n_steps", [(4000, n) for n in (2, 3, 5, 8, 12, 15, 18)] + [(1000, 2), (1000, 5)])
def test_ddim_with_eta_one_never_returns_nan(T_, n_steps):
    """In float32, 1 − ᾱ_prev − σ² came out at −6e-8 for these step counts: its square root was NaN."""
    schedule = D.cosine_schedule(T_)
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    times = D.ddim_timesteps(T_, n_steps)
    for t, t_prev in zip(times[:-1], times[1:]):
        x = D.ddim_step(x, 0.5 * x, schedule.alpha_bar[t], schedule.alpha_bar[t_prev], eta=1.0,
                        noise=torch.zeros_like(x))
        assert torch.isfinite(x).all(), (t, t_prev)


def test_a_ddpm_step_from_t_zero_is_refused_and_the_unet_refuses_steps_outside_its_range(schedule):
    x = torch.zeros(1, 1, 28, 28)
    with pytest.raises(ValueError, match="t = 0 is already the clean image"):
        D.ddpm_step(x, x, 0, schedule)
    model = D.DiffusionUNet(T=100)
    for bad in (-1, 101):
        with pytest.raises(ValueError, match=r"0\.\.100"):
            model(D.DiffusionSample(x, torch.tensor([bad])))
    with pytest.raises(TypeError, match="integers"):
        model(D.DiffusionSample(x, torch.tensor([1.0])))


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_the_same_generator_gives_the_same_images_whatever_the_global_rng(sampler):
    schedule, model = D.cosine_schedule(10), D.DiffusionUNet(T=10)
    model.train()

    def sample(global_seed):
        torch.manual_seed(global_seed)
        g = torch.Generator().manual_seed(5)
        if sampler == "ddpm":
            return D.ddpm_sample(model, schedule, n=2, generator=g, progress=False)
        return D.ddim_sample(model, schedule, n=2, n_steps=5, eta=1.0, generator=g, progress=False)

    assert torch.equal(sample(1), sample(2))  # every step's noise comes from the generator
    assert model.training  # the sampler ran in eval mode and gave the model its mode back
    state = torch.get_rng_state()
    g = torch.Generator().manual_seed(5)
    D.ddpm_sample(model, schedule, n=2, generator=g, progress=False)
    D.ddim_sample(model, schedule, n=2, n_steps=5, eta=1.0, generator=g, progress=False)
    assert torch.equal(torch.get_rng_state(), state)  # with a generator, the global RNG is left alone

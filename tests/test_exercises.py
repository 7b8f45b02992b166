import json

import pytest
import torch
import torch.nn.functional as F

from dl101 import checks, student
from dl101.exercises import Incorrect


def test_strip_solution_keeps_the_code_around_the_solution_and_its_indentation():
    source = ("x = 1\n"
              "def f():\n"
              "    # BEGIN SOLUTION\n"
              "    return 42\n"
              "    # END SOLUTION\n"
              "check(f)\n")
    stripped = student.strip_solution(source)
    assert "42" not in stripped
    assert stripped.startswith("x = 1\ndef f():\n    # YOUR CODE HERE\n    raise NotImplementedError(")
    assert stripped.endswith("check(f)\n")


@pytest.mark.parametrize("bad", ["# BEGIN SOLUTION\nx\n", "x\n# END SOLUTION\n",
                                 "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n"])
def test_unbalanced_markers_are_reported(bad):
    with pytest.raises(ValueError, match="SOLUTION"):
        student.strip_solution(bad)


def test_the_cli_writes_student_copies_without_solutions_or_outputs(tmp_path):
    notebook = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# BEGIN SOLUTION in prose stays"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 3, "outputs": [{"output_type": "stream"}],
         "source": ["a = 1\n", "# BEGIN SOLUTION\n", "answer = 42\n", "# END SOLUTION\n"]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "01.ipynb").write_text(json.dumps(notebook))
    assert student.main([str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    copy = json.loads((tmp_path / "out" / "01.ipynb").read_text())
    code = copy["cells"][1]
    assert "42" not in code["source"] and "NotImplementedError" in code["source"]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert not student.has_solutions(copy) and student.has_solutions(notebook)


def test_hidden_tests_and_instructor_metadata_leave_the_learner_copy():
    notebook = {"cells": [
        {"cell_type": "code", "execution_count": None, "outputs": [], "source": "# BEGIN SOLUTION\nx = 1\n# END SOLUTION",
         "metadata": {"nbgrader": {"solution": True, "grade_id": "a", "checksum": "abc"},
                      "dl101": {"wrong_answers": ["x = 2", "x = 3"]}}},
        {"cell_type": "code", "execution_count": None, "outputs": [], "metadata": {},
         "source": "check(x)\n### BEGIN HIDDEN TESTS\nassert x == 1\n### END HIDDEN TESTS\n"}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    copy = student.student_notebook(notebook)
    assert copy["cells"][1]["source"] == "check(x)"
    assert copy["cells"][0]["metadata"] == {"nbgrader": {"solution": True, "grade_id": "a"}}
    assert student.has_solutions(notebook) and not student.has_solutions(copy)


def test_a_wrong_answer_shows_the_hint_not_the_checkers_code():
    from dl101.checks import QUESTIONS, Choice, check_choice

    QUESTIONS["test-q"] = Choice(right="b", why={"a": "No: a is wrong because of x.", "b": "Yes: b, because y."})
    try:
        with pytest.raises(Incorrect) as info:
            check_choice("test-q", "a")
        assert info.value._render_traceback_()[-1].endswith("No: a is wrong because of x.")
        with pytest.raises(Incorrect, match="not an option"):
            check_choice("test-q", "e")
        with pytest.raises(Incorrect, match="as text"):
            check_choice("test-q", 2)
        check_choice("test-q", "(B)")
    finally:
        del QUESTIONS["test-q"]


# Each checker accepts the right answer and rejects a wrong one with a specific hint.

def test_ch01_checkers():
    from dl101.pca import oval_data, pca_components
    from sklearn.decomposition import PCA

    X = oval_data(60)
    ratio = PCA(2).fit(X.numpy()).explained_variance_ratio_.sum()
    checks.check_explained_variance(ratio, X)
    with pytest.raises(Incorrect, match="total variance"):
        checks.check_explained_variance(ratio * 0.8, X)
    checks.check_first_component(-torch.tensor(pca_components(X, 1)[:, 0]), X)
    with pytest.raises(Incorrect, match="away from PCA"):
        checks.check_first_component(torch.tensor(pca_components(X, 3)[:, 2]), X)


def test_ch02_checkers():
    from dl101.autoencoders import TiedAutoencoder, stacked_autoencoder

    errors = torch.rand(1000)
    checks.check_anomaly_threshold(torch.quantile(errors, 0.95), errors)
    with pytest.raises(Incorrect, match="quantile"):
        checks.check_anomaly_threshold(errors.mean(), errors)
    stacked, tied = stacked_autoencoder(), TiedAutoencoder()
    checks.check_tied_savings(784 * 128 + 128 * 32, stacked, tied)
    with pytest.raises(Incorrect, match="subtract"):
        checks.check_tied_savings(784 * 128, stacked, tied)


def test_ch03_ch04_checkers(fashion):
    from dl101.autoencoders import conv_autoencoder, stacked_autoencoder

    checks.check_autoencoder(conv_autoencoder(16), 16, fashion.valid_x)
    with pytest.raises(Incorrect, match=r"\(N, 16\)"):
        checks.check_autoencoder(stacked_autoencoder(), 16, fashion.valid_x)
    with pytest.raises(Incorrect, match="AEOutput"):
        checks.check_autoencoder(torch.nn.Identity(), 16, fashion.valid_x)
    x = fashion.valid_x[:4]
    checks.check_columns_as_sequence(x.transpose(2, 3), x)
    with pytest.raises(Incorrect, match="swap"):
        checks.check_columns_as_sequence(x.clone(), x)
    checks.check_conv_parameters(32 * (16 * 9 + 1), 16, 32, 3)
    with pytest.raises(Incorrect, match="plus one bias"):
        checks.check_conv_parameters(32 * 16 * 9, 16, 32, 3)


class SaltAndPepper(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        hit = torch.rand_like(x) < self.p
        return torch.where(hit, (torch.rand_like(x) < 0.5).float(), x)


class OnlySalt(SaltAndPepper):
    def forward(self, x):
        return torch.where(torch.rand_like(x) < self.p, torch.ones_like(x), x) if self.training else x


def test_ch05_checkers(fashion):
    from dl101.autoencoders import GaussianNoise, denoising_autoencoder

    checks.check_salt_and_pepper(SaltAndPepper)
    with pytest.raises(Incorrect, match="equally"):
        checks.check_salt_and_pepper(OnlySalt)
    model, clean = denoising_autoencoder(GaussianNoise(0.5)), fashion.valid_x[:32]
    noisy = (clean + 0.5 * torch.randn_like(clean)).clamp(0, 1)
    model.eval()
    with torch.no_grad():
        right = (model(noisy).output - clean).square().mean().sqrt()
        wrong = (model(noisy).output - noisy).square().mean().sqrt()
    checks.check_denoising_rmse(right, model, clean, noisy)
    with pytest.raises(Incorrect, match="CLEAN"):
        checks.check_denoising_rmse(wrong, model, clean, noisy)


def test_ch06_checkers(fashion):
    from dl101.autoencoders import sparse_autoencoder

    checks.check_l1_penalty(lambda c: c.abs().mean())
    with pytest.raises(Incorrect, match="mean absolute"):
        checks.check_l1_penalty(lambda c: c.abs().sum())
    model = sparse_autoencoder().eval()
    x, y = fashion.valid_x, fashion.valid_y
    with torch.no_grad():
        unit = model(x[y == 1]).codings.mean(0).argmax().item()
    checks.check_most_active_unit(unit, model, x, y, 1)
    with pytest.raises(Incorrect, match="argmax"):
        checks.check_most_active_unit((unit + 1) % 256, model, x, y, 1)


def test_ch07_checkers():
    from dl101.vae import gaussian_kl

    checks.check_gaussian_kl(gaussian_kl)
    with pytest.raises(Incorrect, match="sign"):
        checks.check_gaussian_kl(lambda m, lv: 0.5 * torch.sum(1 + lv - lv.exp() - m ** 2, -1))
    checks.check_prior_samples(torch.rand(5, 1, 28, 28), 32, 5)
    with pytest.raises(Incorrect, match="identical"):
        checks.check_prior_samples(torch.full((5, 1, 28, 28), 0.5), 32, 5)


def test_ch08_checkers():
    import math

    from dl101.vae import categorical_kl_to_uniform

    checks.check_categorical_kl(categorical_kl_to_uniform)
    naive = lambda l: (l.softmax(-1) * (l.softmax(-1).log() + math.log(l.size(-1)))).sum((1, 2))  # noqa: E731
    with pytest.raises(Incorrect, match="NaN|log_softmax"):
        checks.check_categorical_kl(naive)
    checks.check_code_count(16 ** 32)
    with pytest.raises(Incorrect, match="multiply"):
        checks.check_code_count(16 * 32)


def test_ch09_checkers(fashion):
    from dl101.gan import mlp_discriminator

    checks.check_generator_loss(lambda l: F.binary_cross_entropy_with_logits(l, torch.ones_like(l)))
    with pytest.raises(Incorrect, match="label 1"):
        checks.check_generator_loss(lambda l: F.binary_cross_entropy_with_logits(l, torch.zeros_like(l)))
    d = mlp_discriminator()
    real, fake = fashion.valid_x[:16], torch.rand(16, 1, 28, 28)
    with torch.no_grad():
        acc = torch.cat([(d(real) > 0).float(), (d(fake) <= 0).float()]).mean()
    checks.check_discriminator_accuracy(acc, d, real, fake)
    with pytest.raises(Incorrect, match="logit above 0"):
        checks.check_discriminator_accuracy(1.5 - acc, d, real, fake)


def test_ch10_checkers():
    from dl101.diffusion import cosine_schedule, ddim_sigma

    ab = cosine_schedule(4000).alpha_bar

    def right(x0, t, eps):
        a = ab[t].view(-1, 1, 1, 1)
        return a.sqrt() * x0 + (1 - a).sqrt() * eps

    def wrong(x0, t, eps):
        return ab[t].view(-1, 1, 1, 1) * x0 + (1 - ab[t].view(-1, 1, 1, 1)) * eps

    checks.check_forward_diffusion(right, ab)
    with pytest.raises(Incorrect, match="differs"):
        checks.check_forward_diffusion(wrong, ab)
    checks.check_ddim_sigma(ddim_sigma)
    with pytest.raises(Incorrect, match="two steps"):
        checks.check_ddim_sigma(lambda a, p, eta: eta * ((1 - p) / (1 - a)).sqrt())


def test_checkers_leave_the_learners_random_state_and_model_mode_alone(fashion):
    from dl101.autoencoders import conv_autoencoder, denoising_autoencoder, GaussianNoise
    from dl101.vae import categorical_kl_to_uniform, gaussian_kl

    torch.manual_seed(123)
    state = torch.get_rng_state()
    checks.check_gaussian_kl(gaussian_kl)
    checks.check_categorical_kl(categorical_kl_to_uniform)
    checks.check_l1_penalty(lambda c: c.abs().mean())
    checks.check_salt_and_pepper(SaltAndPepper)
    checks.check_generator_loss(lambda l: F.binary_cross_entropy_with_logits(l, torch.ones_like(l)))
    assert torch.equal(torch.get_rng_state(), state)
    model = conv_autoencoder(16).train()
    checks.check_autoencoder(model, 16, fashion.valid_x)
    assert model.training
    denoiser, clean = denoising_autoencoder(GaussianNoise(0.5)).train(), fashion.valid_x[:8]
    with torch.no_grad():
        denoiser.eval()
        rmse = (denoiser(clean).output - clean).square().mean().sqrt()
        denoiser.train()
    checks.check_denoising_rmse(rmse, denoiser, clean, clean)
    assert denoiser.training


def test_checkers_accept_float64_answers_and_explain_a_wrong_type():
    from dl101.vae import gaussian_kl

    checks.check_gaussian_kl(lambda m, lv: gaussian_kl(m.double(), lv.double()))
    x = torch.rand(2, 1, 28, 28)
    checks.check_columns_as_sequence(x.transpose(2, 3).double(), x)
    checks.check_code_count(float(16 ** 32))
    with pytest.raises(Incorrect, match="got the text"):
        checks.check_code_count("sixteen to the 32")
    with pytest.raises(Incorrect, match="whole number"):
        checks.check_conv_parameters(12.5, 16, 32, 3)

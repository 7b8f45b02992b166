"""The classifier and the sample-quality scores, on real Fashion-MNIST images.

The Fréchet distance is checked against the formula computed with numpy and scipy.linalg.sqrtm,
a reference written by nobody here; its ordering is checked on real, blurred, shuffled and noise
images.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from dl101.classifier import FashionClassifier, accuracy, train_classifier
from dl101.data import fashion_mnist
from dl101.modes import eval_mode
from dl101.quality import ClassifierFeatures, class_histogram, frechet_distance, show_class_histogram

N = 2000  # images per set: enough for a 128×128 covariance, quick on a CPU


@pytest.fixture(scope="session")
def data():
    """10,000 real training images (the quick classifier's), 1,000 validation, all 10,000 test images."""
    return fashion_mnist(n_train=10_000, n_valid=1_000, n_test=10_000)


@pytest.fixture(scope="session")
def classifier(data):
    """A classifier trained here in a few seconds (2 epochs on 10,000 images): enough to rank the scores."""
    with torch.random.fork_rng(devices=[]):  # repeatable, and the session's own random state untouched
        torch.manual_seed(0)
        model, _ = train_classifier(data, n_epochs=2, device="cpu", verbose=False)
    return model


def blur(images: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """Gaussian blur (5×5 kernel): the clothes keep their shapes but lose their details."""
    t = torch.arange(-2, 3, dtype=torch.float32)
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    kernel = torch.outer(g, g) / torch.outer(g, g).sum()
    return F.conv2d(F.pad(images, (2, 2, 2, 2), mode="replicate"), kernel[None, None])


def shuffle_pixels(images: torch.Tensor) -> torch.Tensor:
    """The same random permutation of the 784 pixel positions in every image: same pixels, no clothes."""
    order = torch.randperm(28 * 28, generator=torch.Generator().manual_seed(1))
    return images.flatten(1)[:, order].view_as(images)


def uniform_noise(n: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(2))


def reference_frechet(real: torch.Tensor, fake: torch.Tensor, classifier) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) with numpy and scipy.linalg.sqrtm."""
    with torch.no_grad(), eval_mode(classifier):
        f1, f2 = (classifier.features(x).double().numpy() for x in (real, fake))
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real  # tiny imaginary parts are rounding noise
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root))


def test_quick_classifier_is_accurate(classifier, data):
    # 2 epochs on 10,000 images reach ~86% on CPU; the shipped weights reach >= 92%
    assert accuracy(classifier, data.test_x, data.test_y) > 0.80


@pytest.mark.parametrize("kind", ["real", "blurred"])
def test_frechet_distance_matches_scipy_reference(classifier, data, kind):
    real = data.test_x[:N]
    fake = data.train_x[:N] if kind == "real" else blur(data.train_x[:N])
    expected = reference_frechet(real, fake, classifier)
    assert frechet_distance(real, fake, classifier) == pytest.approx(expected, rel=1e-3, abs=1e-3)


def test_real_images_score_far_better_than_degraded_ones(classifier, data):
    real, other = data.test_x[:N], data.train_x[:N]
    scores = {name: frechet_distance(real, fake, classifier) for name, fake in
              [("real", other), ("blurred", blur(other)), ("shuffled", shuffle_pixels(other)),
               ("noise", uniform_noise(N))]}
    assert scores["real"] < scores["noise"] / 10, scores
    assert scores["real"] < scores["blurred"] / 2, scores
    assert scores["real"] < scores["shuffled"] / 10, scores


def test_identical_sets_score_zero(classifier, data):
    images = data.test_x[:500]
    assert frechet_distance(images, images, classifier) == pytest.approx(0, abs=1e-2)


def test_class_histogram_of_real_test_images_is_nearly_uniform(classifier, data):
    counts = class_histogram(data.test_x, classifier)
    assert counts.shape == (10,) and counts.dtype == torch.int64
    assert counts.sum().item() == len(data.test_x)
    shares = counts.float() / counts.sum()
    assert ((shares > 0.05) & (shares < 0.15)).all(), shares  # the true share is exactly 10% each


def test_class_histogram_sees_a_collapsed_generator(classifier, data):
    trousers = data.test_x[data.test_y == 1]  # as if a generator only drew trousers
    counts = class_histogram(trousers, classifier)
    assert counts.argmax().item() == 1 and counts[1] > 0.9 * len(trousers)


def test_show_class_histogram_draws_one_bar_per_class(classifier, data):
    counts = class_histogram(data.test_x[:500], classifier)
    ax = show_class_histogram(counts, data.classes, title="real test images")
    assert len(ax.patches) == 10 and ax.get_title() == "real test images"
    with pytest.raises(ValueError, match="one count per class"):
        show_class_histogram(counts[:9], data.classes)


WRONG_SHAPES = {  # what a learner may pass by mistake, and the fix the error must suggest
    "no channel dimension": (lambda x: x[:, 0], "unsqueeze"),
    "flat images": (lambda x: x.flatten(1), r"view\(-1, 1, 28, 28\)"),
    "one image, no batch dimension": (lambda x: x[0], r"x\[None\]"),
    "three channels": (lambda x: x.expand(-1, 3, -1, -1), r"expected images shaped \(N, 1, 28, 28\)"),
}


@pytest.mark.parametrize("case", WRONG_SHAPES)
def test_classifier_refuses_wrong_shapes(classifier, data, case):
    reshape, hint = WRONG_SHAPES[case]
    with pytest.raises(ValueError, match=hint):
        classifier(reshape(data.test_x[:4]))


def test_classifier_refuses_bytes(classifier, data):
    with pytest.raises(TypeError, match="float"):
        classifier((data.test_x[:4] * 255).byte())


def test_frechet_distance_refuses_diffusion_range(classifier, data):
    images = data.test_x[:100] * 2 - 1  # diffusion samples live in [-1, 1]
    with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
        frechet_distance(data.test_x[:100], images, classifier)


def test_frechet_distance_refuses_a_single_image(classifier, data):
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(data.test_x[:100], data.test_x[:1], classifier)


def test_mode_and_random_state_are_left_alone(classifier, data):
    real, fake = data.test_x[:500], blur(data.train_x[:500])
    expected = frechet_distance(real, fake, classifier)
    for training in (True, False):
        classifier.train(training)
        state = torch.get_rng_state()
        score = frechet_distance(real, fake, classifier)
        counts = class_histogram(real, classifier)
        accuracy(classifier, real, data.test_y[:500])
        assert classifier.training is training
        assert all(m.training is training for m in classifier.modules())
        assert torch.equal(torch.get_rng_state(), state)
        assert score == pytest.approx(expected, rel=1e-5)  # dropout stayed off in train mode
        assert counts.sum() == 500
    classifier.eval()


def test_feature_adapter_takes_what_torchmetrics_gives(classifier, data):
    # depending on its version, torchmetrics passes uint8 RGB images, or floats in [0, 1]
    images = data.test_x[:8]
    with torch.no_grad():
        with eval_mode(classifier):
            expected = classifier.features(images)
        as_bytes = ClassifierFeatures(classifier)((images * 255).round().byte().expand(8, 3, 28, 28))
        big = ClassifierFeatures(classifier)(torch.rand(1, 3, 299, 299, generator=torch.Generator().manual_seed(3)))
    torch.testing.assert_close(as_bytes, expected, atol=1e-5, rtol=1e-5)
    assert big.shape == (1, classifier.n_features)


def test_fresh_classifier_is_small():
    model = FashionClassifier()
    assert sum(p.numel() for p in model.parameters()) < 300_000
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert model.features(torch.zeros(2, 1, 28, 28)).shape == (2, model.n_features)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_frechet_distance_on_cuda_matches_cpu(classifier, data):
    real, fake = data.test_x[:500], blur(data.train_x[:500])
    on_cpu = frechet_distance(real, fake, classifier)
    gpu_model = FashionClassifier().cuda()
    gpu_model.load_state_dict(classifier.state_dict())
    assert frechet_distance(real, fake.cuda(), gpu_model) == pytest.approx(on_cpu, rel=1e-3)
    assert torch.equal(class_histogram(real.cuda(), gpu_model), class_histogram(real, classifier))

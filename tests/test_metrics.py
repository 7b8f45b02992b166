"""dl101's RMSE against torchmetrics' MeanSquaredError(squared=False), on real images."""
import pytest
import torch
import torchmetrics

from dl101.autoencoders import stacked_autoencoder
from dl101.data import autoencoder_batches
from dl101.metrics import RMSE
from dl101.training import evaluate, metric_name


def test_rmse_over_batches_equals_torchmetrics(fashion):
    torch.manual_seed(0)
    model = stacked_autoencoder().eval()
    batches = autoencoder_batches(fashion.valid_x[:300], batch_size=64)  # the last batch is smaller
    ours, theirs = evaluate(model, batches, RMSE()), evaluate(model, batches, torchmetrics.MeanSquaredError(squared=False))
    assert ours == pytest.approx(theirs, rel=1e-6)
    images = fashion.valid_x[:300]
    assert ours == pytest.approx(((model(images).output - images) ** 2).mean().sqrt().item(), rel=1e-5)


def test_rmse_resets_and_names_itself():
    metric = RMSE()
    metric.update(torch.zeros(4), torch.ones(4))
    assert metric.compute().item() == 1.0 and metric_name(metric) == "RMSE"
    metric.reset()
    metric.update(torch.zeros(2), torch.full((2,), 3.0))
    assert metric.compute().item() == 3.0


def test_rmse_refuses_predictions_of_another_shape():
    with pytest.raises(ValueError, match="shaped like the targets"):
        RMSE().update(torch.zeros(2, 784), torch.zeros(2, 1, 28, 28))

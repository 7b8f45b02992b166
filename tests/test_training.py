import math

import pytest
import torch
import torchmetrics
from torch import nn

from dl101.autoencoders import stacked_autoencoder
from dl101.data import autoencoder_batches
from dl101.training import (NonFiniteLossError, compute_loss, cosine_factor, evaluate, metric_name,
                            train)


def rmse():
    return torchmetrics.MeanSquaredError(squared=False)


def _run(fashion, n_epochs=2, seed=0, **kwargs):
    torch.manual_seed(seed)
    model = stacked_autoencoder()
    optimizer = torch.optim.NAdam(model.parameters(), lr=0.01)
    history = train(model, optimizer, nn.MSELoss(), rmse(),
                    autoencoder_batches(fashion.train_x[:1024], shuffle=True),
                    autoencoder_batches(fashion.valid_x, batch_size=256), n_epochs, verbose=False, **kwargs)
    return model, history


def test_training_on_real_images_lowers_the_validation_rmse(fashion):
    torch.manual_seed(0)
    untrained = evaluate(stacked_autoencoder(), autoencoder_batches(fashion.valid_x, 256), rmse())
    model, history = _run(fashion, n_epochs=3)
    assert history.epochs == 3 and not history.interrupted
    assert history["valid_metric"][-1] < 0.8 * untrained
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["valid_metric"][-1] == pytest.approx(
        evaluate(model, autoencoder_batches(fashion.valid_x, 500), rmse()), rel=1e-5)


def test_the_same_seed_gives_the_same_history_on_cpu(fashion):
    _, first = _run(fashion, seed=7)
    _, second = _run(fashion, seed=7)
    _, other = _run(fashion, seed=8)
    figures = ("train_loss", "train_metric", "valid_metric", "lr")
    assert all(first[key] == second[key] for key in figures)  # exactly equal, not approximately
    assert first["train_loss"] != other["train_loss"]


def test_cosine_schedule_decays_the_learning_rate_per_epoch(fashion):
    _, history = _run(fashion, n_epochs=4)
    assert history["lr"] == pytest.approx([0.01 * cosine_factor(e, 4) for e in range(4)])
    assert history["lr"][0] == 0.01 and history["lr"][-1] < 0.002
    _, constant = _run(fashion, n_epochs=2, lr_schedule=None)
    assert constant["lr"] == [0.01, 0.01]


def test_a_nan_loss_raises_an_error_naming_the_epoch_and_batch(fashion):
    calls = {"n": 0}

    def exploding(y_pred, y):
        calls["n"] += 1
        loss = nn.functional.mse_loss(y_pred.output, y)
        return loss * math.nan if calls["n"] == 32 + 5 else loss  # epoch 2, batch 5

    model = stacked_autoencoder()
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 5/32") as info:
        train(model, torch.optim.NAdam(model.parameters()), exploding, rmse(),
              autoencoder_batches(fashion.train_x[:1024], shuffle=True), None, 3, verbose=False)
    assert info.value.history.epochs == 1  # the completed epoch is not lost
    assert "learning rate" in str(info.value)


def test_an_interrupted_training_returns_the_history_so_far(fashion, capsys):
    def stop_at_third_epoch(model, epoch):
        if epoch == 2:
            raise KeyboardInterrupt

    _, history = _run(fashion, n_epochs=5, epoch_callback=stop_at_third_epoch)
    assert history.interrupted and history.epochs == 2
    assert "interrupted" in capsys.readouterr().out


def test_builtin_losses_see_the_output_and_custom_losses_see_the_whole_prediction():
    from dl101.autoencoders import AEOutput

    pred, y = AEOutput(torch.ones(2, 3), torch.zeros(2, 1)), torch.zeros(2, 3)
    assert compute_loss(nn.MSELoss(), pred, y).item() == 1.0
    assert compute_loss(lambda p, t: p.codings.sum() + 5, pred, y).item() == 5.0


def test_metric_name_calls_root_mean_squared_error_rmse():
    assert metric_name(rmse()) == "RMSE"
    assert metric_name(torchmetrics.MeanSquaredError()) == "MSE"


def test_an_unknown_schedule_is_rejected(fashion):
    with pytest.raises(ValueError, match="lr_schedule"):
        _run(fashion, n_epochs=1, lr_schedule="linear")


def test_empty_training_or_validation_data_get_a_clear_error(fashion):
    model = stacked_autoencoder()
    optimizer = torch.optim.NAdam(model.parameters())
    with pytest.raises(ValueError, match="training batches are empty"):
        train(model, optimizer, nn.MSELoss(), rmse(), autoencoder_batches(fashion.train_x[:0]), None, 1,
              verbose=False)
    with pytest.raises(ValueError, match="validation batches are empty"):
        train(model, optimizer, nn.MSELoss(), rmse(), autoencoder_batches(fashion.train_x[:64]),
              autoencoder_batches(fashion.valid_x[:0]), 1, verbose=False)


def test_nan_in_the_validation_data_is_reported_not_returned_as_a_nan_metric(fashion):
    valid = fashion.valid_x[:64].clone()
    valid[3, 0, 5, 5] = math.nan
    model = stacked_autoencoder()
    with pytest.raises(ValueError, match="validation data contain NaN"):
        train(model, torch.optim.NAdam(model.parameters()), nn.MSELoss(), rmse(),
              autoencoder_batches(fashion.train_x[:64]), autoencoder_batches(valid, 32), 1, verbose=False)


def test_float64_data_and_data_on_another_device_are_explained(fashion):
    model = stacked_autoencoder()
    optimizer = torch.optim.NAdam(model.parameters())
    with pytest.raises(TypeError, match=r"float64.*float32.*x.float\(\)"):
        train(model, optimizer, nn.MSELoss(), rmse(), autoencoder_batches(fashion.train_x[:64].double()),
              None, 1, verbose=False)
    elsewhere = fashion.train_x[:64].to("meta")  # stands in for a GPU tensor on this CPU-only machine
    with pytest.raises(RuntimeError, match="on meta but the model is on cpu: move one to the other"):
        train(model, optimizer, nn.MSELoss(), rmse(), autoencoder_batches(elsewhere), None, 1, verbose=False)


def test_train_says_what_it_does_and_leaves_the_model_in_eval_mode(fashion, capsys):
    model, _ = _run(fashion, n_epochs=1)
    assert not model.training  # documented: ready to evaluate
    model = stacked_autoencoder()
    train(model, torch.optim.NAdam(model.parameters()), nn.MSELoss(), rmse(),
          autoencoder_batches(fashion.train_x[:64]), None, 1, max_grad_norm=0.5)
    assert "gradient clipping at norm 0.5" in capsys.readouterr().out


def test_evaluate_gives_the_model_its_mode_back(fashion):
    model = stacked_autoencoder().train()
    evaluate(model, autoencoder_batches(fashion.valid_x[:64], 32), rmse())
    assert model.training

"""One training loop for every chapter but the GAN: ``train()``.

Models return a tensor or a named tuple with an ``output`` field. Built-in torch losses
(``nn.MSELoss()``, ``nn.HuberLoss()``) are applied to that output; a custom loss function receives
the whole prediction (so a VAE loss can read the means and log-variances).
"""
from __future__ import annotations

import math
import time
from typing import Callable

import torch
from torch import nn

from dl101.graphs import fast_path, use_cuda_graphs
from dl101.graphs import leaves
from dl101.modes import eval_mode
from dl101.progress import progress
from dl101.shapes import validate_like_model


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; ``.history`` holds the epochs completed before it."""

    def __init__(self, message: str, history: "History"):
        super().__init__(message)
        self.history = history


class History(dict):
    """Per-epoch figures of a training run; ``interrupted`` tells whether it was cut short."""

    KEYS = ("train_loss", "train_metric", "valid_metric", "lr", "seconds")

    def __init__(self):
        super().__init__({key: [] for key in self.KEYS})
        self.interrupted = False
        self.batches_per_epoch = 0

    @property
    def epochs(self) -> int:
        """How many epochs were completed."""
        return len(self["train_loss"])


def output_of(y_pred):
    """The reconstruction (or prediction) inside a model's output, named tuple or tensor."""
    return y_pred.output if hasattr(y_pred, "output") else y_pred


def is_torch_loss(loss_fn) -> bool:
    """True for torch's own loss modules (``nn.MSELoss()``, ``nn.HuberLoss()``, ...) and their subclasses."""
    return isinstance(loss_fn, nn.Module) and any(
        cls.__module__ == "torch.nn.modules.loss" for cls in type(loss_fn).__mro__)


def compute_loss(loss_fn: Callable, y_pred, y) -> torch.Tensor:
    """Apply ``loss_fn``: torch's own losses see ``output_of(y_pred)``, custom ones see everything."""
    if is_torch_loss(loss_fn):
        return loss_fn(output_of(y_pred), y)
    return loss_fn(y_pred, y)


def cosine_factor(epoch: int, n_epochs: int) -> float:
    """Cosine decay of the learning rate from 1× at the first epoch towards 0 at the end."""
    return 0.5 * (1 + math.cos(math.pi * epoch / max(n_epochs, 1)))


def _lr_factor(schedule, epoch: int, n_epochs: int) -> float:
    if schedule is None or schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return cosine_factor(epoch, n_epochs)
    if callable(schedule):
        return float(schedule(epoch, n_epochs))
    raise ValueError(f"lr_schedule must be 'cosine', 'constant', None or a function; got {schedule!r}")


def metric_name(metric) -> str:
    """A short label for a metric ("RMSE" for dl101.metrics.RMSE and MeanSquaredError(squared=False))."""
    name = type(metric).__name__
    if name == "MeanSquaredError" and not getattr(metric, "squared", True):
        return "RMSE"
    return {"MeanSquaredError": "MSE", "MeanAbsoluteError": "MAE"}.get(name, name)


@torch.no_grad()
def evaluate(model: nn.Module, batches, metric) -> float:
    """The metric of ``model`` over ``batches`` in eval mode (one host sync, at the end).

    The model gets its own mode back afterwards. Empty batches, or inputs or targets holding NaN
    or inf, raise a ValueError that says so.
    """
    if len(batches) == 0:
        raise ValueError("the validation batches are empty: pass valid_batches=None to train without "
                         "validation, or give it at least one image")
    finite = []
    metric.reset()
    with eval_mode(model):
        for X, y in batches:
            finite.append(all_finite(X, y))  # stays on the device until the one sync below
            metric.update(output_of(model(X)), y)
    value = metric.compute().item()
    metric.reset()
    if not torch.stack(finite).all().item():
        raise ValueError("the validation data contain NaN or inf values: check how they were made "
                         "(e.g. a division by zero when normalising) and pass finite tensors")
    return value


def all_finite(*batch) -> torch.Tensor:
    """One boolean tensor on the device: every floating-point value in ``batch`` is finite."""
    tensors = leaves(batch)
    flags = [torch.isfinite(t).all() for t in tensors if t.is_floating_point()]
    return torch.stack(flags).all() if flags else torch.tensor(True, device=tensors[0].device)


def training_step(model, optimizer, loss_fn, max_grad_norm: float | None) -> Callable:
    """Build ``step(X, y) -> (output, loss)``: forward, loss, backward, clipping, update."""
    params = [p for p in model.parameters() if p.requires_grad]

    def step(X, y):
        optimizer.zero_grad(set_to_none=True)
        y_pred = model(X)
        loss = compute_loss(loss_fn, y_pred, y)
        loss.backward()
        if max_grad_norm:
            nn.utils.clip_grad_norm_(params, max_grad_norm)  # keeps RNNs and early epochs stable
        optimizer.step()
        return output_of(y_pred).detach(), loss.detach()

    return step


def _nonfinite_error(losses, upto, epoch, n_batches, history) -> NonFiniteLossError:
    bad = (~torch.isfinite(losses[:upto])).nonzero()
    batch = int(bad[0]) + 1 if len(bad) else upto
    return NonFiniteLossError(
        f"The loss became {losses[batch - 1].item()} at epoch {epoch + 1}, batch {batch}/{n_batches}. "
        "Usual causes: a learning rate that is too high (try 10x lower), log(0) or division by zero "
        "in a custom loss, or inputs outside the range the model expects. "
        f"The history of the {history.epochs} completed epoch(s) is in this error's .history.",
        history)


def _print_epoch(history: History, epoch: int, n_epochs: int, name: str) -> None:
    line = (f"Epoch {epoch + 1}/{n_epochs}  train loss {history['train_loss'][-1]:.4f}"
            f"  train {name} {history['train_metric'][-1]:.4f}")
    if history["valid_metric"][-1] is not None:
        line += f"  valid {name} {history['valid_metric'][-1]:.4f}"
    print(line + f"  lr {history['lr'][-1]:.2e}  ({history['seconds'][-1]:.1f} s)")


def _set_learning_rate(optimizer, base_lrs, schedule, epoch: int, n_epochs: int) -> None:
    factor = _lr_factor(schedule, epoch, n_epochs)
    for group, lr in zip(optimizer.param_groups, base_lrs):
        group["lr"] = lr * factor


def validate_batch(model: nn.Module, X, y) -> None:
    """Raise a clear error unless a batch's tensors match the model's dtype and device."""
    for tensor in leaves((X, y)):
        validate_like_model(tensor, model, "the training data")


def _train_epoch(step, batches, metric, epoch: int, n_epochs: int, check_every: int, history, verbose: bool,
                 model: nn.Module):
    """One pass over ``batches``; returns the per-batch losses (on the device)."""
    n_batches = len(batches)
    losses = torch.zeros(n_batches, device=metric.device)
    metric.reset()
    bar = progress(batches, verbose, total=n_batches, desc=f"Epoch {epoch + 1}/{n_epochs}")
    for batch, (X, y) in enumerate(bar):
        if batch == 0 and epoch == 0:
            validate_batch(model, X, y)
        output, loss = step(X, y)
        losses[batch] = loss
        metric.update(output, y)
        if (batch + 1) % check_every == 0 or batch + 1 == n_batches:
            running = losses[: batch + 1].mean().item()  # the one host sync: the NaN check
            if not math.isfinite(running):
                raise _nonfinite_error(losses, batch + 1, epoch, n_batches, history)
            bar.set_postfix(loss=f"{running:.4f}", refresh=False)
    return losses


def _describe(device, use_graphs: bool, lr_schedule, max_grad_norm, n_epochs: int) -> str:
    schedule = lr_schedule if isinstance(lr_schedule, str) or lr_schedule is None else "custom"
    clipping = f"gradient clipping at norm {max_grad_norm}" if max_grad_norm else "no gradient clipping"
    return (f"Training {n_epochs} epoch(s) on {device}{' (CUDA graphs)' if use_graphs else ''}: "
            f"learning-rate schedule {schedule}, {clipping}.")


def train(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable, metric,
          train_batches, valid_batches=None, n_epochs: int = 10, *, lr_schedule="cosine",
          max_grad_norm: float | None = 1.0, epoch_callback: Callable | None = None,
          cuda_graphs: bool | None = None, check_every: int = 100, verbose: bool = True) -> History:
    """Train ``model`` and return its per-epoch history (also when interrupted).

    The learning rate follows ``lr_schedule`` per epoch ("cosine" decays it from the optimizer's
    rate towards zero; None keeps it). Gradients are clipped to norm ``max_grad_norm`` (1.0; None
    turns clipping off). ``epoch_callback(model, epoch)`` runs at each epoch's start. The loss is
    checked for NaN every ``check_every`` batches, the only host syncs inside an epoch.

    On a CUDA device each step is replayed as one CUDA graph (``cuda_graphs=False`` turns it off):
    Python values the loss or a callback reads (a temperature, a weight) are then frozen within an
    epoch, and take effect from the next epoch, when the step is captured again.

    What it changes: the model trains in train mode and is left in **eval mode**, ready to be
    evaluated; the optimizer's learning rate is left at the last epoch's value; on CUDA its
    ``capturable`` flag is switched on during training and restored afterwards.
    """
    device = next(model.parameters()).device
    if len(train_batches) == 0:
        raise ValueError("the training batches are empty: give train() at least one image "
                         "(check the slice or the n_train you asked for)")
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    metric, name, history, epoch = metric.to(device), metric_name(metric), History(), 0
    history.batches_per_epoch = len(train_batches)
    if verbose:
        print(_describe(device, use_cuda_graphs(device, cuda_graphs), lr_schedule, max_grad_norm, n_epochs))
    with fast_path(device, cuda_graphs, optimizer) as graphed:
        step = graphed(training_step(model, optimizer, loss_fn, max_grad_norm))
        try:
            for epoch in range(n_epochs):
                start = time.perf_counter()
                model.train()
                if epoch_callback is not None:
                    epoch_callback(model, epoch)
                _set_learning_rate(optimizer, base_lrs, lr_schedule, epoch, n_epochs)
                step.reset()  # a new learning rate or a callback's change must be captured again
                losses = _train_epoch(step, train_batches, metric, epoch, n_epochs, check_every, history,
                                      verbose, model)
                _record_epoch(history, losses, metric, model, valid_batches, optimizer, start)
                if verbose:
                    _print_epoch(history, epoch, n_epochs, name)
        except KeyboardInterrupt:
            history.interrupted = True
            print(f"\nTraining interrupted during epoch {epoch + 1}. Returning the history of the "
                  f"{history.epochs} completed epoch(s); the model keeps its current weights.")
        finally:
            model.eval()
    return history


def _record_epoch(history: History, losses, metric, model, valid_batches, optimizer, start: float) -> None:
    history["train_loss"].append(losses.mean().item())
    history["train_metric"].append(metric.compute().item())
    history["valid_metric"].append(evaluate(model, valid_batches, metric) if valid_batches is not None else None)
    history["lr"].append(optimizer.param_groups[0]["lr"])
    history["seconds"].append(time.perf_counter() - start)

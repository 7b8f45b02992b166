"""The metric the chapters report: root mean squared error, accumulated on the device over batches.

It behaves like torchmetrics' ``MeanSquaredError(squared=False)`` (``update``, ``compute``, ``reset``,
``to``), which ``train()`` also accepts; importing torchmetrics takes seconds (it imports torchvision's
models and torch's compiler), while this module costs nothing, so a chapter starts faster.
"""
from __future__ import annotations

import torch


class RMSE:
    """Root mean squared error over every element of every batch since the last ``reset()``."""

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.reset()

    def to(self, device: str | torch.device) -> "RMSE":
        """Keep the running sums on ``device`` (where the predictions are); returns self, like a module."""
        self.device = torch.device(device)
        self.total, self.count = self.total.to(self.device), self.count.to(self.device)
        return self

    def reset(self) -> None:
        """Forget every batch seen so far."""
        # float64 sums: 55,000 images × 784 pixels of squared errors would lose digits in float32
        self.total = torch.zeros((), dtype=torch.float64, device=self.device)
        self.count = torch.zeros((), dtype=torch.float64, device=self.device)

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch; no host sync, so it can sit inside a training step."""
        if prediction.shape != target.shape:
            raise ValueError(f"RMSE needs predictions shaped like the targets: got {tuple(prediction.shape)} "
                             f"and {tuple(target.shape)}")
        if prediction.device != self.device:  # follow the model, as a metric never passed through train() must
            self.to(prediction.device)
        self.total += (prediction.detach() - target).square().sum(dtype=torch.float64)
        self.count += target.numel()

    def compute(self) -> torch.Tensor:
        """√(mean squared error) as a float32 tensor on the device."""
        return (self.total / self.count).sqrt().float()

    def __repr__(self) -> str:
        return "RMSE()"

"""A small Fashion-MNIST classifier: the "judge" that scores generated images.

Its penultimate features play the part Inception-v3 plays in the usual FID: a Fréchet distance
between the features of real and generated clothes (see ``dl101.quality``). It is small on purpose
(about 240k parameters), so that scoring 10,000 images takes seconds on a laptop's CPU.
"""
from __future__ import annotations

import torch
from torch import nn

from dl101.modes import eval_mode
from dl101.shapes import validate_images

N_CLASSES = 10
N_FEATURES = 128


def conv_block(n_in: int, n_out: int) -> nn.Sequential:
    """3×3 convolution, batch norm, ReLU, then 2×2 max pooling (halves the height and width)."""
    return nn.Sequential(nn.Conv2d(n_in, n_out, 3, padding=1, bias=False), nn.BatchNorm2d(n_out),
                         nn.ReLU(), nn.MaxPool2d(2))


class FashionClassifier(nn.Module):
    """CNN: (N, 1, 28, 28) images in [0, 1] -> (N, 10) logits; ``features`` gives (N, 128)."""

    def __init__(self, n_features: int = N_FEATURES, dropout: float = 0.3):
        super().__init__()
        self.n_features = n_features
        self.body = nn.Sequential(
            conv_block(1, 32),                           # (N, 32, 14, 14)
            conv_block(32, 64),                          # (N, 64, 7, 7)
            conv_block(64, 128),                         # (N, 128, 3, 3)
            nn.Flatten(),                                # (N, 1152)
            nn.Linear(128 * 3 * 3, n_features))          # (N, 128): the penultimate features
        # The features are read before the ReLU: after it, units that never fire on some images
        # give constant zeros, a singular covariance and less for the Fréchet distance to compare.
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(dropout), nn.Linear(n_features, N_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features, (N, n_features): what the Fréchet distance compares."""
        validate_images(x, 1, 28, model=self)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted classes of ``images`` (any device), on the CPU; the model's mode is kept."""
    validate_images(images, 1, 28)
    device = next(model.parameters()).device
    with eval_mode(model):
        return torch.cat([model(chunk.to(device)).argmax(1).cpu() for chunk in images.split(batch_size)])


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` whose predicted class is ``labels`` (the model's mode is kept)."""
    if len(images) != len(labels):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels: pass one label per image")
    return (predict(model, images) == labels.cpu()).float().mean().item()


def train_classifier(fashion, n_epochs: int = 5, device: str | torch.device = "cpu", batch_size: int = 128,
                     lr: float = 2e-3, verbose: bool = True):
    """Train a ``FashionClassifier`` on ``fashion`` (``dl101.data.fashion_mnist()``); return (model, history)."""
    from torchmetrics.classification import MulticlassAccuracy

    from dl101.data import Batches
    from dl101.training import train

    model = FashionClassifier().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    train_batches = Batches(fashion.train_x.to(device), fashion.train_y.to(device), batch_size=batch_size,
                            shuffle=True)
    valid_batches = Batches(fashion.valid_x.to(device), fashion.valid_y.to(device), batch_size=1000)
    # average="micro": the plain fraction of right answers (torchmetrics' default is per-class "macro")
    metric = MulticlassAccuracy(num_classes=N_CLASSES, average="micro")
    history = train(model, optimizer, nn.CrossEntropyLoss(), metric, train_batches, valid_batches, n_epochs,
                    verbose=verbose)
    return model, history

"""Train the course's judge, ``dl101.classifier.FashionClassifier``, as it ships (one GPU: about 10 s).

    DL101_SAVE_WEIGHTS=/tmp/weights python scripts/train_classifier.py
    python scripts/ship_weights.py /tmp/weights --device "an NVIDIA H200" --command "..."
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from dl101 import pretrained  # noqa: E402
from dl101.classifier import accuracy, train_classifier  # noqa: E402
from dl101.data import fashion_mnist  # noqa: E402
from dl101.runtime import pick_device  # noqa: E402


def main() -> int:
    """Train 10 epochs with seed 0, print the test accuracy, save for shipping."""
    device = pick_device()
    fashion = fashion_mnist(device=device)
    torch.manual_seed(0)
    start = time.perf_counter()
    model, history = train_classifier(fashion, n_epochs=10, device=device, verbose=False)
    seconds = time.perf_counter() - start
    print(f"test accuracy {accuracy(model, fashion.test_x, fashion.test_y):.4f} after {seconds:.1f} s")
    pretrained._save_for_shipping(model, "classifier", history, seconds, Path(os.environ[pretrained.SAVE_VARIABLE]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

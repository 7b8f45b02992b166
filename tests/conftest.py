"""Shared fixtures: real Fashion-MNIST (a small slice), offline hub, quiet plots."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Offline by default: the tests never reach the model hub, and fail fast if something tries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
if "DL101_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["DL101_DATA"] = str(SHARED_DATA)


@pytest.fixture(scope="session")
def fashion():
    """A real slice of Fashion-MNIST: 2,000 training, 500 validation and 500 test images."""
    from dl101.data import fashion_mnist

    return fashion_mnist(n_train=2000, n_valid=500, n_test=500)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")

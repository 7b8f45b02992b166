"""The setup every chapter opens with: device, seed, plot style and the smoke setting."""
from __future__ import annotations

import os
import random
import warnings

import torch

SMOKE_VARIABLE = "DL101_SMOKE"


def is_smoke() -> bool:
    """True when ``DL101_SMOKE`` asks for the quick setting used by CI."""
    return os.environ.get(SMOKE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def budget(full, smoke):
    """Return ``full``, or ``smoke`` when ``DL101_SMOKE=1``: the same code path with smaller numbers."""
    return smoke if is_smoke() else full


def pick_device(prefer: str | None = None) -> torch.device:
    """Pick the fastest device there is: CUDA, then Apple's MPS, then the CPU."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and torch (every device) so a run can be repeated."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _style_plots() -> None:
    import matplotlib.pyplot as plt

    plt.rc("font", size=12)
    plt.rc("axes", labelsize=12, titlesize=12)
    plt.rc("legend", fontsize=11)
    plt.rc("xtick", labelsize=10)
    plt.rc("ytick", labelsize=10)


def setup(seed: int = 42, device: str | None = None, quiet: bool = False) -> torch.device:
    """Prepare a chapter: choose the device (warn on CPU), seed everything, style the plots."""
    chosen = pick_device(device)
    seed_everything(seed)
    _style_plots()
    if not quiet:
        mode = "smoke (DL101_SMOKE=1: small data, few epochs)" if is_smoke() else "full"
        print(f"dl101 {_version()} | torch {torch.__version__} | device: {chosen} | settings: {mode}")
    if chosen.type == "cpu" and not is_smoke() and not quiet:
        warnings.warn(
            "No GPU found: training runs on the CPU and will be slow. On Colab choose "
            "Runtime > Change runtime type > GPU, or set DL101_SMOKE=1 for a quick run.",
            stacklevel=2,
        )
    return chosen


def _version() -> str:
    from dl101 import __version__

    return __version__


def show_source(obj) -> None:
    """Print the source code of a dl101 function or class, so a notebook can show what it uses."""
    import inspect

    print(inspect.getsource(obj))


def timed(fn):
    """Run ``fn()`` and return (its result, seconds), waiting for queued GPU work before and after."""
    import time

    def wait_for_gpu() -> None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    wait_for_gpu()
    start = time.perf_counter()
    result = fn()
    wait_for_gpu()
    return result, time.perf_counter() - start

import subprocess
import sys

import torch

import dl101


def test_budget_gives_the_full_value_unless_smoke_is_set(monkeypatch):
    monkeypatch.delenv("DL101_SMOKE", raising=False)
    assert dl101.budget(10, smoke=1) == 10
    monkeypatch.setenv("DL101_SMOKE", "1")
    assert dl101.budget(10, smoke=1) == 1
    monkeypatch.setenv("DL101_SMOKE", "0")
    assert dl101.budget(10, smoke=1) == 10


def test_setup_picks_the_cpu_here_and_seeds_torch(monkeypatch):
    monkeypatch.setenv("DL101_SMOKE", "1")
    device = dl101.setup(seed=3, quiet=True)
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    assert device.type == ("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
    assert dl101.pick_device("cpu").type == "cpu"
    a = torch.rand(3)
    dl101.setup(seed=3, quiet=True)
    assert torch.equal(a, torch.rand(3))


def test_importing_dl101_and_its_core_loads_no_heavy_optional_library():
    code = ("import sys, dl101, dl101.data, dl101.training, dl101.plotting, dl101.autoencoders, "
            "dl101.vae, dl101.gan, dl101.diffusion, dl101.widgets, dl101.checks, dl101.pca\n"
            "heavy = [m for m in ('diffusers', 'transformers', 'sklearn') if m in sys.modules]\n"
            "print(heavy); assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_timed_returns_the_result_and_the_seconds_it_took():
    import time

    from dl101.runtime import timed

    result, seconds = timed(lambda: (time.sleep(0.05), 42)[1])
    assert result == 42 and 0.05 <= seconds < 1.0

#!/usr/bin/env python3
"""The course's two commands, for a fresh machine with Python 3.10+ and pip:

    python3 run.py lab     # set up .venv and open the course in JupyterLab
    python3 run.py test    # set up .venv and run the whole test suite (smoke setting)

Extra arguments after `test` go to pytest, e.g. `python3 run.py test -k vae`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("DL101_VENV", ROOT / ".venv"))
EXTRAS = {"lab": "lab,diffusion", "test": "test,diffusion,browser,lab"}


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(*args, **kwargs) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, **kwargs)


def ensure_environment(extras: str) -> Path:
    """Create ``.venv`` if needed and install dl101 with ``extras`` into it (quick when up to date)."""
    if not _python().exists():
        try:
            venv.create(VENV, with_pip=True)
        except Exception as error:  # Debian/Ubuntu without python3-venv
            sys.exit(f"Could not create {VENV} ({error}).\nOn Debian/Ubuntu: sudo apt-get install "
                     "python3-venv, then run this command again.")
    _run(_python(), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-e", f"{ROOT}[{extras}]")
    return _python()


def lab() -> None:
    """Open the course in JupyterLab."""
    python = ensure_environment(EXTRAS["lab"])
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # containers, Colab-like VMs
    _run(python, "-m", "jupyter", "lab", *as_root, str(ROOT / "notebooks"))


def test(pytest_args: list[str]) -> int:
    """Run unit tests and every notebook (DL101_SMOKE=1) with two workers."""
    python = ensure_environment(EXTRAS["test"])
    env = dict(os.environ, DL101_SMOKE="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    args = pytest_args or ["tests", "notebooks", "--nbmake", "--nbmake-timeout=600", "-n", "2",
                           "--durations=15"]
    return subprocess.run([str(python), "-m", "pytest", *args], cwd=ROOT, env=env).returncode


def main() -> int:
    """Dispatch ``lab`` or ``test``."""
    if len(sys.argv) < 2 or sys.argv[1] not in ("lab", "test"):
        print(__doc__)
        return 2
    if sys.argv[1] == "lab":
        lab()
        return 0
    return test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())

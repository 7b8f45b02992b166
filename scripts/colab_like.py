#!/usr/bin/env python3
"""Run every chapter as Colab would: Colab's package versions, dl101 installed by the setup cell.

    python3 scripts/colab_like.py [--env DIR] [NN ...]

Builds (or reuses) a venv with the versions Colab ships (torch 2.11, torchvision 0.26, ipywidgets
7.7.1, no torchmetrics ...), then, for each notebook: uninstalls dl101 and torchmetrics, pretends to
be Colab (a stand-in ``google.colab`` module), points the setup cell's ``%pip install`` at this
checkout instead of the GitHub tag, and executes the whole notebook in the smoke setting. Not run in
CI: building the environment downloads torch (several GB) from PyPI.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Colab's preinstalled versions (mid-2026, see the README's "Where learners run it"); torchmetrics is
# deliberately absent: the setup cell must bring it in.
COLAB_PACKAGES = [
    "torch==2.11.*", "torchvision==0.26.*", "ipywidgets==7.7.1", "numpy==2.0.*", "matplotlib==3.10.*",
    "scikit-learn==1.6.*", "tqdm==4.67.*", "transformers==5.9.*", "diffusers==0.37.*", "accelerate==1.13.*",
    "safetensors", "pillow",
]
RUNNER_PACKAGES = ["ipykernel", "nbclient", "nbformat"]  # to execute notebooks, as Colab's kernel does
VERSIONS = ["torch", "torchvision", "ipywidgets", "numpy", "matplotlib", "sklearn", "tqdm", "transformers",
            "diffusers", "accelerate", "ipykernel"]

FAKE_COLAB = ("# colab_like.py: pretend to be Colab, and start without dl101 or torchmetrics, as Colab does.\n"
              "import importlib.machinery, importlib.util, sys, types\n"
              "colab = types.ModuleType('google.colab')\n"
              "colab.__spec__ = importlib.machinery.ModuleSpec('google.colab', None)  # libraries look it up\n"
              "sys.modules['google.colab'] = colab\n"
              "assert importlib.util.find_spec('torchmetrics') is None, 'torchmetrics is preinstalled'\n"
              "assert importlib.util.find_spec('dl101') is None, 'dl101 is preinstalled'")
AFTER_SETUP = ("# colab_like.py: the setup cell installed dl101 and what Colab lacks.\n"
               "import importlib.metadata as md, ipywidgets, torchmetrics\n"
               "assert 'site-packages' in dl101.__file__, dl101.__file__\n"
               "assert ipywidgets.__version__ == '7.7.1', ipywidgets.__version__\n"
               "print('COLAB_LIKE', dl101.__version__, 'torchmetrics', torchmetrics.__version__)")


def build_env(env: Path) -> Path:
    """Create the venv with Colab's versions, or reuse it when it was built from the same list."""
    python = env / "bin" / "python"
    stamp = env / "colab_like.json"
    wanted = COLAB_PACKAGES + RUNNER_PACKAGES
    if python.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        print(f"reusing {env}", flush=True)
        return python
    venv.create(env, with_pip=True, clear=True)
    started = time.perf_counter()
    subprocess.run([python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
                    *wanted], check=True)
    print(f"built {env} in {time.perf_counter() - started:.0f} s", flush=True)
    stamp.write_text(json.dumps(wanted))
    return python


def colab_notebook(path: Path):
    """The notebook as Colab would run it, with the setup cell installing from this checkout."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    setup.source, n = re.subn(r'"dl101 @ [^"]+"', f'"dl101 @ {ROOT.as_uri()}"', setup.source)
    if n != 1 or "google.colab" not in setup.source:
        raise SystemExit(f"{path.name}: the setup cell has no Colab-only `%pip install \"dl101 @ ...\"` line")
    at = nb.cells.index(setup)
    nb.cells[at + 1:at + 1] = [nbformat.v4.new_code_cell(AFTER_SETUP)]
    nb.cells.insert(at, nbformat.v4.new_code_cell(FAKE_COLAB))
    return nb


def run_notebook(path: Path) -> tuple[bool, float, float, str]:
    """Execute one chapter; return (passed, seconds of the setup cell, seconds in all, a note)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "dl101", "torchmetrics"],
                   check=True, capture_output=True)
    nb = colab_notebook(path)
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    try:
        client.execute()
        passed, note = True, ""
    except CellExecutionError as error:
        passed, note = False, str(error).strip().splitlines()[-1][:160]
    total = time.perf_counter() - started
    setup = next(c for c in nb.cells if "dl101 @ file://" in c.source)
    after = next(c for c in nb.cells if c.source == AFTER_SETUP)
    return passed, _cell_seconds(setup), total, note or _installed(after)


def _cell_seconds(cell) -> float:
    from datetime import datetime

    timing = cell.get("metadata", {}).get("execution", {})
    try:
        start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                      for k in ("iopub.status.busy", "shell.execute_reply"))
    except KeyError:
        return float("nan")
    return (end - start).total_seconds()


def _installed(cell) -> str:
    text = "".join(o.get("text", "") for o in cell.get("outputs", []))
    return text.strip().replace("COLAB_LIKE ", "installed dl101 ")


def inside(stems: list[str]) -> int:
    """Run in the Colab-like venv: print versions, execute the notebooks, print a summary."""
    import importlib

    print(f"python {sys.version.split()[0]}", *(f"{m} {importlib.import_module(m).__version__}" for m in VERSIONS),
          sep=" | ", flush=True)
    os.environ.update(DL101_SMOKE="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
                      DL101_CACHE=str(Path(sys.prefix) / "dl101-cache"))
    os.environ.pop("PYTHONPATH", None)  # dl101 must come from what the setup cell installed
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, as on Colab
    chapters = [p for p in sorted((ROOT / "solutions").glob("*.ipynb")) if not stems or p.stem[:2] in stems]
    projects = [p for p in sorted((ROOT / "solutions" / "projects").glob("*.ipynb")) if "P" in stems]
    paths = chapters if not stems else chapters + projects
    results = []
    for path in paths:
        passed, setup_s, total_s, note = run_notebook(path)
        results.append(passed)
        print(f"{'PASS' if passed else 'FAIL'}  {path.stem:32s} setup cell {setup_s:5.1f} s  "
              f"notebook {total_s:6.1f} s  {note}", flush=True)
    print(f"{sum(results)}/{len(results)} notebooks passed", flush=True)
    return 0 if all(results) else 1


def main() -> int:
    """Build the environment, then run the notebooks inside it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", type=Path, default=Path.home() / ".cache" / "dl101" / "colab-env")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("chapters", nargs="*", help="two-digit chapter numbers, P for the capstone project "
                                                    "(default: the ten chapters)")
    args = parser.parse_args()
    if args.inside:
        return inside(args.chapters)
    if "DL101_DATA" not in os.environ and (ROOT.parent / "shared" / "data").is_dir():
        os.environ["DL101_DATA"] = str(ROOT.parent / "shared" / "data")
    python = build_env(args.env.resolve())
    return subprocess.run([python, __file__, "--inside", *args.chapters]).returncode


if __name__ == "__main__":
    sys.exit(main())

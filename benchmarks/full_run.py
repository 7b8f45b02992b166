"""Execute chapters at full settings, as a learner's Jupyter would, and keep what they printed.

    python benchmarks/full_run.py OUT_DIR [NN ...] [--jobs J]

Each notebook runs top to bottom in its own kernel through nbclient (the smoke setting off,
``TQDM_DISABLE=1`` so logs hold no progress bars). Written to OUT_DIR: the executed notebook
``NN_name.ipynb`` (render it with ``python -m dl101.site``), ``NN.log`` with every printed line, and
``summary.txt`` with each chapter's wall time, ``cells.txt`` with each chapter's slowest cells.
``--jobs`` runs that many notebooks at once (one GPU can serve several small chapters; the timings are
then not each chapter's alone). ``--mps`` runs them under a private CUDA Multi-Process Service daemon,
so that the small kernels of different chapters share the GPU's SMs instead of taking turns; it changes
no setting of the card and stops the daemon at the end.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dl101 import course

ROOT = Path(__file__).resolve().parents[1]


def printed_text(notebook) -> str:
    """Every stream and plain-text result of an executed notebook, cell by cell."""
    lines = []
    for i, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            if output.get("output_type") == "error":
                text = f"{output['ename']}: {output['evalue']}"
            if text:
                lines.append(f"[cell {i}] {text.rstrip()}")
    return "\n".join(lines) + "\n"


def cell_seconds(notebook) -> list[tuple[float, int, str]]:
    """(seconds, index, first source line) of every executed code cell, slowest first (nbclient's timing)."""
    rows = []
    for i, cell in enumerate(notebook.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.cell_type == "code" and start and end:
            seconds = (datetime.datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            rows.append((seconds, i, first[:70]))
    return sorted(rows, reverse=True)


MPS_VARIABLES = ("CUDA_MPS_PIPE_DIRECTORY", "CUDA_MPS_LOG_DIRECTORY")
GPU_PROBE = "import torch; torch.ones(8, device='cuda').sum().item()"


def gpu_answers(env: dict) -> bool:
    """True when a fresh process given ``env`` can run a CUDA kernel within a minute."""
    try:
        return subprocess.run([sys.executable, "-c", GPU_PROBE], env=env, timeout=60,
                              capture_output=True).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@contextlib.contextmanager
def mps_daemon(enabled: bool):
    """A private MPS control daemon (its own pipe and log folders) for the kernels started inside;
    yields whether they run under it (a missing or unusable daemon falls back to plain sharing)."""
    binary = shutil.which("nvidia-cuda-mps-control")
    if not enabled or binary is None:
        if enabled:
            print("--mps: nvidia-cuda-mps-control not found; running without MPS", flush=True)
        yield False
        return
    folder = Path(tempfile.mkdtemp(prefix="dl101-mps-"))
    env = dict(os.environ, **{key: str(folder / key.split("_")[-2].lower()) for key in MPS_VARIABLES})
    for key in MPS_VARIABLES:
        Path(env[key]).mkdir()
    started = subprocess.run([binary, "-d"], env=env).returncode == 0
    saved = {key: os.environ.get(key) for key in MPS_VARIABLES}
    try:
        if started and gpu_answers(env):
            os.environ.update({key: env[key] for key in MPS_VARIABLES})  # kernels inherit these
            yield True
        else:
            print(f"--mps: the MPS daemon did not serve a CUDA kernel (its log: {folder / 'log'}); "
                  "running without MPS", flush=True)
            yield False
    finally:
        if started:
            subprocess.run([binary], input="quit\n", text=True, env=env, check=False)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def run_one(number: str, path: Path, out: Path, timeout: int, jobs: int = 1) -> tuple[str, float, str]:
    """Execute one notebook; returns (name, seconds, "ok" or the error)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    start, status = time.perf_counter(), "ok"
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except Exception as error:  # keep the partial notebook: it shows where it stopped
        status = f"{type(error).__name__}: {str(error).strip().splitlines()[-1][:200]}"
    seconds = time.perf_counter() - start
    setting = "full settings" + (f", {jobs} chapters at a time on one device" if jobs > 1 else "")
    notebook.metadata["dl101"] = {"setting": setting, "executed": datetime.date.today().isoformat()}  # dl101.site
    nbformat.write(notebook, out / path.name)
    (out / f"{number}.log").write_text(printed_text(notebook), encoding="utf-8")
    slowest = "\n".join(f"  {t:7.1f} s  cell {i:3d}  {first}" for t, i, first in cell_seconds(notebook)[:12])
    with open(out / "cells.txt", "a", encoding="utf-8") as cells:
        cells.write(f"{path.stem}: {seconds:.1f} s\n{slowest}\n")
    return path.stem, seconds, status


def main() -> int:
    """Run the chapters asked for (all by default) and write the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("chapters", nargs="*",
                        help="two-digit chapter numbers, or P for the capstone project, run in this order (longest first "
                             "suits --jobs); all ten chapters when none")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--mps", action="store_true", help="share the GPU through a private MPS daemon")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    numbers = args.chapters or [c.number for c in course.CHAPTERS]  # in the given order
    paths = course.by_number()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    os.environ.update(DL101_SMOKE="0", TQDM_DISABLE="1", PYTHONPATH=path)  # kernels inherit these
    os.environ.pop("MPLBACKEND", None)  # kernels must draw inline figures, which Agg would silence
    (args.out / "cells.txt").unlink(missing_ok=True)
    start = time.perf_counter()
    with mps_daemon(args.mps) as mps, ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda n: run_one(n, paths[n], args.out, args.timeout, args.jobs), numbers))
    lines = [f"{name}: {seconds:.1f} s {status}" for name, seconds, status in results]
    lines.append(f"all {len(results)} chapter(s): {time.perf_counter() - start:.1f} s with --jobs {args.jobs}"
                 + (" under MPS" if mps else ""))
    (args.out / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines), flush=True)
    return 0 if all(status == "ok" for _, _, status in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

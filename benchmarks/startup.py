"""How long a chapter takes to be ready: its setup and data cells (imports, device, seed, Fashion-MNIST
on the device), timed by nbclient in a fresh kernel, twice: the first run may fill the data cache, the
second is what a learner sees every later time.

    python benchmarks/startup.py [NN ...]        # default: every chapter
"""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def ready_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook up to and including its first cell that loads Fashion-MNIST."""
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type == "code" and "fashion_mnist(" in cell.source:
            break
    return nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)


def seconds_in_cells(nb: nbformat.NotebookNode, folder: Path) -> float:
    """Execute ``nb`` in a fresh kernel; the sum of its code cells' execution times (kernel start excluded)."""
    NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    total = 0.0
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if "shell.execute_reply" in timing:
            start = datetime.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            total += (end - start).total_seconds()
    return total


def main(argv: list[str]) -> int:
    """Print each chapter's time to ready, first and second run."""
    paths = [p for p in sorted((ROOT / "solutions").glob("*.ipynb")) if not argv or p.stem[:2] in argv]
    print("| chapter | first run | later run |\n|---|---|---|")
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        times = [seconds_in_cells(ready_cells(nb), path.parent) for _ in range(2)]
        print(f"| {path.stem} | {times[0]:.2f} s | {times[1]:.2f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

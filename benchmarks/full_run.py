"""Run chapters at full settings outside Jupyter (for GPU machines without a notebook server).

    python benchmarks/full_run.py OUT_DIR 10 09 07 ...

Each chapter's code cells run in order in a fresh subprocess, exactly as written (the smoke setting
off). IPython magics become no-ops; widget cells are skipped (their static figures still run). Every
figure goes into OUT_DIR/NN.pdf and everything printed into OUT_DIR/NN.log, with per-cell timings.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDGET_ONLY = re.compile(r"^\s*(\w+\.widget\(\)|unit_picker\(.*\))\s*$", re.M)


def cells(stem: str) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return [re.sub(r"^(\s*)[%!].*$", r"\1pass", src, flags=re.M) for src in sources]


def child(stem: str, out: Path) -> None:
    """Run one chapter's cells in this process, saving figures to a PDF."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    os.chdir(ROOT / "notebooks")
    pdf = PdfPages(out / f"{stem[:2]}.pdf")

    def show(*_, **__):
        for number in plt.get_fignums():
            pdf.savefig(plt.figure(number), bbox_inches="tight")
        plt.close("all")

    plt.show = show
    namespace = {"__name__": "__main__"}
    start = time.perf_counter()
    for i, src in enumerate(cells(stem)):
        if WIDGET_ONLY.search(src):
            print(f"[cell {i}] widget cell skipped", flush=True)
            continue
        t = time.perf_counter()
        exec(compile(src, f"{stem}[{i}]", "exec"), namespace)
        show()
        if time.perf_counter() - t > 1:
            print(f"[cell {i}] {time.perf_counter() - t:.1f} s", flush=True)
    pdf.close()
    print(f"[{stem}] total {time.perf_counter() - start:.1f} s", flush=True)


def main() -> int:
    out, numbers = Path(sys.argv[1]), sys.argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    stems = {p.stem[:2]: p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    status = 0
    for number in numbers:
        with open(out / f"{number}.log", "w") as log:
            path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
            env = dict(os.environ, DL101_SMOKE="0", PYTHONPATH=path, TQDM_DISABLE="1")
            code = subprocess.run([sys.executable, __file__, "--child", stems[number], str(out)],
                                  stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        print(f"chapter {number}: exit {code}", flush=True)
        status |= code
    return status


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())

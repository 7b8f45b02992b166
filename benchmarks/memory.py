"""Peak memory of each chapter in the Binder setting: CPU only, DL101_SMOKE=1, as the README advises.

    python benchmarks/memory.py                  # every chapter, then a Markdown table for the README
    python benchmarks/memory.py 07 10            # some chapters
    python benchmarks/memory.py --full 60 02 10  # full settings, up to the first cell over 60 s
    python benchmarks/memory.py --sd             # what sd-turbo's weights alone need (no download)

Each notebook runs in a fresh kernel started by a fresh subprocess; once the kernel has exited, that
subprocess reads its peak resident memory from getrusage(RUSAGE_CHILDREN): the kernel's true peak,
not a sample. mybinder.org restarts a kernel above 2 GB. `--full N` runs at full settings but
stops at the first cell that takes over N seconds (usually the first training loop): by then the full
data is loaded and the model built, so its peak is a lower bound on the full run's (later cells may
add more).
"""
from __future__ import annotations

import datetime
import os
import platform
import resource
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER_LIMIT_MB = 2048


def child(stem: str, timeout: int | None) -> None:
    """Run one notebook in a kernel and print the kernel's peak RSS in MB (stopping after ``timeout`` s)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    nb = nbformat.read(ROOT / "solutions" / f"{stem}.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=timeout or 1800, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "solutions")}})
    start, status = time.perf_counter(), "ran"
    try:
        client.execute()
    except CellTimeoutError:  # --full: stopped on purpose
        code = [c for c in nb.cells if c.cell_type == "code"]
        stopped = next((i for i, c in enumerate(code) if c.get("execution_count") is None), len(code)) - 1
        status = f"stopped in code cell {stopped}: {code[stopped].source.splitlines()[0][:50]}"
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB on Linux
    print(f"RESULT {peak_mb:.0f} {seconds:.0f} {status}")


def measure(stem: str, full_seconds: int | None) -> tuple[float, float, str]:
    """Peak RSS (MB), seconds and status of one chapter run in a subprocess."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONPATH=path, TQDM_DISABLE="1",
               DL101_SMOKE="0" if full_seconds else "1")
    run = subprocess.run([sys.executable, __file__, "--child", stem, str(full_seconds or 0)],
                         env=env, capture_output=True, text=True)
    result = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    if run.returncode or not result:
        return float("nan"), float("nan"), f"failed: {run.stderr.strip().splitlines()[-1:]}"
    peak, seconds, status = result[-1].split(" ", 3)[1:]
    return float(peak), float(seconds), status


def sd_turbo_weights() -> str:
    """Parameter count and weight size of sd-turbo's parts, built on the meta device (no download)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device("meta"):  # sd-turbo's published configuration (Stable Diffusion 2.1's)
        parts = {
            "unet": UNet2DConditionModel(
                block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=1024,
                attention_head_dim=(5, 10, 20, 20), use_linear_projection=True,
                down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3),
            "vae": AutoencoderKL(block_out_channels=(128, 256, 512, 512), latent_channels=4,
                                 layers_per_block=2, down_block_types=("DownEncoderBlock2D",) * 4,
                                 up_block_types=("UpDecoderBlock2D",) * 4),
            "text encoder": CLIPTextModel(CLIPTextConfig(
                hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
                projection_dim=1024, hidden_act="gelu")),
        }
    counts = {name: sum(p.numel() for p in part.parameters()) for name, part in parts.items()}
    total = sum(counts.values())
    lines = [f"{name}: {n / 1e6:.0f} M parameters" for name, n in counts.items()]
    lines.append(f"sd-turbo weights alone: {total * 4 / 2**20:.0f} MB in float32 (CPU), "
                 f"{total * 2 / 2**20:.0f} MB in float16")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Measure the chapters named in ``argv`` (all by default) and print the README table."""
    if argv[:1] == ["--sd"]:
        print(sd_turbo_weights())
        return 0
    full_seconds = int(argv[1]) if argv[:1] == ["--full"] else None
    numbers = argv[2:] if full_seconds else argv
    stems = sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))
    stems = [s for s in stems if not numbers or s[:2] in numbers]
    setting = f"CPU, full settings, cells up to {full_seconds} s" if full_seconds else "CPU, DL101_SMOKE=1"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, torch {version('torch')} on the CPU"
    date = datetime.date.today().isoformat()
    rows, over = [], []
    for stem in stems:
        peak, seconds, status = measure(stem, full_seconds)
        print(f"{stem}: {peak:.0f} MB, {seconds:.0f} s, {status}", file=sys.stderr, flush=True)
        rows.append(f"| {stem[:2]} | {peak:,.0f} | {seconds:.0f} | {setting} | {date} | {machine} |")
        if not peak <= BINDER_LIMIT_MB:  # NaN (a failed run) counts as over
            over.append(stem)
    print("| Chapter | Peak MB | Seconds | Setting | Date | Machine |\n|---|---|---|---|---|---|")
    print("\n".join(rows))
    if over:
        print(f"\nOver Binder's {BINDER_LIMIT_MB} MB or failed: {', '.join(over)}")
    return 1 if over else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]) or None)
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))

"""Put the weights of a full run into dl101/weights/ with their manifest (sha256, command, times).

    # 1. on a GPU, every chapter at full settings, each trained model saved as it finishes:
    DL101_SAVE_WEIGHTS=/tmp/full python benchmarks/full_run.py /tmp/run --jobs 5
    # 2. on the 2-core CPU, the smoke setting, to time a training batch there:
    DL101_SMOKE=1 DL101_SAVE_WEIGHTS=/tmp/smoke python benchmarks/full_run.py /tmp/srun
    # 3. here:
    python scripts/ship_weights.py /tmp/full /tmp/smoke --device "an H200" --command "..."

A 2-core CPU's full training time is estimated from its smoke run: seconds per batch there times the
full run's batches. Weights are stored in float16 (half the size; reconstruction RMSE changes by < 1e-4).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Seconds per epoch of each model family alone on one H200, measured by benchmarks/graph_probe.py (later
# epochs, benchmarks/README.md). The full run trains ten chapters at once on one GPU, so its own times are
# 5-10x these; a learner's GPU runs one chapter.
SOLO_EPOCH_SECONDS = {"02": 0.6, "03": 1.0, "04": 1.5, "05": 0.6, "06": 0.6, "07": 0.6, "08": 0.8,
                      "09-gan": 1.1, "09-dcgan": 1.7, "10": 4.6}
WEIGHTS = ROOT / "dl101" / "weights"


def cpu_estimate(full: dict, smoke: dict) -> float:
    """Full-run training seconds on the CPU that ran ``smoke``: its time per batch × the full run's batches."""
    per_batch = smoke["seconds"] / max(smoke["epochs"] * smoke["batches_per_epoch"], 1)
    return per_batch * full["epochs"] * full["batches_per_epoch"]


def seconds_alone(name: str, full: dict) -> float:
    """Training time of ``name`` alone on the GPU: epochs x its family's solo epoch time (or the run's own)."""
    prefix = max((p for p in SOLO_EPOCH_SECONDS if name.startswith(p)), key=len, default=None)
    return full["seconds"] if prefix is None else full["epochs"] * SOLO_EPOCH_SECONDS[prefix]


def main(argv: list[str] | None = None) -> int:
    """Copy the full run's files into dl101/weights/ and write manifest.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("full", type=Path, help="DL101_SAVE_WEIGHTS folder of the full (GPU) run")
    parser.add_argument("smoke", type=Path, nargs="?", help="DL101_SAVE_WEIGHTS folder of the CPU smoke run")
    parser.add_argument("--device", required=True, help='the GPU of the full run, e.g. "an H200"')
    parser.add_argument("--command", required=True, help="the command of the full run, recorded as is")
    args = parser.parse_args(argv)
    WEIGHTS.mkdir(exist_ok=True)
    old = json.loads((WEIGHTS / "manifest.json").read_text()) if (WEIGHTS / "manifest.json").is_file() else {}
    models, results = old.get("models", {}), old.get("results", {})  # earlier batches stay unless replaced
    for record in sorted(r for r in args.full.glob("*.json") if not r.name.endswith(".result.json")):
        name, full = record.stem, json.loads(record.read_text())
        if full["smoke"]:
            raise SystemExit(f"{record} comes from a smoke run: ship full-setting weights only")
        smoke_record = args.smoke / record.name if args.smoke else None
        smoke = json.loads(smoke_record.read_text()) if smoke_record and smoke_record.is_file() else None
        if smoke is None and name in models:
            smoke = None if models[name]["cpu_seconds"] is None else {"keep": models[name]["cpu_seconds"]}
        shutil.copy(args.full / f"{name}.safetensors", WEIGHTS / f"{name}.safetensors")
        data = (WEIGHTS / f"{name}.safetensors").read_bytes()
        models[name] = {"file": f"{name}.safetensors", "sha256": hashlib.sha256(data).hexdigest(),
                        "device": args.device, "seconds": round(full["seconds"], 1),
                        "seconds_alone": round(seconds_alone(name, full), 1),
                        "command": args.command,
                        "attributes": full.get("attributes") or models.get(name, {}).get("attributes", {}),
                        "cpu_seconds": (smoke["keep"] if smoke and "keep" in smoke else
                                        round(cpu_estimate(full, smoke), 0) if smoke else None),
                        "batches_per_epoch": full["batches_per_epoch"], "history": full["history"]}
        print(f"{name}: {len(data) / 1e6:.2f} MB, {full['seconds']:.1f} s on {args.device}, "
              f"CPU estimate {models[name]['cpu_seconds']} s")
    results.update({r.name[:-len(".result.json")]: {"device": args.device, "command": args.command,
                                                     "result": json.loads(r.read_text())}
                    for r in sorted(args.full.glob("*.result.json"))})
    manifest = {"date": datetime.date.today().isoformat(), "models": dict(sorted(models.items())),
                "results": dict(sorted(results.items()))}
    (WEIGHTS / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    total = sum((WEIGHTS / m["file"]).stat().st_size for m in models.values())
    print(f"{len(models)} models, {total / 1e6:.1f} MB in {WEIGHTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

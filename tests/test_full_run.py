"""benchmarks/full_run.py: per-cell timing and the private MPS daemon it can share the GPU through."""
import os
import stat
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import full_run  # noqa: E402

MPS_VARIABLES = full_run.MPS_VARIABLES


def _timed_cell(source: str, start: str, end: str):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["execution"] = {"iopub.execute_input": start, "shell.execute_reply": end}
    return cell


def test_cell_seconds_reads_nbclient_timing_slowest_first():
    notebook = nbformat.v4.new_notebook(cells=[
        _timed_cell("\nfast()", "2026-11-29T10:00:00.000000Z", "2026-11-29T10:00:00.250000Z"),
        nbformat.v4.new_markdown_cell("# not code"),
        _timed_cell("train()  # long", "2026-11-29T10:00:01Z", "2026-11-29T10:01:13.500000Z"),
        nbformat.v4.new_code_cell("never_run()"),  # no timing: left out
    ])
    assert full_run.cell_seconds(notebook) == [(72.5, 2, "train()  # long"), (0.25, 0, "fast()")]


def test_mps_off_or_missing_changes_nothing(monkeypatch, capsys):
    for key in MPS_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    with full_run.mps_daemon(False) as on:
        assert on is False and not any(key in os.environ for key in MPS_VARIABLES)
    monkeypatch.setattr(full_run.shutil, "which", lambda name: None)
    with full_run.mps_daemon(True) as on:
        assert on is False and not any(key in os.environ for key in MPS_VARIABLES)
    assert "running without MPS" in capsys.readouterr().out


def _fake_daemon(tmp_path, monkeypatch) -> Path:
    """A stand-in nvidia-cuda-mps-control that records its arguments, pipe folder and input."""
    for key in MPS_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "nvidia-cuda-mps-control"
    fake.write_text(f'#!/bin/sh\necho "args=$* pipe=$CUDA_MPS_PIPE_DIRECTORY stdin=$(cat)" >> {calls}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(full_run.shutil, "which", lambda name: str(fake))
    return calls


def test_mps_daemon_is_private_and_stopped_even_on_error(tmp_path, monkeypatch):
    """The daemon starts with its own folders, kernels inherit them, and "quit" reaches it at the end."""
    calls = _fake_daemon(tmp_path, monkeypatch)
    probed = []
    monkeypatch.setattr(full_run, "gpu_answers", lambda env: probed.append(env["CUDA_MPS_PIPE_DIRECTORY"]) or True)
    with pytest.raises(RuntimeError, match="a chapter failed"):
        with full_run.mps_daemon(True) as on:
            assert on is True
            pipe = os.environ["CUDA_MPS_PIPE_DIRECTORY"]
            assert Path(pipe).is_dir() and Path(os.environ["CUDA_MPS_LOG_DIRECTORY"]).is_dir()
            raise RuntimeError("a chapter failed")
    assert probed == [pipe] and not any(key in os.environ for key in MPS_VARIABLES)
    start, stop = calls.read_text().splitlines()
    assert start.startswith("args=-d ") and f"pipe={pipe}" in start
    assert stop.startswith("args= ") and f"pipe={pipe}" in stop and stop.endswith("stdin=quit")


def test_a_daemon_that_serves_no_kernel_is_stopped_and_not_used(tmp_path, monkeypatch, capsys):
    """Where MPS cannot run a kernel (here: no GPU at all), the chapters run without it."""
    calls = _fake_daemon(tmp_path, monkeypatch)
    with full_run.mps_daemon(True) as on:  # the real probe: this CPU machine has no CUDA kernel to run
        assert on is False and not any(key in os.environ for key in MPS_VARIABLES)
    assert "did not serve a CUDA kernel" in capsys.readouterr().out
    assert calls.read_text().splitlines()[-1].endswith("stdin=quit")


def test_run_one_writes_the_notebook_log_and_slowest_cells(tmp_path):
    """A real kernel executes a small notebook; its printed lines and per-cell times are kept."""
    source = tmp_path / "99_tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import time\ntime.sleep(0.3)"),
        nbformat.v4.new_code_cell("print('hello from the kernel')"),
    ]), source)
    out = tmp_path / "out"
    out.mkdir()
    name, seconds, status = full_run.run_one("99", source, out, timeout=60)
    assert (name, status) == ("99_tiny", "ok") and seconds > 0.3
    assert "[cell 1] hello from the kernel" in (out / "99.log").read_text()
    cells = (out / "cells.txt").read_text().splitlines()
    assert cells[0].startswith("99_tiny: ") and "cell   0  import time" in cells[1]
    assert float(cells[1].split()[0]) >= 0.3

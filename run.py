#!/usr/bin/env python3
"""The course's two commands, for a fresh machine with Python 3.10+ and pip:

    python3 run.py lab     # set up .venv and open the course in JupyterLab
    python3 run.py test    # set up .venv and run the whole test suite (smoke setting)

Add --cpu (or set DL101_TORCH=cpu) for PyTorch's smaller CPU-only build, e.g. `python3 run.py lab --cpu`.
Extra arguments after `test` go to pytest, e.g. `python3 run.py test -k vae`.

The first run installs everything into .venv (several minutes); later runs skip pip entirely, so they
start in seconds and work offline, until pyproject.toml, the extras or the Python version change.
"""
from __future__ import annotations

import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import venv
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("DL101_VENV", ROOT / ".venv"))
EXTRAS = {"lab": "lab,diffusion", "test": "test,diffusion,browser,lab"}
STAMP_NAME = "dl101-install.stamp"  # inside the venv: deleting .venv deletes it too
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CUDA_VENV_GB = 6.5  # .venv after the first install with PyTorch's CUDA build, measured on Linux


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def wants_cpu_torch(args: list[str]) -> bool:
    """True when the learner asked for PyTorch's CPU-only build (``--cpu`` or ``DL101_TORCH=cpu``)."""
    return "--cpu" in args or os.environ.get("DL101_TORCH", "").lower() == "cpu"


def install_stamp(cpu: bool) -> str:
    """What an install depends on besides the extras: pyproject.toml, the Python version and the torch build."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    torch_build = "cpu" if cpu else "default"
    return f"pyproject-sha256={digest} python={platform.python_version()} torch={torch_build}"


def _stamp_path() -> Path:
    return VENV / STAMP_NAME


def installed_extras(cpu: bool) -> set[str] | None:
    """The extras .venv holds, if it was installed to the end from what ``install_stamp`` describes; else None."""
    try:
        base, extras = _stamp_path().read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):  # no stamp, or one from an older run.py
        return None
    if not _python().exists() or base != install_stamp(cpu) or not extras.startswith("extras="):
        return None
    return set(extras.removeprefix("extras=").split(","))


def is_up_to_date(extras: str, cpu: bool) -> bool:
    """True when .venv already holds dl101 with ``extras`` (e.g. `lab` after `test`, whose extras include lab's)."""
    installed = installed_extras(cpu)
    return installed is not None and set(extras.split(",")) <= installed


def pip_command(extras: str, cpu: bool) -> list[str]:
    """The pip command that installs dl101 (editable) with ``extras`` into .venv."""
    command = [str(_python()), "-m", "pip", "install", "--disable-pip-version-check", "-e", f"{ROOT}[{extras}]"]
    # macOS has only one PyTorch build on PyPI (CPU + Apple's GPU): nothing to switch there.
    if cpu and sys.platform != "darwin":
        command += ["--extra-index-url", CPU_INDEX]  # its "+cpu" wheels outrank PyPI's CUDA ones
    return command


def _announce_first_install(cpu: bool) -> None:
    """Say what the first install costs before it starts (.venv size measured on Linux; downloads estimated)."""
    if cpu and sys.platform != "darwin":
        print("First install, CPU-only PyTorch: downloads about 0.5 GB (PyTorch itself is about 0.2 GB) and "
              "takes a few minutes.", flush=True)
    elif sys.platform == "darwin":
        print("First install: downloads about 0.5 GB and takes a few minutes (PyTorch on macOS is one "
              "build for the CPU and Apple's GPU, so --cpu changes nothing here).", flush=True)
    else:
        print("First install: downloads about 3 GB (PyTorch with its CUDA libraries; .venv ends up about "
              "6.5 GB) and takes several minutes.\nNo NVIDIA GPU? Stop with Ctrl-C and run the same command with "
              "--cpu (e.g. `python3 run.py lab --cpu`): about 0.5 GB to download.", flush=True)


def check_disk_space(cpu: bool) -> None:
    """Stop before a first CUDA install that cannot fit, rather than let pip fail half-way through."""
    if cpu or sys.platform == "darwin":
        return  # only the CUDA build's size was measured
    folder = VENV
    while not folder.exists():  # DL101_VENV may name a folder that does not exist yet
        folder = folder.parent
    free_gb = shutil.disk_usage(folder).free / 1e9
    if free_gb < CUDA_VENV_GB:
        sys.exit(f"The first install needs about {CUDA_VENV_GB} GB for {VENV} (PyTorch with its CUDA "
                 f"libraries), but only {free_gb:.1f} GB are free there.\nFree some space and run the same "
                 "command again, or add --cpu for PyTorch's much smaller CPU-only build.")


def _create_venv() -> None:
    try:
        venv.create(VENV, with_pip=True)
    except Exception as error:  # Debian/Ubuntu without python3-venv
        sys.exit(f"Could not create {VENV} ({error}).\nOn Debian/Ubuntu: sudo apt-get install "
                 "python3-venv, then run this command again.")


def ensure_environment(extras: str, cpu: bool = False) -> Path:
    """Create .venv and install dl101 with ``extras`` into it, unless the stamp says that is already done."""
    if is_up_to_date(extras, cpu):
        return _python()  # no pip at all: starts in seconds and works without a network
    # Keep what is there (when still valid), so that alternating `lab` and `test` installs only once.
    wanted = sorted(set(extras.split(",")) | (installed_extras(cpu) or set()))
    if not _python().exists():
        check_disk_space(cpu)
        _announce_first_install(cpu)
        _create_venv()
    else:
        print(f"pyproject.toml, the extras, --cpu or the Python version changed since {VENV} was set up: "
              "updating it.", flush=True)
    _stamp_path().unlink(missing_ok=True)  # an interrupted update must not look finished
    command = pip_command(",".join(wanted), cpu)
    print("+", " ".join(command), flush=True)
    if run_child(command) != 0:
        sys.exit("The install failed (see pip's message above). Fix the cause and run the same command "
                 "again: it picks up where it stopped.")
    _stamp_path().write_text(f"{install_stamp(cpu)}\nextras={','.join(wanted)}\n", encoding="utf-8")
    return _python()


@contextmanager
def deferred_ctrl_c():
    """Hold a Ctrl-C that arrives inside the block and raise it on leaving, so that a child being started
    is never left running without us (a server in its own session would outlive us, holding our pipes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


def run_child(command: list[str], own_session: bool = False, **kwargs) -> int:
    """Run ``command`` and return its exit code; on Ctrl-C stop it cleanly and raise KeyboardInterrupt.

    pip and pytest share our terminal, so Ctrl-C reaches them too and they wind down by themselves
    (pytest still prints its summary). With ``own_session`` (POSIX) only we get
    Ctrl-C, and stop the child with SIGTERM: Jupyter then shuts its kernels down without asking
    "Shutdown this Jupyter server (y/[n])?".
    """
    own_session = own_session and os.name == "posix"
    process = None
    try:
        with deferred_ctrl_c():
            process = subprocess.Popen(command, start_new_session=own_session, **kwargs)
        return process.wait()
    except KeyboardInterrupt:
        if process is None:
            raise
        if not own_session:
            try:
                process.wait(timeout=10)
                raise
            except subprocess.TimeoutExpired:
                pass
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise


def lab(cpu: bool) -> int:
    """Open the course in JupyterLab."""
    python = ensure_environment(EXTRAS["lab"], cpu)
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # containers, Colab-like VMs
    command = [str(python), "-m", "jupyter", "lab", *as_root, str(ROOT / "notebooks")]
    print("+", " ".join(command), "  (Ctrl-C stops it)", flush=True)
    return run_child(command, own_session=True)


def test(pytest_args: list[str], cpu: bool) -> int:
    """Run unit tests and every notebook (DL101_SMOKE=1) with two workers."""
    python = ensure_environment(EXTRAS["test"], cpu)
    env = dict(os.environ, DL101_SMOKE="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    args = pytest_args or ["tests", "solutions", "--nbmake", "--nbmake-timeout=600", "-n", "2",
                           "--durations=15"]
    return run_child([str(python), "-m", "pytest", *args], cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    """Dispatch ``lab`` or ``test``; Ctrl-C ends either with a one-line message, not a traceback."""
    if not argv or argv[0] not in ("lab", "test"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    cpu = wants_cpu_torch(rest)
    rest = [a for a in rest if a != "--cpu"]
    try:
        return lab(cpu) if command == "lab" else test(rest, cpu)
    except KeyboardInterrupt:
        unfinished = "" if is_up_to_date(EXTRAS[command], cpu) else \
            " The install did not finish: run the same command again to complete it."
        print(f"\nStopped (Ctrl-C).{unfinished}", file=sys.stderr)
        return 128 + signal.SIGINT  # the shell's convention for "ended by Ctrl-C"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""run.py installs once, then starts without pip (so without a network), and stops cleanly on Ctrl-C.

The .venv here is a stand-in: its ``bin/python`` is a shell script that runs this interpreter, but
logs ``-m pip`` calls instead of installing, and plays a Jupyter server that records SIGTERM. So the
tests run run.py's real code path in a second or two, and never touch a real environment.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="the stand-in venv's python is a POSIX shell script")

FAKE_SERVER = ("import signal, sys, time\n"
               "def stop(*_):\n"
               "    open(sys.argv[1], 'a').write('SIGTERM\\n'); sys.exit(0)\n"
               "signal.signal(signal.SIGTERM, stop)\n"
               "print('server ready', flush=True)\n"
               "time.sleep(60)\n")


@pytest.fixture
def project(tmp_path):
    """A copy of run.py + pyproject.toml, and a stand-in venv whose pip only logs its arguments."""
    folder = tmp_path / "project"
    folder.mkdir()
    for name in ("run.py", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    (tmp_path / "server.py").write_text(FAKE_SERVER)
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    echo "$@" >> "{tmp_path}/pip.log"
    exit "${{FAKE_PIP_EXIT:-0}}"
fi
if [ "$1" = "-m" ] && [ "$2" = "jupyter" ]; then
    exec "{sys.executable}" "{tmp_path}/server.py" "{tmp_path}/server.log"
fi
exec "{sys.executable}" "$@"
""")
    python.chmod(0o755)
    return folder


def run_py(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python3 run.py ARGS`` in ``project``, with the stand-in venv."""
    full_env = {k: v for k, v in os.environ.items() if k != "DL101_TORCH"}  # the caller's choice only
    full_env.update(DL101_VENV=str(project.parent / "venv"), **env)
    return subprocess.run([sys.executable, str(project / "run.py"), *args], cwd=project, env=full_env,
                          capture_output=True, text=True, timeout=60)


def pip_calls(project: Path) -> list[str]:
    log = project.parent / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


NO_INDEX = {"PIP_INDEX_URL": "http://127.0.0.1:9/", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "",
            "HTTPS_PROXY": "http://127.0.0.1:9/", "HTTP_PROXY": "http://127.0.0.1:9/"}


def test_the_second_launch_skips_pip_and_works_with_no_package_index(project):
    first = run_py(project, "test", "--version")
    assert first.returncode == 0, first.stderr
    assert len(pip_calls(project)) == 1 and "install" in pip_calls(project)[0]
    assert "--quiet" not in pip_calls(project)[0]  # the first install shows its progress

    start = time.perf_counter()
    second = run_py(project, "test", "--version", **NO_INDEX)
    assert second.returncode == 0, second.stderr
    assert "pytest" in second.stdout + second.stderr  # it really went on to run pytest
    assert len(pip_calls(project)) == 1, "the second launch called pip"
    assert time.perf_counter() - start < 10


def test_a_changed_pyproject_or_other_extras_or_cpu_torch_reinstall(project):
    assert run_py(project, "test", "--version").returncode == 0
    with open(project / "pyproject.toml", "a") as f:
        f.write("\n# a new dependency would go here\n")
    assert run_py(project, "test", "--version").returncode == 0
    assert len(pip_calls(project)) == 2
    assert run_py(project, "test", "--version", DL101_TORCH="cpu").returncode == 0
    calls = pip_calls(project)
    assert len(calls) == 3
    if sys.platform != "darwin":
        assert "--extra-index-url https://download.pytorch.org/whl/cpu" in calls[-1]
    assert "--extra-index-url" not in calls[0]
    assert run_py(project, "test", "--version", DL101_TORCH="cpu").returncode == 0
    assert len(pip_calls(project)) == 3  # up to date again


def load_run_py(project: Path, monkeypatch):
    """The copied run.py as a module, using the stand-in venv."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_copy", project / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "VENV", project.parent / "venv")
    return module


def test_alternating_lab_and_test_installs_only_once_more(project, monkeypatch, capsys):
    run = load_run_py(project, monkeypatch)
    run.ensure_environment(run.EXTRAS["lab"])
    run.ensure_environment(run.EXTRAS["test"])  # needs more extras: installs them, keeping lab's
    run.ensure_environment(run.EXTRAS["lab"])
    run.ensure_environment(run.EXTRAS["test"])
    calls = pip_calls(project)
    assert len(calls) == 2
    assert calls[1].endswith("[browser,diffusion,lab,test]")


def test_a_failed_install_is_retried_next_time_and_says_what_to_do(project):
    failed = run_py(project, "test", "--version", FAKE_PIP_EXIT="1")
    assert failed.returncode != 0 and "install failed" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert run_py(project, "test", "--version").returncode == 0
    assert len(pip_calls(project)) == 2  # no stamp was written after the failure


def test_ctrl_c_in_lab_stops_the_server_without_a_traceback(project):
    assert run_py(project, "test", "--version").returncode == 0  # install once
    env = {k: v for k, v in os.environ.items() if k != "DL101_TORCH"}
    env["DL101_VENV"] = str(project.parent / "venv")
    process = subprocess.Popen([sys.executable, str(project / "run.py"), "lab"], cwd=project, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if "server ready" in line:
                break
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends; the server sits in its own session
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "Stopped (Ctrl-C)" in stderr and "Traceback" not in stderr
    assert (project.parent / "server.log").read_text() == "SIGTERM\n"
    assert len(pip_calls(project)) == 1  # test's extras include lab's: nothing to install for lab


def test_a_ctrl_c_while_a_child_starts_is_held_until_the_child_exists():
    """Ctrl-C during Popen would leave a server in its own session running, holding our pipes: run.py holds
    it until the child is known, then raises it where run_child stops the child."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_py_module", Path(__file__).resolve().parents[1] / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reached, before = [], signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with module.deferred_ctrl_c():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # a Ctrl-C not held would interrupt here
            reached.append("end of block")
    assert reached == ["end of block"]
    assert signal.getsignal(signal.SIGINT) == (before if before is not None else signal.default_int_handler)


def test_a_first_cuda_install_that_cannot_fit_stops_before_pip(project, monkeypatch, capsys):
    """With too little free disk for PyTorch's CUDA build, say so and suggest --cpu; --cpu itself goes on."""
    run = load_run_py(project, monkeypatch)
    monkeypatch.setattr(run, "VENV", project.parent / "new" / "venv")  # no venv yet: a first install
    monkeypatch.setattr(run.sys, "platform", "linux")
    free = {}
    monkeypatch.setattr(run.shutil, "disk_usage", lambda path: free.setdefault("path", path) and
                        SimpleNamespace(free=2.0e9))
    with pytest.raises(SystemExit, match=r"(?s)needs about 6.5 GB .* only 2.0 GB are free there.*--cpu"):
        run.ensure_environment(run.EXTRAS["lab"])
    assert free["path"] == project.parent and pip_calls(project) == []  # the nearest folder that exists
    run.check_disk_space(cpu=True)  # the CPU build's size was not measured: no check, no exit
    monkeypatch.setattr(run.shutil, "disk_usage", lambda path: SimpleNamespace(free=10e9))
    run.check_disk_space(cpu=False)  # enough room: goes on

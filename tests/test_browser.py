"""A real browser on JupyterLab: chapter 07's interpolation slider redraws the decoded image.

Needs Debian's `chromium` (no browser download) and PyPI's `playwright`; skipped without them unless
DL101_REQUIRE_BROWSER=1 (CI), which turns a missing browser into a failure. A screenshot is saved in
test-artifacts/.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOTEBOOK = "07_variational_autoencoder.ipynb"
pytestmark = pytest.mark.browser


def _require_browser():
    missing = []
    if CHROMIUM is None:
        missing.append("Debian's chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("DL101_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_lab(tmp_path):
    _require_browser()
    shutil.copy(ROOT / "solutions" / NOTEBOOK, tmp_path / NOTEBOOK)  # the run's outputs stay out of the repo
    port, token = _free_port(), "dl101-test"
    env = dict(os.environ, DL101_SMOKE="1", HF_HUB_OFFLINE="1", JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
         f"--ServerApp.token={token}", "--allow-root", f"--ServerApp.root_dir={tmp_path}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield f"{base}/lab/tree/{NOTEBOOK}?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def _last_feedback() -> str:
    """The start of what the chapter's last graded cell (a concept question) prints for the right answer."""
    import re

    import nbformat

    from dl101.checks import QUESTIONS

    nb = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    last = [c.source for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")][-1]
    question = QUESTIONS[re.search(r'check_choice\("([^"]+)"', last).group(1)]
    return question.why[question.right][:40]


def test_moving_the_interpolation_slider_changes_the_decoded_image(jupyter_lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(jupyter_lab)
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=90_000)  # kernel connected
            page.click("text=Run")
            page.click('[data-command="runmenu:run-all"]')
            # the last graded cell's feedback: every cell has run, the kernel is free for the slider
            page.wait_for_selector(f"text={_last_feedback()}", timeout=240_000)
            widget = page.locator(".dl101-interpolation").first
            widget.scroll_into_view_if_needed()
            image = widget.locator("img").first
            before, src_before = image.screenshot(), image.get_attribute("src")
            widget.locator(".noUi-handle, .ui-slider-handle").first.click()
            for _ in range(12):
                page.keyboard.press("ArrowRight")
            page.wait_for_function("([img, old]) => img.src !== old", arg=[image.element_handle(), src_before],
                                   timeout=30_000)
            page.wait_for_timeout(500)
            after = image.screenshot()
            page.screenshot(path=str(ARTIFACTS / "browser_07_interpolation.png"), full_page=False)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser_07_failure.png"))
            raise
        finally:
            browser.close()
    assert before != after, "the decoded image did not change when the slider moved"
    (ARTIFACTS / "interpolation_before.png").write_bytes(before)
    (ARTIFACTS / "interpolation_after.png").write_bytes(after)

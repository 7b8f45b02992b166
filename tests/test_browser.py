"""A real browser on JupyterLab: chapter 07's interpolation slider redraws the decoded image, and the
capstone's guidance explorer redraws its images when the scale or the prompt changes.

Needs Debian's `chromium` (no browser download) and PyPI's `playwright`; skipped without them unless
DL101_REQUIRE_BROWSER=1 (CI), which turns a missing browser into a failure. A screenshot is saved in
test-artifacts/.
"""
import contextlib
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


@contextlib.contextmanager
def _lab(folder: Path, notebook: str):
    """JupyterLab serving ``folder`` in the smoke setting; yields the URL that opens ``notebook``."""
    port, token = _free_port(), "dl101-test"
    env = dict(os.environ, DL101_SMOKE="1", HF_HUB_OFFLINE="1", JUPYTER_CONFIG_DIR=str(folder / "cfg"))
    env.pop("MPLBACKEND", None)  # the tests' Agg would hide the figures a learner sees inline
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
         f"--ServerApp.token={token}", "--allow-root", f"--ServerApp.root_dir={folder}",
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
        yield f"{base}/lab/tree/{notebook}?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def jupyter_lab(tmp_path):
    _require_browser()
    shutil.copy(ROOT / "solutions" / NOTEBOOK, tmp_path / NOTEBOOK)  # the run's outputs stay out of the repo
    with _lab(tmp_path, NOTEBOOK) as url:
        yield url


def _last_feedback() -> str:
    """The start of what the chapter's last graded cell (a concept question) prints for the right answer."""
    import re

    import nbformat

    from dl101.checks import QUESTIONS

    nb = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    last = [c.source for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")][-1]
    question = QUESTIONS[re.search(r'check_choice\("([^"]+)"', last).group(1)]
    return question.why[question.right][:40]


BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


def _run_all(page, url: str, done_text: str) -> None:
    """Open the notebook, run every cell from the Run menu and wait until ``done_text`` is printed."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=90_000)  # kernel connected
    page.click("text=Run")
    page.click('[data-command="runmenu:run-all"]')
    page.wait_for_selector(f"text={done_text}", timeout=240_000)


def _changes(page, image, action) -> bytes:
    """Do ``action`` and wait until the widget's image is redrawn; returns the new image's screenshot."""
    src_before = image.get_attribute("src")
    action()
    page.wait_for_function("([img, old]) => img.src !== old", arg=[image.element_handle(), src_before],
                           timeout=30_000)
    page.wait_for_timeout(500)
    return image.screenshot()


def _press_right(page, widget, times: int) -> None:
    """Focus the widget's slider handle and press the right arrow key ``times`` times."""
    widget.locator(".noUi-handle, .ui-slider-handle").first.click()
    for _ in range(times):
        page.keyboard.press("ArrowRight")


@contextlib.contextmanager
def _page(failure_png: str):
    """A headless Chromium page; on an error, a screenshot named ``failure_png`` goes to test-artifacts/."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        except Exception:
            page.screenshot(path=str(ARTIFACTS / failure_png))
            raise
        finally:
            browser.close()


def _widget_image(page, css_class: str):
    """The first widget with ``css_class``, scrolled into view, and its image."""
    widget = page.locator(css_class).first
    widget.scroll_into_view_if_needed()
    return widget, widget.locator("img").first


def test_moving_the_interpolation_slider_changes_the_decoded_image(jupyter_lab):
    with _page("browser_07_failure.png") as page:
        # the last graded cell's feedback: every cell has run, the kernel is free for the slider
        _run_all(page, jupyter_lab, _last_feedback())
        widget, image = _widget_image(page, ".dl101-interpolation")
        before = image.screenshot()
        after = _changes(page, image, lambda: _press_right(page, widget, 12))
        page.screenshot(path=str(ARTIFACTS / "browser_07_interpolation.png"), full_page=False)
    assert before != after, "the decoded image did not change when the slider moved"
    (ARTIFACTS / "interpolation_before.png").write_bytes(before)
    (ARTIFACTS / "interpolation_after.png").write_bytes(after)


GUIDANCE_NOTEBOOK = "guidance_widget.ipynb"
READY = "guidance explorer ready"


@pytest.fixture
def guidance_lab(tmp_path):
    """The capstone's setup and guidance-explorer cells, verbatim, on the shipped weights (no training)."""
    _require_browser()
    import nbformat

    project = nbformat.read(ROOT / "solutions" / "projects" / "tiny_stable_diffusion.ipynb", as_version=4)
    code = [c.source for c in project.cells if c.cell_type == "code"]
    setup = code[0]
    explorer = [s for s in code if "GuidanceExplorer(" in s or s.strip() == "explorer.widget()"]
    assert setup.startswith("# Setup") and len(explorer) == 2, "the project's setup or explorer cells moved"
    load = ("from dl101 import latent as L, pretrained\nfrom dl101.diffusion import scaled_linear_schedule\n"
            "import matplotlib.pyplot as plt\n"
            "vae, unet = pretrained.load('project-vae', device), pretrained.load('project-unet', device)\n"
            "pipe = L.TinyStableDiffusion(vae, unet, scaled_linear_schedule(T=1000))")
    cells = [setup, load, *explorer, f"print({READY!r})"]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells],
                                            metadata=project.metadata), tmp_path / GUIDANCE_NOTEBOOK)
    with _lab(tmp_path, GUIDANCE_NOTEBOOK) as url:
        yield url


def test_the_guidance_explorer_redraws_for_a_new_scale_and_a_new_prompt(guidance_lab):
    with _page("browser_project_failure.png") as page:
        _run_all(page, guidance_lab, READY)
        widget, image = _widget_image(page, ".dl101-guidance")
        at_zero = image.screenshot()
        at_three = _changes(page, image, lambda: _press_right(page, widget, 3))
        sneakers = _changes(page, image, lambda: widget.locator("select").first.select_option("sneaker"))
        page.screenshot(path=str(ARTIFACTS / "browser_project_guidance.png"), full_page=False)
    assert len({at_zero, at_three, sneakers}) == 3, "the images did not change with the scale and the prompt"
    for name, png in (("s0", at_zero), ("s3", at_three), ("sneaker", sneakers)):
        (ARTIFACTS / f"guidance_{name}.png").write_bytes(png)

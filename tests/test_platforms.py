"""Where learners run the course: one version, released links, Binder, JupyterHub, Colab's ipywidgets 7."""
import ast
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import dl101
from dl101 import course

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RELEASE = f"v{dl101.__version__}"
# ipywidgets 7.7.1 as Colab ships it, with the two requirements of its own that ipywidgets 8 doesn't meet
# (its other ones, ipykernel, traitlets, ipython and jupyterlab_widgets>=1, are met by the test environment).
IPYWIDGETS_7 = ["ipywidgets==7.7.1", "widgetsnbextension==3.6.10", "ipython-genutils==0.2.0"]


def test_the_version_is_written_once_in_dl101_and_pyproject_reads_it_from_there():
    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "dl101.__version__"}
    # setuptools reads the assignment from the file's text (no torch needed to build): keep it a literal
    tree = ast.parse((ROOT / "dl101" / "__init__.py").read_text(encoding="utf-8"))
    literals = [n.value.value for n in tree.body if isinstance(n, ast.Assign)
                and [t.id for t in n.targets if isinstance(t, ast.Name)] == ["__version__"]
                and isinstance(n.value, ast.Constant)]
    assert literals == [dl101.__version__]


def test_colab_and_binder_links_and_the_install_line_use_the_release_tag():
    assert course.TAG == RELEASE
    assert course.install_line().endswith(f'@{RELEASE}"')
    assert course.hub_install_line().endswith(f'@{RELEASE}"')
    for c in course.CHAPTERS:
        assert f"/blob/{RELEASE}/notebooks/{c.stem}.ipynb" in course.colab_url(c.stem)
        assert course.binder_url(c.stem).startswith(f"https://mybinder.org/v2/gh/{course.REPO}/{RELEASE}?")
    for path in [ROOT / "README.md", *sorted((ROOT / "notebooks").glob("*.ipynb"))]:
        text = path.read_text(encoding="utf-8")
        assert f"/blob/{course.BRANCH}/" not in text and f"/gh/{course.REPO}/{course.BRANCH}?" not in text, path.name
        assert f"@{course.BRANCH}\\\"" not in text and f"@{course.BRANCH}\"" not in text, path.name


def test_the_readme_is_what_python_m_dl101_course_writes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert course.readme_text(readme) == readme, "run `python -m dl101.course` and commit the result"
    assert course.hub_table() in readme and course.hub_install_line() in readme


def test_regenerating_rewrites_a_stale_notebook_to_the_current_release(tmp_path):
    for name in ("README.md", "pyproject.toml", "solutions", "notebooks", "binder"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, tmp_path / name)
    stale = tmp_path / "solutions" / f"{course.CHAPTERS[0].stem}.ipynb"
    stale.write_text(stale.read_text(encoding="utf-8").replace(RELEASE, "v0.0.1"), encoding="utf-8")
    assert course.regenerate(tmp_path) == [stale]  # the learner copy was already right
    assert "v0.0.1" not in stale.read_text(encoding="utf-8")
    learner = tmp_path / "notebooks" / stale.name
    learner.write_text(learner.read_text(encoding="utf-8").replace(RELEASE, "v0.0.1"), encoding="utf-8")
    assert course.regenerate(tmp_path) == [learner]
    assert course.regenerate(tmp_path) == []


def test_binder_requirements_are_derived_from_pyproject():
    written = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8")
    assert written == course.binder_requirements(ROOT), "run `python -m dl101.course` and commit the result"
    lines = [line for line in written.splitlines() if line and not line.startswith("#")]
    project = PYPROJECT["project"]
    assert lines[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"  # Binder has no GPU
    assert lines[1:-1] == project["dependencies"] + project["optional-dependencies"]["diffusion"]
    assert lines[-1] == "-e ."  # the checkout Binder built, i.e. the release tag its links name


def test_binder_requirements_follow_a_change_in_pyproject(tmp_path):
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(text.replace('"tqdm>=4.64",', '"tqdm>=4.64", "einops>=0.7",'))
    assert "einops>=0.7" in course.binder_requirements(tmp_path).splitlines()


def test_binder_installs_dl101_once_on_a_python_dl101_supports():
    binder = ROOT / "binder"
    assert not (binder / "postBuild").exists(), "requirements.txt installs dl101; a postBuild would do it twice"
    runtime = (binder / "runtime.txt").read_text().strip()
    major, minor = map(int, runtime.removeprefix("python-").split("."))
    lowest = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert (major, minor) >= tuple(map(int, lowest.split("."))), f"{runtime} is below requires-python"


def test_nbgitpuller_links_open_each_chapter_of_the_pulled_repository():
    url = course.nbgitpuller_url("07_variational_autoencoder", hub="https://hub.example.edu/",
                                 repo="my-org/dl101-student", branch="spring")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://hub.example.edu/hub/user-redirect/git-pull"
    assert parse_qs(parts.query) == {"repo": ["https://github.com/my-org/dl101-student"], "branch": ["spring"],
                                     "urlpath": ["lab/tree/dl101-student/notebooks/07_variational_autoencoder.ipynb"]}
    table = course.hub_table(hub="https://hub.example.edu")
    assert table.count("https://hub.example.edu/hub/user-redirect/git-pull?") == len(course.CHAPTERS) + len(course.PROJECTS)


def test_the_colab_like_script_points_each_setup_cell_at_this_checkout():
    spec = importlib.util.spec_from_file_location("colab_like", ROOT / "scripts" / "colab_like.py")
    colab_like = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(colab_like)
    for c in [*course.CHAPTERS, *course.PROJECTS]:
        sources = [cell.source for cell in colab_like.colab_notebook(ROOT / course.notebook_path(c.stem)).cells]
        setup = sources.index(next(s for s in sources if "google.colab\" in sys.modules" in s))
        assert sources[setup - 1] == colab_like.FAKE_COLAB and sources[setup + 1] == colab_like.AFTER_SETUP
        assert f'"dl101 @ {ROOT.as_uri()}"' in sources[setup] and "github.com" not in sources[setup]


def _ipywidgets_7() -> Path:
    """A folder holding ipywidgets 7.7.1, installed once with pip and reused by later runs."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dl101-test"
    target = cache / "ipywidgets-7.7.1"
    if (target / "ipywidgets").is_dir():
        return target
    partial = cache / f"ipywidgets-7.7.1.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                             "--no-deps", "--target", str(partial), *IPYWIDGETS_7], capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        message = f"could not install {' '.join(IPYWIDGETS_7)} (offline?):\n{result.stderr[-2000:]}"
        if os.environ.get("DL101_REQUIRE_IPYWIDGETS7") == "1":
            pytest.fail(message)
        pytest.skip(message)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # in one step: a half-finished install is never mistaken for a complete one
    return target


def test_every_widget_works_under_colabs_ipywidgets_7():
    """The widget tests again, in a fresh interpreter that imports ipywidgets 7.7.1 (the normal run has 8.x)."""
    target = _ipywidgets_7()
    code = ("import sys, ipywidgets, pytest\n"
            "assert ipywidgets.__version__ == '7.7.1', ipywidgets.__version__\n"
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-W', 'ignore::DeprecationWarning',\n"
            "                      'tests/test_widgets_and_plots.py']))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert " passed" in result.stdout and " skipped" not in result.stdout, result.stdout[-2000:]

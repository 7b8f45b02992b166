"""The rendered course: pages open from disk, show real figures and launch buttons, and hide the answers."""
import html
import json
import os
import re
from pathlib import Path

import pytest

from dl101 import course
from dl101.student import BEGIN, END

try:
    import fcntl
except ImportError:  # Windows: each xdist worker builds its own copy
    fcntl = None

ROOT = Path(__file__).resolve().parents[1]
BUILT = ["01", "07"]  # two quick chapters; 07 also has widgets (smoke setting: about half a minute)
CHAPTERS = [c for c in course.CHAPTERS if c.number in BUILT]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site of the chapters in BUILT, executed in the smoke setting; built once per test run, even
    when pytest-xdist spreads this module's tests over several workers."""
    from dl101.site import build

    base = tmp_path_factory.getbasetemp()
    xdist = os.environ.get("PYTEST_XDIST_WORKER") and fcntl
    shared = base.parent if xdist else base  # the parent is this run's folder, never a stale one
    out = shared / "dl101-site"
    with open(shared / "dl101-site.lock", "w") as lock, pytest.MonkeyPatch.context() as patch:
        if xdist:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits for this build, then reuses it
        if not (out / "index.html").is_file():
            patch.setenv("DL101_SMOKE", "1")
            build(out, BUILT, save_executed=out / "executed")
    return out


def _text(page: str) -> str:
    """What a reader sees: tags dropped (pygments splits code into spans), entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _printed(cell: dict) -> str:
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))


def _solution_lines(executed: Path) -> set[str]:
    """Lines found only inside solution blocks of an executed instructor copy. Lines that a lesson cell
    prints are left out: the page shows them on purpose (chapter 07 prints dl101's own gaussian_kl
    with show_source, and exercise 1 asks to write it again)."""
    nb = json.loads(executed.read_text(encoding="utf-8"))
    inside, solution, other = False, set(), set()
    for cell in nb["cells"]:
        lines = "".join(cell["source"]).splitlines()
        if BEGIN not in "".join(cell["source"]):
            lines += _printed(cell).splitlines()
        for line in lines:
            s = line.strip()
            if s.startswith((BEGIN, END)):
                inside = s.startswith(BEGIN)
            elif s:
                (solution if inside else other).add(s)
    return solution - other


@pytest.mark.notebook
def test_the_index_links_every_chapter_page_with_its_launch_buttons(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    for chapter in CHAPTERS:
        assert f'href="{chapter.stem}.html"' in index and (site / f"{chapter.stem}.html").is_file()
        assert course.colab_url(chapter.stem) in html.unescape(index)
        assert course.binder_url(chapter.stem) in html.unescape(index)


@pytest.mark.notebook
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_a_page_shows_real_figures_and_launch_buttons_and_loads_nothing_from_the_internet(site, chapter):
    page = (site / f"{chapter.stem}.html").read_text(encoding="utf-8")
    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/]{1000}', page)) >= 2
    assert course.colab_url(chapter.stem) in html.unescape(page)
    assert course.binder_url(chapter.stem) in html.unescape(page)
    assert not re.search(r'<(script|img|link|iframe)\b[^>]*\b(src|href)="(https?:)?//', page), \
        "a page must render offline: nothing may be fetched from another site"
    assert "<math" in page and "$$" not in page, "equations are rendered to MathML at build time"


@pytest.mark.notebook
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_a_page_shows_the_exercises_without_their_answers(site, chapter):
    text = _text((site / f"{chapter.stem}.html").read_text(encoding="utf-8"))
    assert "BEGIN SOLUTION" not in text and "# YOUR CODE HERE" in text
    hidden = _solution_lines(site / "executed" / f"{chapter.stem}.ipynb")
    assert hidden, "the instructor copy should hold solutions"
    assert not [line for line in hidden if line in text]
    assert "Correct!" not in text, "an exercise cell's output would give its answer away"
    # The code around each answer is still there, so the check above reads the page's real text.
    assert re.search(r"check_\w+\(", text)


@pytest.mark.notebook
def test_widgets_become_a_pointer_to_colab_and_binder(site):
    page = (site / "07_variational_autoencoder.html").read_text(encoding="utf-8")
    assert "An interactive widget goes here" in page
    assert "widget-view+json" not in page and "widget-state+json" not in page


@pytest.mark.notebook
def test_the_answer_key_shows_the_answers_and_hidden_tests_of_the_same_run(site, tmp_path):
    from dl101 import student

    assert student.main(["--answer-key", str(tmp_path / "key"), "--executed", str(site / "executed")]) == 0
    for chapter in CHAPTERS:
        text = _text((tmp_path / "key" / f"{chapter.stem}.html").read_text(encoding="utf-8"))
        answers = _solution_lines(site / "executed" / f"{chapter.stem}.ipynb")
        assert answers and all(line in text for line in answers)
        assert "Correct!" in text and "# YOUR CODE HERE" not in text
    assert "Answer key" in (tmp_path / "key" / "index.html").read_text(encoding="utf-8")


def test_links_between_chapters_and_the_project_point_at_their_pages():
    """Chapter 10 links the project as projects/NAME.ipynb, the project links back as ../NAME.ipynb: on the
    site, where every page sits in one folder, both become NAME.html, and the README link becomes the index."""
    import nbformat

    from dl101.site import chapter_html

    project, chapter10 = course.PROJECTS[0], course.CHAPTERS[-1]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        f"[next](projects/{project.stem}.ipynb) [back](../{chapter10.stem}.ipynb) [contents](../../README.md)")])
    page = chapter_html(nb, project)
    assert f'href="{project.stem}.html"' in page and f'href="{chapter10.stem}.html"' in page
    assert 'href="index.html"' in page
    assert not re.search(r'href="[^"]*(\.ipynb|README\.md)"', page.replace(course.colab_url(project.stem), "")
                         .replace(course.binder_url(project.stem), ""))

"""The course hangs together: README table, setup cells, badges, exercises, no pasted models."""
import json
import re
from pathlib import Path

import pytest

from dl101 import course
from dl101.student import BEGIN, END

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb"))
PROJECTS = sorted((ROOT / "solutions" / "projects").glob("*.ipynb"))


def _cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return nb, [("".join(c["source"]) if isinstance(c["source"], list) else c["source"], c) for c in nb["cells"]]


def test_every_chapter_has_its_notebook_and_no_stray_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == [c.stem for c in course.CHAPTERS]


def test_every_project_has_its_notebook_and_is_linked_from_chapter_10():
    assert [p.stem for p in PROJECTS] == [p.stem for p in course.PROJECTS]
    chapter10 = (ROOT / "notebooks" / "10_diffusion.ipynb").read_text(encoding="utf-8")
    for p in course.PROJECTS:
        assert f"](projects/{p.stem}.ipynb)" in chapter10


def test_the_readme_table_is_generated_from_dl101_course():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert course.readme_table() in readme and course.project_table() in readme
    assert "python3 run.py lab" in readme and "python3 run.py test" in readme


def test_the_ci_script_runs_the_readmes_test_command():
    assert "python3 run.py test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS + PROJECTS, ids=lambda p: p.stem)
def test_notebook_shape(path):
    nb, cells = _cells(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [src for src, c in cells if c["cell_type"] == "code"]
    assert code[0] == course.setup_cell(), "the first code cell must be the shared setup cell"
    assert course.badges(path.stem) in cells[0][0], "the title cell carries the Colab and Binder badges"
    assert all(not c.get("outputs") for _, c in cells if c["cell_type"] == "code"), "commit without outputs"
    exercises = [src for src in code if BEGIN in src]
    assert len(exercises) >= 2, "each chapter has two or more exercises"  # their grading: test_grading.py
    for src in exercises:
        assert src.count(BEGIN) == src.count(END)


def _public_names():
    import importlib

    names = set()
    for module in ("autoencoders", "vae", "gan", "diffusion", "latent", "training", "data", "plotting", "widgets"):
        mod = importlib.import_module(f"dl101.{module}")
        names |= {n for n in dir(mod) if not n.startswith("_") and getattr(getattr(mod, n), "__module__", "") == mod.__name__}
    return names


@pytest.mark.parametrize("path", NOTEBOOKS + PROJECTS, ids=lambda p: p.stem)
def test_notebooks_do_not_redefine_what_dl101_defines(path):
    _, cells = _cells(path)
    names = _public_names()
    for src, c in cells:
        if c["cell_type"] != "code":
            continue
        for name in re.findall(r"^(?:class|def)\s+(\w+)", src, flags=re.M):
            assert name not in names, f"{path.name} redefines dl101's {name}: show its source instead"


def test_every_dl101_environment_variable_is_explained_in_the_readme():
    import re

    used = set()
    for path in [*ROOT.glob("dl101/*.py"), ROOT / "run.py", *ROOT.glob("tests/*.py"), ROOT / ".ci" / "run"]:
        used |= set(re.findall(r"\bDL101_[A-Z_]*[A-Z]\b", path.read_text(encoding="utf-8")))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(DL101_[A-Z_]+)` \|", readme, flags=re.M))
    assert used, "found no DL101_ variable at all: the search is broken"
    assert used <= documented, f"not in README's Settings table: {sorted(used - documented)}"


def test_no_notebook_or_printed_source_says_seed_lesson():
    """Learners meet "the original lesson", named once per chapter; "seed lesson" is our jargon."""
    places = [*ROOT.glob("notebooks/**/*.ipynb"), *ROOT.glob("dl101/*.py")]
    offenders = [p.name for p in places if "seed lesson" in p.read_text(encoding="utf-8").lower()]
    assert not offenders, offenders

"""Exercises an instructor can assign and autograde: each answer cell is followed by a locked, graded test
cell; learner copies are generated from the instructor copies and hold no answers; and nbgrader itself
gives the instructor's answers full points, wrong answers zero and an untouched learner copy zero.

nbgrader executes a whole chapter per submission, three times, so by default this runs for chapters 01 and
07 only; ``DL101_GRADE_CHAPTERS=all`` (or ``"02 09"``) grades others: see benchmarks/README.md.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dl101 import course, student
from dl101.checks import QUESTIONS

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "solutions" / "projects").glob("*.ipynb"))
GRADED_BY_DEFAULT = "01 07"


def _key(path: Path) -> str:
    """"07" for a chapter, "P" for the capstone project."""
    return "P" if path.parent.name == "projects" else path.stem[:2]


def _learner(path: Path) -> Path:
    """The learner copy of an instructor copy: notebooks/NAME, or notebooks/projects/NAME for a project."""
    return ROOT / "notebooks" / path.relative_to(ROOT / "solutions")


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _exercises(nb) -> list[tuple[dict, dict]]:
    """(answer cell, the graded test cell after it) for every exercise and concept question."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    pairs = []
    for i, cell in enumerate(cells):
        if _meta(cell).get("solution"):
            assert i + 1 < len(cells), f"answer cell {_meta(cell).get('grade_id')} has no test cell after it"
            pairs.append((cell, cells[i + 1]))
    return pairs


@pytest.mark.parametrize("path", SOLUTIONS, ids=_key)
def test_every_answer_cell_is_followed_by_its_locked_graded_test_cell(path):
    nb = nbformat.read(path, as_version=4)
    pairs = _exercises(nb)
    ids = [_meta(c)["grade_id"] for c in nb.cells if _meta(c)]
    assert len(ids) == len(set(ids)), f"grade_ids repeat in {path.name}"
    for answer, test in pairs:
        name = _meta(answer)["grade_id"]
        assert student.BEGIN in answer.source, f"{name}: the answer cell holds no solution block"
        assert "check_" not in student.strip_solution(answer.source), \
            f"{name}: the check belongs in the locked test cell, where a learner cannot delete it"
        meta = _meta(test)
        assert meta.get("grade") and meta.get("locked") and meta.get("points", 0) > 0, \
            f"{name}: the next code cell must be graded and locked, with points"
        assert student.BEGIN not in test.source and "check_" in test.source, name
        wrong = answer.metadata.get("dl101", {}).get("wrong_answers", [])
        assert len(set(wrong)) >= 2 and answer.source not in wrong, f"{name}: give two plausible wrong answers"


@pytest.mark.parametrize("path", SOLUTIONS, ids=_key)
def test_every_chapter_has_graded_exercises_and_concept_questions_with_feedback(path):
    nb = nbformat.read(path, as_version=4)
    tests = [test.source for _, test in _exercises(nb)]
    questions = [m.group(1) for source in tests for m in re.finditer(r'check_choice\("([^"]+)"', source)]
    assert len(tests) - len(questions) >= 2, f"{path.name}: at least two graded exercises"
    assert len(questions) >= 2, f"{path.name}: at least two concept questions"
    for q in questions:
        assert q in QUESTIONS, f"question {q} is not registered in dl101.checks"
        choice = QUESTIONS[q]
        assert choice.right in choice.why and len(choice.why) >= 3, q
        assert all(len(text) > 20 for text in choice.why.values()), f"{q}: every option's feedback says why"


@pytest.mark.parametrize("folder", ["", "projects"])
def test_learner_copies_are_generated_from_the_instructor_copies(tmp_path, folder):
    student.write_student_copies(ROOT / "solutions" / folder, tmp_path)
    learner = ROOT / "notebooks" / folder
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == sorted(p.name for p in learner.glob("*.ipynb"))
    for path in sorted(tmp_path.glob("*.ipynb")):
        assert path.read_text(encoding="utf-8") == (learner / path.name).read_text(encoding="utf-8"), \
            f"{learner / path.name} is out of step with solutions/: run `python -m dl101.course`"


def _block_lines(nb, begin: str, end: str) -> set[str]:
    """Lines found only inside ``begin``…``end`` blocks (so their absence elsewhere means something)."""
    inside, block, other = False, set(), set()
    for cell in nb.cells:
        for line in cell.source.splitlines():
            s = line.strip()
            if s.startswith(begin) or s.startswith(end):
                inside = s.startswith(begin)
            elif s:
                (block if inside else other).add(s)
    return block - other


@pytest.mark.parametrize("path", SOLUTIONS, ids=_key)
def test_learner_copies_hold_no_answers_hidden_tests_or_wrong_answers(path):
    instructor = nbformat.read(path, as_version=4)
    text = _learner(path).read_text(encoding="utf-8")
    learner = nbformat.reads(text, as_version=4)
    code = {line.strip() for c in learner.cells for line in c.source.splitlines()}
    answers = _block_lines(instructor, student.BEGIN, student.END)
    hidden = _block_lines(instructor, student.BEGIN_HIDDEN, student.END_HIDDEN)
    assert answers and not [line for line in answers if line in code]
    assert not [line for line in hidden if line in code]
    assert '"wrong_answers"' not in text and student.BEGIN not in text and student.BEGIN_HIDDEN not in text
    assert all(not c.get("outputs") for c in learner.cells)


def test_what_a_learner_opens_shows_the_learner_copies():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for c in [*course.CHAPTERS, *course.PROJECTS]:
        where = course.notebook_path(c.stem)
        assert where.startswith("notebooks/") and (ROOT / where).is_file()
        assert f"]({where})" in readme
        assert f"/{where}" in course.colab_url(c.stem)
        assert where in course.binder_url(c.stem)
    for path in SOLUTIONS:  # the badges inside every copy, too
        assert "solutions/" not in course.badges(path.stem)
    run_py = (ROOT / "run.py").read_text(encoding="utf-8")
    assert 'str(ROOT / "notebooks")]' in run_py  # `run.py lab` opens the learner copies


def test_dl101_student_refuses_its_source_folder_and_instructor_copies(tmp_path):
    source = tmp_path / "solutions"
    shutil.copytree(ROOT / "solutions", source)
    with pytest.raises(SystemExit, match="instructor copies"):
        student.main([str(source), str(source)])
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(SOLUTIONS[0], other / SOLUTIONS[0].name)
    with pytest.raises(SystemExit, match="holds solutions"):
        student.main([str(source), str(other)])
    assert student.has_solutions(json.loads((other / SOLUTIONS[0].name).read_text(encoding="utf-8")))


# nbgrader itself ----------------------------------------------------------------------------------
def _graded_chapters() -> set[str]:
    wanted = os.environ.get("DL101_GRADE_CHAPTERS", GRADED_BY_DEFAULT)
    return {_key(p) for p in SOLUTIONS} if wanted.strip() == "all" else set(wanted.split())


def _nbgrader(course_dir: Path, *args: str) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course_dir, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _submission(release, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with these answer cells (by grade_id) filled in."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        if _meta(cell).get("grade_id") in answers:
            cell.source = answers[_meta(cell)["grade_id"]]
    return nb


def _without_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in (student.BEGIN, student.END))


@pytest.mark.notebook
@pytest.mark.parametrize("path", SOLUTIONS, ids=_key)
def test_nbgrader_gives_right_answers_full_points_and_wrong_or_missing_ones_zero(path, tmp_path, monkeypatch):
    chapter = _key(path)
    if chapter not in _graded_chapters():
        pytest.skip(f"chapter {chapter} is graded with DL101_GRADE_CHAPTERS=all (three executions of the chapter)")
    monkeypatch.setenv("DL101_SMOKE", "1")
    from nbgrader.api import Gradebook

    name = f"ch{chapter}"
    shutil.copy(ROOT / "grading" / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    with open(tmp_path / "nbgrader_config.py", "a", encoding="utf-8") as config:
        config.write(f"c.CourseDirectory.db_assignments = [dict(name={name!r})]\n"
                     "c.CourseDirectory.db_students = [dict(id='instructor'), dict(id='wrong'), dict(id='blank')]\n")
    (tmp_path / "source" / name).mkdir(parents=True)
    shutil.copy(path, tmp_path / "source" / name / path.name)
    _nbgrader(tmp_path, "generate_assignment", name)

    release = nbformat.read(tmp_path / "release" / name / path.name, as_version=4)
    ours = nbformat.read(_learner(path), as_version=4)
    assert [c.source.rstrip() for c in ours.cells] == [c.source.rstrip() for c in release.cells], \
        "notebooks/ should hold what nbgrader's generate_assignment releases"

    pairs = _exercises(nbformat.read(path, as_version=4))
    submissions = {
        "instructor": {_meta(a)["grade_id"]: _without_markers(a.source) for a, _ in pairs},
        "wrong": {_meta(a)["grade_id"]: a.metadata["dl101"]["wrong_answers"][0] for a, _ in pairs},
        "blank": {},
    }
    for who, answers in submissions.items():
        folder = tmp_path / "submitted" / who / name
        folder.mkdir(parents=True)
        nbformat.write(_submission(release, answers), folder / path.name)
    _nbgrader(tmp_path, "autograde", name)

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        scores = {who: {g.name: (g.score, g.max_score) for nb in gradebook.find_submission(name, who).notebooks
                        for g in nb.grades} for who in submissions}
    tests = {_meta(t)["grade_id"] for _, t in pairs}
    assert set(scores["instructor"]) == tests
    assert {k: s for k, (s, m) in scores["instructor"].items() if s != m} == {}, "the instructor's answers lose points"
    assert {k: s for k, (s, m) in scores["wrong"].items() if s != 0} == {}, "a wrong answer earns points"
    assert sum(s for s, _ in scores["blank"].values()) == 0, "an untouched learner copy earns points"

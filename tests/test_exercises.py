import json

import pytest

from dl101 import student
from dl101.exercises import Incorrect


def test_strip_solution_keeps_the_code_around_the_solution_and_its_indentation():
    source = ("x = 1\n"
              "def f():\n"
              "    # BEGIN SOLUTION\n"
              "    return 42\n"
              "    # END SOLUTION\n"
              "check(f)\n")
    stripped = student.strip_solution(source)
    assert "42" not in stripped
    assert stripped.startswith("x = 1\ndef f():\n    # YOUR CODE HERE\n    raise NotImplementedError(")
    assert stripped.endswith("check(f)\n")


@pytest.mark.parametrize("bad", ["# BEGIN SOLUTION\nx\n", "x\n# END SOLUTION\n",
                                 "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n"])
def test_unbalanced_markers_are_reported(bad):
    with pytest.raises(ValueError, match="SOLUTION"):
        student.strip_solution(bad)


def test_the_cli_writes_student_copies_without_solutions_or_outputs(tmp_path):
    notebook = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# BEGIN SOLUTION in prose stays"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 3, "outputs": [{"output_type": "stream"}],
         "source": ["a = 1\n", "# BEGIN SOLUTION\n", "answer = 42\n", "# END SOLUTION\n"]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "01.ipynb").write_text(json.dumps(notebook))
    assert student.main([str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    copy = json.loads((tmp_path / "out" / "01.ipynb").read_text())
    code = copy["cells"][1]
    assert "42" not in code["source"] and "NotImplementedError" in code["source"]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert not student.has_solutions(copy) and student.has_solutions(notebook)


def test_hidden_tests_and_instructor_metadata_leave_the_learner_copy():
    notebook = {"cells": [
        {"cell_type": "code", "execution_count": None, "outputs": [], "source": "# BEGIN SOLUTION\nx = 1\n# END SOLUTION",
         "metadata": {"nbgrader": {"solution": True, "grade_id": "a", "checksum": "abc"},
                      "dl101": {"wrong_answers": ["x = 2", "x = 3"]}}},
        {"cell_type": "code", "execution_count": None, "outputs": [], "metadata": {},
         "source": "check(x)\n### BEGIN HIDDEN TESTS\nassert x == 1\n### END HIDDEN TESTS\n"}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    copy = student.student_notebook(notebook)
    assert copy["cells"][1]["source"] == "check(x)"
    assert copy["cells"][0]["metadata"] == {"nbgrader": {"solution": True, "grade_id": "a"}}
    assert student.has_solutions(notebook) and not student.has_solutions(copy)


def test_a_wrong_answer_shows_the_hint_not_the_checkers_code():
    from dl101.checks import QUESTIONS, Choice, check_choice

    QUESTIONS["test-q"] = Choice(right="b", why={"a": "No: a is wrong because of x.", "b": "Yes: b, because y."})
    try:
        with pytest.raises(Incorrect) as info:
            check_choice("test-q", "a")
        assert info.value._render_traceback_()[-1].endswith("No: a is wrong because of x.")
        with pytest.raises(Incorrect, match="not an option"):
            check_choice("test-q", "e")
        with pytest.raises(Incorrect, match="as text"):
            check_choice("test-q", 2)
        check_choice("test-q", "(B)")
    finally:
        del QUESTIONS["test-q"]


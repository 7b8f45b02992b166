"""Student copies: no solution code, and they run up to their first exercise (smoke setting)."""
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from dl101.student import BEGIN, END, student_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _solution_lines(notebook):
    """Solution lines that appear nowhere else in the notebook (so their absence means something)."""
    inside, solution, other = False, set(), set()
    for cell in notebook["cells"]:
        for line in _source(cell).splitlines():
            s = line.strip()
            if s.startswith(BEGIN) or s.startswith(END):
                inside = s.startswith(BEGIN)
            elif s:
                (solution if inside else other).add(s)
    return solution - other


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_student_copy_has_no_solutions_and_runs_up_to_its_first_exercise(path, monkeypatch):
    monkeypatch.setenv("DL101_SMOKE", "1")
    instructor = json.loads(path.read_text(encoding="utf-8"))
    student = student_notebook(instructor)
    student_code = "\n".join(_source(c) for c in student["cells"] if c["cell_type"] == "code")
    hidden = _solution_lines(instructor)
    assert hidden, "the instructor copy should hold solutions"
    assert not [line for line in hidden if line in student_code]

    nb = nbformat.from_dict(student)
    first_exercise = next(i for i, c in enumerate(nb.cells) if "# YOUR CODE HERE" in c.source)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert "NotImplementedError" in str(info.value)
    failed = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failed == [first_exercise], "every cell before the first exercise must run cleanly"

"""Student copies: instructor notebooks hold solutions between ``# BEGIN SOLUTION`` and
``# END SOLUTION`` (nbgrader's and otter-grader's markers); ``dl101-student SRC DST`` writes copies
without them.

    dl101-student notebooks/ student/          # every notebook
    python -m dl101.student notebooks/07_variational_autoencoder.ipynb student/
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
PLACEHOLDER = 'raise NotImplementedError("Exercise: replace this line with your solution")'


def strip_solution(source: str) -> str:
    """Replace every solution block in a cell's source with a placeholder, keeping indentation."""
    lines, out, inside = source.splitlines(keepends=True), [], False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                raise ValueError(f"nested {BEGIN!r} marker in:\n{source}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE\n", f"{indent}{PLACEHOLDER}\n"]
        elif stripped.startswith(END):
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r} in:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r} in:\n{source}")
    return "".join(out)


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def student_notebook(notebook: dict) -> dict:
    """A student copy of a notebook (as JSON): solutions replaced, outputs cleared."""
    copy = json.loads(json.dumps(notebook))
    for cell in copy["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["source"] = strip_solution(_source(cell))
        cell["outputs"], cell["execution_count"] = [], None
    return copy


def has_solutions(notebook: dict) -> bool:
    """True if any code cell of ``notebook`` holds a solution marker."""
    return any(BEGIN in _source(c) for c in notebook["cells"] if c["cell_type"] == "code")


def write_student_copies(src: str | Path, dst: str | Path) -> list[Path]:
    """Write student copies of one notebook or of every ``*.ipynb`` in a folder into ``dst``."""
    src, dst = Path(src), Path(dst)
    notebooks = sorted(src.glob("*.ipynb")) if src.is_dir() else [src]
    if not notebooks:
        raise FileNotFoundError(f"no notebooks found at {src}")
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        target = dst / path.name
        target.write_text(json.dumps(student_notebook(notebook), indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``dl101-student SRC DST``."""
    parser = argparse.ArgumentParser(prog="dl101-student", description=__doc__.splitlines()[0])
    parser.add_argument("src", help="a notebook or a folder of notebooks (the instructor's copies)")
    parser.add_argument("dst", help="folder for the student copies")
    args = parser.parse_args(argv)
    for path in write_student_copies(args.src, args.dst):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

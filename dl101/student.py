"""Learner copies. The instructor copies in ``solutions/`` hold each exercise's answer between
``# BEGIN SOLUTION`` and ``# END SOLUTION`` and hidden tests between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` (nbgrader's markers); the learner copies in ``notebooks/`` are generated from
them, never edited by hand (``python -m dl101.course`` rewrites them; a test keeps them in step).

    dl101-student solutions/ my-class/           # learner copies of every chapter
    dl101-student solutions/07_variational_autoencoder.ipynb my-class/
    dl101-student --answer-key key/               # the instructor copies executed, as static HTML
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PLACEHOLDER = 'raise NotImplementedError("Exercise: replace this line with your solution")'
MARKDOWN_PLACEHOLDER = "YOUR ANSWER HERE"
INSTRUCTOR_ONLY = "dl101"  # cell metadata for instructors and tests (e.g. plausible wrong answers)


def _between(source: str, begin: str, end: str, replacement) -> str:
    """Replace every ``begin``…``end`` block of ``source`` by ``replacement(indent)`` (a list of lines)."""
    out, inside = [], False
    for line in source.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith(begin):
            if inside:
                raise ValueError(f"nested {begin!r} marker in:\n{source}")
            inside = True
            out += replacement(line[: len(line) - len(line.lstrip())])
        elif stripped.startswith(end):
            if not inside:
                raise ValueError(f"{end!r} without {begin!r} in:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{begin!r} without {end!r} in:\n{source}")
    return "".join(out)


def strip_solution(source: str, markdown: bool = False) -> str:
    """Replace every solution block in a cell's source with a placeholder, keeping indentation."""
    if markdown:
        return _between(source, BEGIN, END, lambda indent: [f"{MARKDOWN_PLACEHOLDER}\n"])
    return _between(source, BEGIN, END, lambda indent: [f"{indent}# YOUR CODE HERE\n", f"{indent}{PLACEHOLDER}\n"])


def strip_hidden_tests(source: str) -> str:
    """Remove the hidden tests: nbgrader puts them back when it autogrades."""
    return _between(source, BEGIN_HIDDEN, END_HIDDEN, lambda indent: []).rstrip("\n")


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def learner_cell(cell: dict) -> dict:
    """A cell as the learner sees it: no solution, no hidden test, no instructor metadata, no output."""
    source = _source(cell)
    markdown_answer = cell["cell_type"] == "markdown" and cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    if BEGIN in source and (cell["cell_type"] == "code" or markdown_answer):  # prose may quote the marker
        source = strip_solution(source, markdown=cell["cell_type"] == "markdown")
    if BEGIN_HIDDEN in source:
        source = strip_hidden_tests(source)
    cell["source"] = source
    cell.get("metadata", {}).pop(INSTRUCTOR_ONLY, None)
    cell.get("metadata", {}).get("nbgrader", {}).pop("checksum", None)
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return cell


def student_notebook(notebook: dict) -> dict:
    """A learner copy of a notebook (as JSON): solutions and hidden tests removed, outputs cleared."""
    copy = json.loads(json.dumps(notebook))
    copy["cells"] = [learner_cell(cell) for cell in copy["cells"]]
    copy.get("metadata", {}).pop(INSTRUCTOR_ONLY, None)
    return copy


def has_solutions(notebook: dict) -> bool:
    """True if any code cell of ``notebook`` holds a solution or a hidden test."""
    return any(BEGIN in _source(c) or BEGIN_HIDDEN in _source(c) for c in notebook["cells"]
               if c["cell_type"] == "code")


def notebook_text(notebook: dict) -> str:
    """A notebook as written to disk (nbformat's layout: one-space indents)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def _sources(src: Path) -> list[Path]:
    notebooks = sorted(src.glob("*.ipynb")) if src.is_dir() else [src]
    if not notebooks or not all(p.is_file() for p in notebooks):
        raise FileNotFoundError(f"no notebooks found at {src}")
    return notebooks


def write_student_copies(src: str | Path, dst: str | Path) -> list[Path]:
    """Write learner copies of one notebook or of every ``*.ipynb`` in a folder into ``dst``; returns the
    files whose content changed. Refuses to write into the source folder or over an instructor copy."""
    src, dst = Path(src), Path(dst)
    notebooks = _sources(src)
    if dst.resolve() in {p.parent.resolve() for p in notebooks}:
        raise SystemExit(f"refusing to write learner copies into {dst}, the folder of the instructor copies: "
                         "that would delete their solutions. Pick another folder.")
    targets = [dst / p.name for p in notebooks]
    for target in targets:
        if target.is_file() and has_solutions(json.loads(target.read_text(encoding="utf-8"))):
            raise SystemExit(f"refusing to overwrite {target}: it holds solutions, so it is an instructor copy")
    dst.mkdir(parents=True, exist_ok=True)
    changed = []
    for path, target in zip(notebooks, targets):
        text = notebook_text(student_notebook(json.loads(path.read_text(encoding="utf-8"))))
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            changed.append(target)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line: ``dl101-student SRC DST`` or ``dl101-student --answer-key OUT``."""
    parser = argparse.ArgumentParser(prog="dl101-student", description=__doc__.splitlines()[0],
                                     epilog="Examples:\n" + __doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", nargs="?", help="a notebook or a folder of notebooks (the instructor copies)")
    parser.add_argument("dst", nargs="?", help="folder for the learner copies")
    parser.add_argument("--answer-key", type=Path, metavar="OUT",
                        help="execute the instructor copies and write them, answers shown, as HTML pages")
    parser.add_argument("--executed", type=Path, help="with --answer-key: render these executed notebooks instead")
    args = parser.parse_args(argv)
    if args.answer_key:
        from dl101 import site

        pages = site.build(args.answer_key, executed=args.executed, answer_key=True)
        print(f"answer key: {pages[0]}")
        return 0
    if not (args.src and args.dst):
        parser.error("give SRC and DST, or --answer-key OUT")
    for path in write_student_copies(args.src, args.dst):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

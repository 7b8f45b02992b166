"""Build the course as a static website that opens from disk: every chapter executed, figures embedded,
exercises without their answers, Colab and Binder buttons.

    python -m dl101.site build/site                    # execute every chapter (full settings), render
    DL101_SMOKE=1 python -m dl101.site build/site      # the quick smoke setting
    python -m dl101.site build/site --executed runs/   # only render notebooks executed elsewhere (a GPU)
    python -m dl101.site build/site 01 07              # some chapters only

Plain nbconvert, not Jupyter Book: it is already installed with Jupyter, needs no network at build
time, and its "lab" template has all its CSS inline. What that template would fetch from a CDN
(require.js, MathJax, mermaid, the widget manager) is left out: equations become MathML at build time
(browsers draw it natively), and widgets, which need a live kernel anyway, become a pointer to Colab
and Binder. So a page needs nothing but itself.
"""
from __future__ import annotations

import argparse
import datetime
import html
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from jinja2 import DictLoader, pass_context
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from dl101 import course
from dl101.student import learner_cell
from dl101.runtime import is_smoke

NOTEBOOKS = Path(__file__).resolve().parents[1] / "solutions"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\((?:https?:)?//[^)]*\)")  # ![alt](https://...)
PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+")
WIDGET_NOTE = ('<p class="dl101-widget">An interactive widget goes here: it needs a running kernel. '
               "Open this chapter in Colab or Binder (buttons at the top) to use it.</p>")
STYLE = """
.dl101-bar { display: flex; gap: .6em; align-items: center; flex-wrap: wrap; padding: .6em 1em;
  border-bottom: 1px solid #ddd; font-family: sans-serif; font-size: 14px; }
.dl101-button { padding: .25em .8em; border: 1px solid #888; border-radius: 4px; text-decoration: none;
  color: #222; background: #f4f4f4; }
.dl101-note { color: #8a5300; }
.dl101-widget { padding: .5em; border: 1px dashed #aaa; color: #555; }
"""
# The lab template minus every block that loads a script from the internet.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.dl101_style }}</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.dl101_bar }}{%- endblock body_header -%}
"""


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, writing equations as MathML instead of leaving TeX for MathJax."""

    def block_math(self, body: str) -> str:
        """Display math, ``$$...$$``."""
        return latex_to_mathml(body, display="block")

    def inline_math(self, body: str) -> str:
        """Inline math, ``$...$``."""
        return latex_to_mathml(body)

    def latex_environment(self, name: str, body: str) -> str:
        """A bare ``\\begin{name}...\\end{name}``."""
        return latex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display="block")


class SiteExporter(HTMLExporter):
    """HTMLExporter with the offline template and MathML equations."""

    def __init__(self, **kwargs) -> None:
        super().__init__(template_name="lab", extra_loaders=[DictLoader({"dl101.html.j2": TEMPLATE})],
                         template_file="dl101.html.j2", embed_images=True, **kwargs)

    @pass_context
    def markdown2html(self, context, source: str) -> str:
        """Markdown to HTML, as nbconvert does it, but with MathML equations."""
        cell = context.get("cell", {})
        renderer = MathMLRenderer(escape=False, attachments=cell.get("attachments", {}),
                                  embed_images=self.embed_images, anchor_link_text=self.anchor_link_text,
                                  exclude_anchor_links=self.exclude_anchor_links)
        return MarkdownWithMath(renderer=renderer).render(source)


def execute(path: Path, timeout: int | None) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel, with this process's settings (DL101_SMOKE...)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # The kernel must draw inline figures: a test's MPLBACKEND=Agg would silence them.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    setting = "smoke (DL101_SMOKE=1)" if is_smoke() else "full"
    nb.metadata["dl101"] = {"setting": setting, "executed": datetime.date.today().isoformat()}
    return nb


def hide_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Show each exercise as the learner copy does: no solution, no hidden test, and an exercise's cells
    without their outputs (a graded cell's ✔ would tell the answer was accepted)."""
    for cell in nb.cells:
        if "nbgrader" in cell.get("metadata", {}) or "BEGIN SOLUTION" in cell.source:
            learner_cell(cell)
    return nb


def _is_progress_bar(output: dict) -> bool:
    """A tqdm bar drawn as a widget (its text reads like ``Epoch 1/1:  40%|####  | 25/63 [...]``)."""
    return bool(PROGRESS_BAR.search("".join(output.get("data", {}).get("text/plain", ""))))


def static_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop progress bars (they vanish after a live run too) and replace other widget outputs, dead
    without a kernel, with a pointer to Colab and Binder."""
    for cell in nb.cells:
        if "outputs" not in cell:
            continue
        cell.outputs = [o for o in cell.outputs
                        if WIDGET_MIME not in o.get("data", {}) or not _is_progress_bar(o)]
        for output in cell.outputs:
            if WIDGET_MIME in output.get("data", {}):
                output.data = nbformat.from_dict({"text/html": WIDGET_NOTE})
    nb.metadata.pop("widgets", None)
    return nb


def without_badges(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """Drop the title cell's badges, whose images live on the internet (the page bar has the links);
    any other image from the internet becomes its alt text."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = REMOTE_IMAGE.sub(r"\1", cell.source.replace(course.badges(stem), ""))
    return nb


def _button(label: str, href: str) -> str:
    return f'<a class="dl101-button" href="{html.escape(href)}">{html.escape(label)}</a>'


def page_bar(chapter: course.Chapter, setting: str | None) -> str:
    """The bar on top of a chapter's page: back to the index, and the launch buttons."""
    parts = [_button("All chapters", "index.html"), _button("Open in Colab", course.colab_url(chapter.stem)),
             _button("Launch Binder", course.binder_url(chapter.stem))]
    if setting and setting.startswith("smoke"):
        parts.append('<span class="dl101-note">Executed in the smoke setting: tiny data and few epochs, so '
                     "these figures are not the chapter's results.</span>")
    elif setting and "at a time" in setting:  # benchmarks/full_run.py --jobs N
        parts.append(f'<span class="dl101-note">Executed at {html.escape(setting)}: printed times include '
                     "waiting for the other chapters.</span>")
    return f'<nav class="dl101-bar">{"".join(parts)}</nav>'


def chapter_html(nb: nbformat.NotebookNode, chapter: course.Chapter, answer_key: bool = False) -> str:
    """One chapter's page, from its executed instructor notebook (with its answers for an answer key)."""
    nb = without_badges(nb, chapter.stem)
    nb = static_widgets(nb if answer_key else hide_solutions(nb))
    setting = nb.metadata.get("dl101", {}).get("setting")
    resources = {"metadata": {"name": f"{chapter.number} · {chapter.title}"}, "dl101_style": STYLE,
                 "dl101_bar": page_bar(chapter, setting)}
    body, _ = SiteExporter().from_notebook_node(nb, resources=resources)
    for other in [*course.CHAPTERS, *course.PROJECTS]:  # links between notebooks point at their pages
        for link in (f"{other.stem}.ipynb", f"{course.PROJECT_FOLDER}/{other.stem}.ipynb", f"../{other.stem}.ipynb"):
            body = body.replace(f'href="{link}"', f'href="{other.stem}.html"')
    return body.replace('href="../../README.md"', 'href="index.html"')  # a project's link to the contents


def index_html(chapters: list[course.Chapter], setting: str, answer_key: bool = False) -> str:
    """The start page: every chapter with its launch buttons."""
    rows = "".join(
        f'<tr><td>{c.number}</td><td><a href="{c.stem}.html">{html.escape(c.title)}</a></td>'
        f"<td>{html.escape(c.learn)}</td><td>{_button('Colab', course.colab_url(c.stem))} "
        f"{_button('Binder', course.binder_url(c.stem))}</td></tr>" for c in chapters)
    shown = ("<b>Answer key</b>: the exercises are shown with their solutions and hidden tests" if answer_key
             else "The exercises are shown without their answers")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dl101: generative models, hands-on</title>
<style>{STYLE}
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; line-height: 1.4; }}
td {{ padding: .4em .6em; border-bottom: 1px solid #eee; vertical-align: top; }}
td:last-child {{ white-space: nowrap; }}
</style></head><body>
<h1>dl101: generative models, hands-on</h1>
<p>Autoencoders, variational autoencoders, GANs and diffusion models, one runnable chapter each.
These pages were executed with these settings: <b>{html.escape(setting)}</b>. {shown}. Open a chapter in Colab or Binder to run it yourself.</p>
<table>{rows}</table>
</body></html>
"""


def build(out: Path, numbers: list[str] | None = None, executed: Path | None = None,
          timeout: int | None = 1800, save_executed: Path | None = None, answer_key: bool = False) -> list[Path]:
    """Write the site into ``out``: executing each chapter (kept in ``save_executed``), or reading it from
    ``executed``; ``answer_key`` shows the solutions and hidden tests (for instructors)."""
    chapters = [c for c in [*course.CHAPTERS, *course.PROJECTS] if not numbers or c.number in numbers]
    if executed and not numbers:  # render the chapters that were executed
        chapters = [c for c in chapters if (executed / f"{c.stem}.ipynb").is_file()]
    if numbers and len(chapters) != len(numbers):
        known = ", ".join(c.number for c in [*course.CHAPTERS, *course.PROJECTS])
        raise SystemExit(f"unknown chapter in {numbers}: the chapters are {known}")
    out.mkdir(parents=True, exist_ok=True)
    written, settings = [], set()
    for chapter in chapters:
        start = time.perf_counter()
        if executed:
            nb = nbformat.read(executed / f"{chapter.stem}.ipynb", as_version=4)
        elif not NOTEBOOKS.is_dir():
            raise SystemExit(f"no notebooks at {NOTEBOOKS}: build the site from a checkout of the course, "
                             "or pass --executed with a folder of executed notebooks")
        else:
            nb = execute(course.instructor_copy(chapter.stem, NOTEBOOKS.parent), timeout)
            if save_executed:  # with its answers: these are instructor copies
                save_executed.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, save_executed / f"{chapter.stem}.ipynb")
        settings.add(nb.metadata.get("dl101", {}).get("setting", "executed elsewhere"))
        page = out / f"{chapter.stem}.html"
        page.write_text(chapter_html(nb, chapter, answer_key), encoding="utf-8")
        written.append(page)
        print(f"{page}  ({time.perf_counter() - start:.0f} s)", flush=True)
    index = out / "index.html"
    index.write_text(index_html(chapters, " / ".join(sorted(settings)), answer_key), encoding="utf-8")
    return [index, *written]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m dl101.site OUT [NN ...] [--executed DIR]``."""
    summary = __doc__.split("\n\n")[0].replace("\n", " ")
    parser = argparse.ArgumentParser(prog="python -m dl101.site", description=summary)
    parser.add_argument("out", type=Path, help="folder for the site (index.html and one page per chapter)")
    parser.add_argument("chapters", nargs="*", help="chapter numbers such as 01 07 (default: all)")
    parser.add_argument("--executed", type=Path, help="render these executed notebooks instead of running them")
    parser.add_argument("--save-executed", type=Path, help="also keep the executed notebooks here")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a cell may run (default 1800)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    pages = build(args.out, args.chapters, args.executed, args.timeout, args.save_executed)
    size = sum(p.stat().st_size for p in pages) / 1e6
    print(f"{len(pages)} pages, {size:.1f} MB, in {time.perf_counter() - start:.0f} s: open {pages[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

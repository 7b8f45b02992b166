"""The course's table of contents, links and platform configuration, kept in one place.

``python -m dl101.course`` rewrites everything derived from here: the README's chapter and JupyterHub
tables, each notebook's setup cell and badges, and ``binder/requirements.txt``. Tests keep them in step.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import namedtuple
from pathlib import Path
from urllib.parse import quote, urlencode

from dl101 import __version__

REPO = "dl101-course/dl101"  # GitHub owner/name: change it here and rerun `python -m dl101.course`
BRANCH = "main"  # where development happens; nbgitpuller follows a branch (it cannot pull a tag)
TAG = f"v{__version__}"  # the release learners get: Colab and Binder open and install this tag
HUB = "https://YOUR-HUB.example.org"  # placeholder: instructors put their JupyterHub's address here
ROOT = Path(__file__).resolve().parents[1]  # the checkout (pyproject.toml, README.md, solutions/, notebooks/, binder/)

Chapter = namedtuple("Chapter", ["number", "stem", "title", "learn"])
# number | notebook | title | what you learn (one chapter per line; the README's table is made from it)
_TABLE = """
01 | 01_linear_autoencoder_pca | Linear autoencoder = PCA | what an autoencoder is; why a linear one finds PCA's subspace, checked with principal angles
02 | 02_stacked_autoencoder | Stacked autoencoder | deep autoencoders on Fashion-MNIST, anomaly detection (ROC AUC), t-SNE of codes, tied weights
03 | 03_convolutional_autoencoder | Convolutional autoencoder | convolutions and transposed convolutions; why they suit images
04 | 04_recurrent_autoencoder | Recurrent autoencoder | images as sequences of rows through LSTMs; where recurrent AEs make sense
05 | 05_denoising_autoencoder | Denoising autoencoder | learning robust features by reconstructing clean images from dropout- or noise-corrupted ones
06 | 06_sparse_autoencoder | Sparse autoencoder | a KL sparsity penalty, what single code units respond to
07 | 07_variational_autoencoder | Variational autoencoder | the ELBO, the reparameterization trick, sampling and latent-space widgets
08 | 08_discrete_vae | Discrete VAE | categorical codes with Gumbel-softmax, the straight-through estimator, temperature annealing
09 | 09_gan_dcgan | GANs and DCGAN | the minimax game, training two networks, and how GAN training goes wrong
10 | 10_diffusion | Diffusion models | DDPM and DDIM from scratch, checked against diffusers; Stable Diffusion's parts
"""
CHAPTERS = [Chapter(*(field.strip() for field in line.split("|"))) for line in _TABLE.strip().splitlines()]
# Projects build on several chapters; the course stays ten chapters. Instructor copies: solutions/projects/;
# learner copies: notebooks/projects/ (inside notebooks/, so that `run.py lab` and Binder show them too).
PROJECTS = [Chapter("P", "tiny_stable_diffusion", "Capstone: a tiny Stable Diffusion",
                    "latent diffusion from your own VAE and UNet: prompts, classifier-free guidance, "
                    "a guidance scale chosen by measurement")]
PROJECT_FOLDER = "projects"


def notebook_path(stem: str) -> str:
    """Where the learner copy of a chapter or project lives, relative to the repository."""
    is_project = stem in {p.stem for p in PROJECTS}
    return f"notebooks/{PROJECT_FOLDER}/{stem}.ipynb" if is_project else f"notebooks/{stem}.ipynb"


def install_line() -> str:
    """The pip line the setup cell runs on Colab: the released tag, so a later commit can't break a learner."""
    return f'%pip install -q "dl101 @ git+https://github.com/{REPO}@{TAG}"'


def setup_cell() -> str:
    """The first code cell of every chapter."""
    return ("# Setup, the same in every chapter: install dl101 on Colab, pick the device, seed everything.\n"
            "import sys\n"
            "if \"google.colab\" in sys.modules:\n"
            f"    {install_line()}\n"
            "import dl101\n"
            "from dl101 import budget\n"
            "device = dl101.setup(seed=42)")


def instructor_copy(stem: str, root: Path = ROOT) -> Path:
    """The instructor copy (with answers) of a chapter or project: solutions/ mirrors notebooks/."""
    return root / "solutions" / notebook_path(stem).removeprefix("notebooks/")


def by_number() -> dict[str, Path]:
    """Every chapter's and project's instructor copy by its number ("01" … "10", "P")."""
    return {c.number: instructor_copy(c.stem) for c in [*CHAPTERS, *PROJECTS]}


def colab_url(stem: str) -> str:
    """Open-in-Colab link of a chapter notebook, as released."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{TAG}/{notebook_path(stem)}"


def binder_url(stem: str) -> str:
    """Binder link opening a chapter notebook in JupyterLab; Binder builds the released tag."""
    return f"https://mybinder.org/v2/gh/{REPO}/{TAG}?urlpath=lab/tree/{notebook_path(stem)}"


def nbgitpuller_url(stem: str, hub: str = HUB, repo: str = REPO, branch: str = BRANCH) -> str:
    """A JupyterHub link that clones (or updates) ``repo`` for the learner and opens one chapter."""
    folder = repo.split("/")[1]  # nbgitpuller clones into a folder named after the repository
    query = urlencode({"repo": f"https://github.com/{repo}", "branch": branch,
                       "urlpath": f"lab/tree/{folder}/{notebook_path(stem)}"}, quote_via=quote, safe="")
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def badges(stem: str) -> str:
    """Markdown badges (Colab, Binder) for one chapter."""
    return (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(stem)}) "
            f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(stem)})")


def _linked(c: Chapter) -> str:
    """A table row's cells for one notebook: its title linked, what it teaches, where to open it."""
    return (f"[{c.title}]({notebook_path(c.stem)}) | {c.learn} | "
            f"[Colab]({colab_url(c.stem)}) · [Binder]({binder_url(c.stem)})")


def readme_table() -> str:
    """The README's chapter table."""
    rows = ["| # | Chapter | What you learn | Open |", "|---|---|---|---|"]
    return "\n".join(rows + [f"| {c.number} | {_linked(c)} |" for c in CHAPTERS])


def project_table() -> str:
    """The README's table of projects."""
    rows = ["| Project | What you build | Open |", "|---|---|---|"]
    return "\n".join(rows + [f"| {_linked(p)} |" for p in PROJECTS])


def hub_table(hub: str = HUB, repo: str = REPO, branch: str = BRANCH) -> str:
    """The README's table of nbgitpuller links, one per chapter, for a JupyterHub at ``hub``."""
    rows = ["| # | Chapter | nbgitpuller link |", "|---|---|---|"]
    rows += [f"| {c.number} | {c.title} | {nbgitpuller_url(c.stem, hub, repo, branch)} |" for c in [*CHAPTERS, *PROJECTS]]
    return "\n".join(rows)


def hub_install_line() -> str:
    """What a JupyterHub's image installs, so every learner has the released dl101."""
    return f'pip install "dl101[diffusion] @ git+https://github.com/{REPO}@{TAG}"'


def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(path.read_text(encoding="utf-8"))


def binder_requirements(root: Path = ROOT) -> str:
    """``binder/requirements.txt``, derived from ``pyproject.toml``: CPU-only torch, dl101's dependencies
    and its diffusion extra, then this checkout (which is the released tag: the Binder links build it)."""
    project = _load_toml(root / "pyproject.toml")["project"]
    lines = ["# Generated by `python -m dl101.course` from pyproject.toml: edit that, not this file.",
             "# CPU-only torch keeps the image small (Binder has no GPU and 2 GB of RAM).",
             "--extra-index-url https://download.pytorch.org/whl/cpu",
             *project["dependencies"], *project["optional-dependencies"]["diffusion"],
             "-e ."]
    return "\n".join(lines) + "\n"


def _replace_between(text: str, start: str, end: str, body: str) -> str:
    pattern = re.compile(rf"({re.escape(start)}[^\n]*\n).*?({re.escape(end)})", re.S)
    if not pattern.search(text):
        raise ValueError(f"README.md has no section between {start!r} and {end!r}")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def readme_text(text: str) -> str:
    """``text`` (the README) with its generated sections rewritten from this module."""
    text = _replace_between(text, "<!-- chapter-table", "<!-- end chapter-table -->", readme_table())
    text = _replace_between(text, "<!-- project-table", "<!-- end project-table -->", project_table())
    hub = f"{hub_table()}\n\nInstall the release on the hub: `{hub_install_line()}`"
    return _replace_between(text, "<!-- hub-links", "<!-- end hub-links -->", hub)


def refresh_cells(stem: str, cells: list[dict]) -> list[dict]:
    """A chapter's cells with its badges and setup cell rewritten from this module."""
    title = cells[0]
    title["source"] = re.sub(r"\[!\[Open in Colab\].*?\(https://mybinder\.org/v2/[^)]*\)", lambda _: badges(stem),
                             "".join(title["source"]), count=1)
    setup = next(c for c in cells if c["cell_type"] == "code")
    setup["source"] = setup_cell()
    return cells


def regenerate(root: Path = ROOT) -> list[Path]:
    """Rewrite README, the instructor copies (solutions/), the learner copies generated from them
    (notebooks/) and binder/requirements.txt from this module; return the files changed."""
    import nbformat

    from dl101.student import write_student_copies

    changed = []

    def write(path: Path, new: str) -> None:
        if path.read_text(encoding="utf-8") != new:
            path.write_text(new, encoding="utf-8")
            changed.append(path)

    write(root / "README.md", readme_text((root / "README.md").read_text(encoding="utf-8")))
    write(root / "binder" / "requirements.txt", binder_requirements(root))
    for c in CHAPTERS:
        path = root / "solutions" / f"{c.stem}.ipynb"
        nb = nbformat.read(path, as_version=4)
        refresh_cells(c.stem, nb.cells)
        write(path, nbformat.writes(nb) + "\n")
    changed += write_student_copies(root / "solutions", root / "notebooks")
    for p in PROJECTS:
        path = root / "solutions" / PROJECT_FOLDER / f"{p.stem}.ipynb"
        nb = nbformat.read(path, as_version=4)
        refresh_cells(p.stem, nb.cells)
        write(path, nbformat.writes(nb) + "\n")
    changed += write_student_copies(root / "solutions" / PROJECT_FOLDER, root / "notebooks" / PROJECT_FOLDER)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the course's derived files, or print hub links for your own hub."""
    parser = argparse.ArgumentParser(prog="python -m dl101.course", description=__doc__.splitlines()[0])
    parser.add_argument("--hub", help="print nbgitpuller links for this JupyterHub (e.g. https://hub.example.edu)")
    parser.add_argument("--repo", default=REPO,
                        help="owner/name of the repository learners pull (default: %(default)s)")
    parser.add_argument("--branch", default=BRANCH, help="branch learners pull (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.hub:
        print(hub_table(args.hub, args.repo, args.branch))
        return 0
    changed = regenerate()
    for path in changed:
        print(f"rewrote {path.relative_to(ROOT)}")
    if not changed:
        print("README.md, solutions/, notebooks/ and binder/requirements.txt are in step with dl101/course.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The course's table of contents and links, kept in one place.

``python -m dl101.course`` prints the README's chapter table; a test keeps README and notebooks
in step with what is written here.
"""
from __future__ import annotations

from collections import namedtuple

REPO = "dl101-course/dl101"  # GitHub owner/name: change it here and rerun `python -m dl101.course`
BRANCH = "main"

Chapter = namedtuple("Chapter", ["number", "stem", "title", "learn"])
CHAPTERS = [
    Chapter("01", "01_linear_autoencoder_pca", "Linear autoencoder = PCA",
            "what an autoencoder is; why a linear one finds PCA's subspace, checked with principal angles"),
    Chapter("02", "02_stacked_autoencoder", "Stacked autoencoder",
            "deep autoencoders on Fashion-MNIST, anomaly detection (ROC AUC), t-SNE of codes, tied weights"),
    Chapter("03", "03_convolutional_autoencoder", "Convolutional autoencoder",
            "convolutions and transposed convolutions; why they suit images"),
    Chapter("04", "04_recurrent_autoencoder", "Recurrent autoencoder",
            "images as sequences of rows through LSTMs; where recurrent AEs make sense"),
    Chapter("05", "05_denoising_autoencoder", "Denoising autoencoder",
            "learning robust features by reconstructing clean images from dropout- or noise-corrupted ones"),
    Chapter("06", "06_sparse_autoencoder", "Sparse autoencoder",
            "a KL sparsity penalty, what single code units respond to"),
    Chapter("07", "07_variational_autoencoder", "Variational autoencoder",
            "the ELBO, the reparameterization trick, sampling and latent-space widgets"),
    Chapter("08", "08_discrete_vae", "Discrete VAE",
            "categorical codes with Gumbel-softmax, the straight-through estimator, temperature annealing"),
    Chapter("09", "09_gan_dcgan", "GANs and DCGAN",
            "the minimax game, training two networks, and how GAN training goes wrong"),
    Chapter("10", "10_diffusion", "Diffusion models",
            "DDPM and DDIM from scratch, checked against diffusers; Stable Diffusion's parts"),
]


def install_line() -> str:
    """The pip line the setup cell runs on Colab."""
    return f'%pip install -q "dl101 @ git+https://github.com/{REPO}@{BRANCH}"'


def setup_cell() -> str:
    """The first code cell of every chapter."""
    return ("# Setup, the same in every chapter: install dl101 on Colab, pick the device, seed everything.\n"
            "import sys\n"
            "if \"google.colab\" in sys.modules:\n"
            f"    {install_line()}\n"
            "import dl101\n"
            "from dl101 import budget\n"
            "device = dl101.setup(seed=42)")


def colab_url(stem: str) -> str:
    """Open-in-Colab link of a chapter notebook."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{stem}.ipynb"


def binder_url(stem: str) -> str:
    """Binder link opening a chapter notebook in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?urlpath=lab/tree/notebooks/{stem}.ipynb"


def badges(stem: str) -> str:
    """Markdown badges (Colab, Binder) for one chapter."""
    return (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(stem)}) "
            f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(stem)})")


def readme_table() -> str:
    """The README's chapter table."""
    rows = ["| # | Chapter | What you learn | Open |", "|---|---|---|---|"]
    for c in CHAPTERS:
        rows.append(f"| {c.number} | [{c.title}](notebooks/{c.stem}.ipynb) | {c.learn} | "
                    f"[Colab]({colab_url(c.stem)}) · [Binder]({binder_url(c.stem)}) |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(readme_table())

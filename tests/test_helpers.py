"""Small public helpers not exercised elsewhere."""
import json
from pathlib import Path

import numpy as np
import torch

import dl101
from dl101 import data, widgets


def test_show_source_prints_the_code_a_notebook_talks_about(capsys):
    from dl101.autoencoders import stacked_autoencoder

    dl101.show_source(stacked_autoencoder)
    assert "def stacked_autoencoder" in capsys.readouterr().out


def test_cache_dir_follows_dl101_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DL101_CACHE", str(tmp_path))
    assert data.cache_dir() == tmp_path


def test_png_bytes_are_an_enlarged_png():
    from PIL import Image
    import io

    png = widgets.png_bytes(np.zeros((28, 28)), scale=3)
    assert Image.open(io.BytesIO(png)).size == (84, 84)


def test_solution_cells_carry_nbgrader_metadata():
    root = Path(__file__).resolve().parents[1] / "solutions"
    for path in sorted(root.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] == "code" and "# BEGIN SOLUTION" in "".join(cell["source"]):
                assert cell["metadata"]["nbgrader"]["solution"] is True, path.name


def test_progress_bars_show_unless_hidden_by_argument_or_tqdm_disable(monkeypatch):
    import os
    import subprocess
    import sys

    from dl101.progress import progress

    assert progress(range(2), show=False).disable is True
    code = "from dl101.progress import progress; print(progress(range(2)).disable)"
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    hidden = subprocess.run([sys.executable, "-c", code], env=dict(env, TQDM_DISABLE="1"),
                            capture_output=True, text=True)
    assert shown.stdout.strip() == "False" and hidden.stdout.strip() == "True", shown.stderr + hidden.stderr


def test_eval_mode_gives_back_the_mode_of_every_submodule():
    from torch import nn

    from dl101.modes import eval_mode

    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train()
    model[1].eval()  # a part the learner had set to eval
    with eval_mode(model):
        assert not model.training and not model[0].training
    assert model.training and model[0].training and not model[1].training

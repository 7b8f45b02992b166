import pytest
import torch

from dl101.autoencoders import conv_autoencoder, stacked_autoencoder
from dl101.checkpoints import CheckpointError, load_model, save_model
from dl101.diffusion import DiffusionUNet


def test_a_saved_model_loads_back_with_identical_weights(tmp_path):
    torch.manual_seed(0)
    model = DiffusionUNet(T=50)
    path = save_model(model, tmp_path / "sub" / "unet.safetensors")
    torch.manual_seed(1)
    restored = load_model(DiffusionUNet(T=50), path)
    for (name, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_corrupt_checkpoint_gets_a_clear_error(tmp_path):
    path = save_model(stacked_autoencoder(), tmp_path / "ae.safetensors")
    path.write_bytes(path.read_bytes()[:100])  # truncated, e.g. by an interrupted download
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(stacked_autoencoder(), path)


def test_loading_into_another_architecture_says_what_differs(tmp_path):
    path = save_model(stacked_autoencoder(), tmp_path / "ae.safetensors")
    with pytest.raises(CheckpointError, match="different model"):
        load_model(conv_autoencoder(), path)
    with pytest.raises(CheckpointError, match="shape differs"):
        load_model(stacked_autoencoder(n_codings=16), path)


def test_a_missing_checkpoint_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="save_model"):
        load_model(stacked_autoencoder(), tmp_path / "nothing.safetensors")

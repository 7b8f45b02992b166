"""Save and load trained weights safely: safetensors files hold tensors only, never code."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded into the given model, with the reason."""


def save_model(model: nn.Module, path: str | Path) -> Path:
    """Write ``model``'s weights (and buffers) to a ``.safetensors`` file; returns the path."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(path))
    return path


def load_model(model: nn.Module, path: str | Path) -> nn.Module:
    """Load weights saved by ``save_model`` into ``model`` (on its device); explain any mismatch."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train the model first, then save_model(model, {str(path)!r})")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error}); it may be truncated or "
                              "corrupt: delete it and save the model again") from error
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = [k for k in set(own) & set(state) if own[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        details = "; ".join(part for part in (
            f"missing {missing[:3]}" if missing else "", f"unexpected {unexpected[:3]}" if unexpected else "",
            f"shape differs for {wrong[:3]}" if wrong else "") if part)
        raise CheckpointError(f"{path} was saved from a different model ({details}): build the model with the "
                              "same class and arguments as when it was saved")
    device = next(iter(own.values())).device if own else torch.device("cpu")
    model.load_state_dict({k: v.to(device) for k, v in state.items()})
    return model

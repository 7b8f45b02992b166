"""Input checks that tell a learner what was expected, what arrived, and what to do."""
from __future__ import annotations

import torch


def validate_images(x, channels: int = 1, size: int = 28, name: str = "images", model=None) -> None:
    """Raise a clear error unless ``x`` is a float tensor shaped (N, channels, size, size).

    Given the ``model`` that will read ``x``, also require its dtype and device.
    """
    want = f"(N, {channels}, {size}, {size})"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected {name} as a torch.Tensor shaped {want}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"expected float {name} in [0, 1], got dtype {x.dtype}: "
                        "convert with x.float() / 255")
    if model is not None:
        validate_like_model(x, model, name)
    if x.dim() == 4 and tuple(x.shape[1:]) == (channels, size, size):
        return
    hint = ""
    if tuple(x.shape) == (size, size):
        hint = ": add batch and channel dimensions with x[None, None]"
    elif tuple(x.shape) == (channels, size, size):
        hint = ": add a batch dimension with x[None]"
    elif x.dim() == 3 and tuple(x.shape[1:]) == (size, size):
        hint = ": add a channel dimension with x.unsqueeze(1)"
    elif x.dim() == 2 and x.shape[1] == channels * size * size:
        hint = f": reshape flat images with x.view(-1, {channels}, {size}, {size})"
    raise ValueError(f"expected {name} shaped {want}, got {tuple(x.shape)}{hint}")


def validate_codings(z, n_codings: int, name: str = "codings") -> None:
    """Raise a clear error unless ``z`` is a tensor shaped (N, n_codings), as a decoder expects."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"expected {name} as a torch.Tensor shaped (N, {n_codings}), got {type(z).__name__}")
    if z.dim() != 2 or z.shape[1] != n_codings:
        hint = ": add a batch dimension with z[None]" if tuple(z.shape) == (n_codings,) else ""
        raise ValueError(f"expected {name} shaped (N, {n_codings}), got {tuple(z.shape)}{hint}; this model "
                         f"was built with {n_codings} codings")


def validate_like_model(x: torch.Tensor, model, name: str = "inputs") -> None:
    """Raise a clear error unless ``x`` has the dtype and device of ``model``'s weights."""
    weight = next(model.parameters(), None)
    if weight is None:
        return
    if x.is_floating_point() and x.dtype != weight.dtype:
        raise TypeError(f"{name} are {x.dtype} but the model's weights are {weight.dtype}: convert the "
                        f"data with x.to({weight.dtype}) (x.float() for float32), or the model with model.to(dtype)")
    if x.device != weight.device:
        raise RuntimeError(f"{name} are on {x.device} but the model is on {weight.device}: move one to the "
                           "other, e.g. model.to(device) and data tensors created with device=device")

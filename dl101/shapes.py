"""Input checks that tell a learner what was expected, what arrived, and what to do."""
from __future__ import annotations

import torch


def check_images(x, channels: int = 1, size: int = 28, name: str = "images") -> None:
    """Raise a clear error unless ``x`` is a float tensor shaped (N, channels, size, size)."""
    want = f"(N, {channels}, {size}, {size})"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected {name} as a torch.Tensor shaped {want}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"expected float {name} in [0, 1], got dtype {x.dtype}: "
                        "convert with x.float() / 255")
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

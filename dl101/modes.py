"""Leave a caller's models as they were: switch to eval mode for a moment, then back."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode inside the block and restore every submodule's mode afterwards
    (a learner may have set one part, say the encoder, to eval inside a model in train mode)."""
    was_training = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for m, flag in was_training:
            m.training = flag

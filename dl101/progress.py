"""Progress bars for every long loop: tqdm's, hidden on request or with ``TQDM_DISABLE=1``."""
from __future__ import annotations

import os
from typing import Iterable

from tqdm.auto import tqdm


def progress(iterable: Iterable, show: bool = True, **kwargs) -> tqdm:
    """A transient tqdm bar over ``iterable``; ``show=False`` hides it.

    ``TQDM_DISABLE=1`` in the environment turns every bar off (full runs, logs): tqdm's console bar
    reads it, but its notebook bar does not, so it is checked here.
    """
    if not show or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes"):
        kwargs["disable"] = True
    return tqdm(iterable, leave=False, **kwargs)

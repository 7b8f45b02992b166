"""Progress bars for every long loop: tqdm's, hidden on request or with ``TQDM_DISABLE=1``."""
from __future__ import annotations

from typing import Iterable

from tqdm.auto import tqdm


def progress(iterable: Iterable, show: bool = True, **kwargs) -> tqdm:
    """A transient tqdm bar over ``iterable``; ``show=False`` hides it.

    ``disable`` is passed only to hide the bar, so that otherwise tqdm's own default applies and
    the environment variable ``TQDM_DISABLE=1`` turns every bar off (full runs, logs).
    """
    if not show:
        kwargs["disable"] = True
    return tqdm(iterable, leave=False, **kwargs)

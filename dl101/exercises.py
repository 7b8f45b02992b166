"""What every exercise checker shares: the ``Incorrect`` verdict, the ✔ message and tolerances.

The checkers themselves live in ``dl101.checks``; learner copies are written by ``dl101.student``.
"""
from __future__ import annotations


class Incorrect(AssertionError):
    """A checker's verdict that an answer is wrong, with a hint on what to look at."""

    def _render_traceback_(self) -> list[str]:
        # IPython and Jupyter show these lines instead of the traceback, so a learner reads the hint,
        # not the checker's own code (which would hold the reference computation).
        return [f"\x1b[0;31m✘ Not yet.\x1b[0m {self}"]


def correct(message: str) -> None:
    """Report a right answer."""
    print(f"✔ Correct! {message}")


def close_enough(got: float, want: float, rtol: float = 0.02, atol: float = 1e-8) -> bool:
    """Relative comparison used by the checkers."""
    return abs(got - want) <= atol + rtol * abs(want)


def require(condition: bool, message: str) -> None:
    """Raise ``Incorrect(message)`` unless ``condition`` holds."""
    if not condition:
        raise Incorrect(message)

"""What every exercise checker shares: the ``Incorrect`` verdict, the ✔ message and tolerances.

The checkers themselves live in ``dl101.checks``; student copies are written by ``dl101.student``.
"""
from __future__ import annotations


class Incorrect(AssertionError):
    """A checker's verdict that an answer is wrong, with a hint on what to look at."""


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

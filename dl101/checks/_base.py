"""What every checker shares: turning an answer into a number, a whole number or a tensor with a
clear message when it is the wrong kind of thing, a private random state, and concept questions."""
from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch

from dl101.exercises import Incorrect, correct, require


@contextmanager
def own_random_state(seed: int = 0) -> Iterator[None]:
    """Run a check with a fixed seed, then give the learner's random state back untouched (CPU and GPUs)."""
    gpus = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=gpus):
        torch.manual_seed(seed)
        yield


def _refuse_text(value, name: str) -> None:
    if isinstance(value, (str, bytes)):
        raise Incorrect(f"{name} should be a number, got the text {value!r}: remove the quotes")


def as_number(value, name: str) -> float:
    """The answer as a finite Python float (tensors of one element and NumPy scalars are fine)."""
    _refuse_text(value, name)
    if isinstance(value, torch.Tensor):
        require(value.numel() == 1, f"{name} should be one number, got a tensor shaped {tuple(value.shape)}")
        value = value.item()
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise Incorrect(f"{name} should be a number, got {type(value).__name__}") from None
    require(math.isfinite(value), f"{name} is {value}: check for a division by zero or log(0)")
    return value


def as_tensor(value, name: str, shape=None) -> torch.Tensor:
    """The answer as a float32 CPU tensor (float64 answers are fine), checked for shape and NaN."""
    require(isinstance(value, torch.Tensor), f"{name} should be a torch.Tensor, got {type(value).__name__}")
    if shape is not None:
        require(tuple(value.shape) == tuple(shape),
                f"{name} should be shaped {tuple(shape)}, got {tuple(value.shape)}")
    value = value.detach().cpu()
    if value.is_floating_point():
        value = value.float()
    require(bool(torch.isfinite(value).all()), f"{name} contains NaN or inf values")
    return value


def as_count(value, name: str) -> int:
    """A whole number: 12 and 12.0 pass, 12.5 or text get a clear message."""
    _refuse_text(value, name)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)  # exact, also beyond float precision (16 ** 32)
    number = as_number(value, name)
    require(number == int(number), f"{name} should be a whole number, got {number}")
    return int(number)


@dataclass(frozen=True)
class Choice:
    """A multiple-choice concept question: the right option and, for every option, why it is right or wrong."""

    right: str
    why: dict[str, str]


QUESTIONS: dict[str, Choice] = {}  # filled by each family's module: "07-q1" -> Choice


def check_choice(question: str, answer) -> None:
    """Check the option (a letter such as "b") picked for concept question ``question``."""
    q = QUESTIONS[question]
    options = ", ".join(f'"{k}"' for k in sorted(q.why))
    require(isinstance(answer, str), f"answer with one of the letters {options} (as text, in quotes), "
                                     f"got {type(answer).__name__}")
    picked = answer.strip().strip("()").lower()
    require(picked in q.why, f"{answer!r} is not an option: pick one of {options}")
    require(picked == q.right, q.why[picked])
    return correct(q.why[picked])

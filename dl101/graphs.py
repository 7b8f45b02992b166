"""Plumbing, not lesson: replay a whole training step as one CUDA graph.

Small models on a big GPU spend most of their time launching kernels from Python (tens of
microseconds each). A CUDA graph records the step's kernels once and replays them with a single
launch, so the GPU, not the host, sets the pace. On a CPU or Apple GPU the step just runs eagerly.
"""
from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from typing import Callable, Iterator

import torch


STALE_GRAPH = "AccumulateGrad node's stream does not match"
STALE_GRAPH_ADVICE = (
    "CUDA graphs are off for this training, which will be slower: a tensor from an earlier forward "
    "pass still holds its autograd graph. Run inspections under `with torch.no_grad():` (or del the "
    "tensor) before training to get the fast path back.")


def _map(fn: Callable, obj):
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # named tuples keep their type
        return type(obj)(*(_map(fn, o) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_map(fn, o) for o in obj)
    return obj


def leaves(obj) -> list[torch.Tensor]:
    """Every tensor inside ``obj`` (tensors, tuples, lists, named tuples), in order."""
    found: list[torch.Tensor] = []
    _map(found.append, obj)
    return found


def use_cuda_graphs(device: torch.device, requested: bool | None = None) -> bool:
    """Whether steps are replayed as CUDA graphs: only on CUDA; ``requested`` (True/False) decides,
    and when it is None, the environment does (``DL101_CUDA_GRAPHS=0`` turns them off)."""
    if torch.device(device).type != "cuda":
        return False
    if requested is not None:
        return bool(requested)
    return os.environ.get("DL101_CUDA_GRAPHS", "1") != "0"


def make_capturable(optimizer: torch.optim.Optimizer) -> list:
    """Switch an optimizer to its graph-safe mode, moving any existing state to the device.

    Returns each parameter group's previous ``capturable`` flag, for ``restore_capturable``.
    """
    previous = [group.get("capturable") for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        if "capturable" in group:
            group["capturable"] = True
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if isinstance(value, torch.Tensor) and value.device != p.device:
                    optimizer.state[p][key] = value.to(p.device)
    return previous


def restore_capturable(optimizer: torch.optim.Optimizer, previous: list) -> None:
    """Give each parameter group back the ``capturable`` flag ``make_capturable`` found."""
    for group, flag in zip(optimizer.param_groups, previous):
        if flag is not None:
            group["capturable"] = flag


@contextmanager
def fast_path(device: torch.device, requested: bool | None, *optimizers) -> Iterator[Callable]:
    """The one door to the fast path: yields ``graphed(step_fn)``, which returns a step to call.

    On CUDA (see ``use_cuda_graphs``) the step is a ``GraphedStep`` and ``optimizers`` are in their
    graph-safe mode inside the block; their flags are restored on leaving it (their state tensors
    stay on the device). Elsewhere the step runs eagerly and nothing is changed.
    """
    on = use_cuda_graphs(device, requested)
    previous = [make_capturable(o) for o in optimizers] if on else []
    try:
        yield lambda fn: GraphedStep(fn, enabled=on)
    finally:
        for optimizer, flags in zip(optimizers, previous):
            restore_capturable(optimizer, flags)


class GraphedStep:
    """Call ``fn`` eagerly for ``warmup`` calls, then capture it once and replay it.

    With ``enabled=False`` it simply calls ``fn`` (and ``reset`` does nothing), so a loop can be
    written once for both paths.

    The captured step sees Python values (learning rate, temperature) as they were at capture:
    call ``reset()`` after changing one, and the next call captures again. A call with other
    shapes than the captured ones (an epoch's last, smaller batch) runs eagerly. If capture fails the
    step falls back to eager execution with a warning, so training never stops because of it.
    """

    def __init__(self, fn: Callable, warmup: int = 3, enabled: bool = True):
        self.fn, self.warmup, self.calls = fn, warmup, 0
        self.graph = self.static_in = self.static_out = None
        self.failed = not enabled

    @property
    def replays(self) -> bool:
        """True while the step is (or will be) captured and replayed; False once it runs eagerly."""
        return not self.failed

    def reset(self) -> None:
        """Forget the captured graph; the next call captures a new one."""
        self.graph = self.static_in = self.static_out = None

    def _eager_on_side_stream(self, args):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with warnings.catch_warnings(record=True) as caught, torch.cuda.stream(side):
            warnings.simplefilter("always")
            out = self.fn(*args)
        torch.cuda.current_stream().wait_stream(side)
        for warning in caught:
            if STALE_GRAPH in str(warning.message):
                self.failed = True  # capturing now would fail and leave the CUDA RNG unusable
                warnings.warn(STALE_GRAPH_ADVICE, stacklevel=3)
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        return out

    def _capture(self, args) -> None:
        self.static_in = _map(torch.clone, args)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.static_out = self.fn(*self.static_in)
        self.graph = graph

    def _same_shapes(self, args) -> bool:
        new, old = leaves(args), leaves(self.static_in)
        return len(new) == len(old) and all(a.shape == b.shape for a, b in zip(new, old))

    def __call__(self, *args):
        if self.failed:
            return self.fn(*args)
        if self.calls < self.warmup:
            self.calls += 1
            return self._eager_on_side_stream(args)
        if self.graph is not None and not self._same_shapes(args):
            return self.fn(*args)  # e.g. the last, smaller batch of an epoch: run it eagerly
        if self.graph is None:
            try:
                self._capture(args)
            except Exception as error:  # an op that cannot be captured: keep training eagerly
                warnings.warn(f"CUDA graph capture failed ({error}); continuing without it. If random "
                              "ops then fail with 'Offset increment outside graph capture', restart the "
                              "kernel and set DL101_CUDA_GRAPHS=0.")
                self.failed = True
                self.reset()
                torch.cuda.synchronize()
                return self.fn(*args)
        for static, new in zip(leaves(self.static_in), leaves(args)):
            static.copy_(new)
        self.graph.replay()
        return self.static_out

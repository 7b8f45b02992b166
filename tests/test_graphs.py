"""The fast path's on/off logic and the PyTorch details it relies on, tested without a GPU."""
from pathlib import Path

import pytest
import torch
from torch import nn

from dl101 import graphs
from dl101.training import is_torch_loss


def test_cuda_graphs_are_used_only_on_cuda_and_can_be_turned_off(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.delenv("DL101_CUDA_GRAPHS", raising=False)
    assert graphs.use_cuda_graphs(cuda) is True
    assert graphs.use_cuda_graphs(cpu) is False
    assert graphs.use_cuda_graphs(cpu, requested=True) is False  # never on a CPU, even when asked
    assert graphs.use_cuda_graphs(cuda, requested=False) is False
    monkeypatch.setenv("DL101_CUDA_GRAPHS", "0")
    assert graphs.use_cuda_graphs(cuda) is False
    assert graphs.use_cuda_graphs(cuda, requested=True) is True  # an explicit argument wins


def test_the_fast_path_restores_the_optimizers_capturable_flag():
    model = nn.Linear(3, 1)
    optimizer = torch.optim.NAdam(model.parameters())
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    assert optimizer.param_groups[0]["capturable"] is False
    with graphs.fast_path(torch.device("cuda"), None, optimizer) as graphed:
        assert optimizer.param_groups[0]["capturable"] is True
        assert graphed(lambda: 1).replays is True
    assert optimizer.param_groups[0]["capturable"] is False
    with graphs.fast_path(torch.device("cpu"), None, optimizer) as graphed:
        assert optimizer.param_groups[0]["capturable"] is False
        step = graphed(lambda x: x + 1)
        assert step.replays is False
        step.reset()
        assert step(1) == 2  # eager: just calls the function


def test_make_capturable_moves_existing_optimizer_state_to_the_parameters_device():
    model = nn.Linear(3, 1)
    optimizer = torch.optim.NAdam(model.parameters())
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    previous = graphs.make_capturable(optimizer)
    assert previous == [False] and all(group["capturable"] for group in optimizer.param_groups)
    assert all(v.device == p.device for p in model.parameters() for v in optimizer.state[p].values()
               if isinstance(v, torch.Tensor))


def test_torch_losses_are_recognised_without_private_classes():
    for loss in (nn.MSELoss(), nn.HuberLoss(), nn.BCEWithLogitsLoss(), nn.L1Loss()):
        assert is_torch_loss(loss), type(loss)

    class Weighted(nn.MSELoss):  # a learner's subclass of a torch loss still counts
        pass

    assert is_torch_loss(Weighted())
    assert not is_torch_loss(lambda y_pred, y: 0) and not is_torch_loss(nn.Linear(1, 1))


def test_pytorch_still_emits_the_warning_text_the_stale_graph_check_looks_for():
    """GraphedStep recognises a stale autograd graph by this warning of PyTorch's autograd engine.
    If a PyTorch release rewords it, this test fails loudly instead of the check going silent."""
    lib = Path(torch.__file__).parent / "lib"
    candidates = sorted(lib.glob("libtorch_cpu.*")) + sorted(lib.glob("torch_cpu.*"))
    if not candidates:
        pytest.skip(f"no libtorch_cpu library in {lib} on this platform")
    needle = graphs.STALE_GRAPH.encode()
    with open(candidates[0], "rb") as f:
        found, tail = False, b""
        while chunk := f.read(1 << 24):
            if needle in tail + chunk:
                found = True
                break
            tail = chunk[-len(needle):]
    assert found, f"PyTorch {torch.__version__} no longer contains {graphs.STALE_GRAPH!r}"

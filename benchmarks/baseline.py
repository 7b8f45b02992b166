"""dl101 against a textbook baseline, side by side in one process on one device: time to reach each
chapter's bar in training, time to sample, and how far each is from the device's floor.

    python benchmarks/baseline.py                        # GPU: stacked + conv AE to their bar, UNet epochs, sampling
    python benchmarks/baseline.py --device cpu stacked   # this laptop-class CPU: the stacked autoencoder

The baseline is written the way most tutorials write it: a Dataset that turns each image into a tensor
with ``transforms.ToTensor()``, a ``DataLoader`` at batch 32, ``.to(device)`` and ``loss.item()`` every
batch, a constant learning rate; the same model, optimizer and learning rate as the chapter. Sampling
baselines are plain Python loops (``benchmarks/sampling.py``).

The floors say how fast one epoch could possibly be on this device: its FLOPs (counted by
``torch.utils.flop_counter``) at the device's measured matmul rate; the bytes it must move (weights,
gradients and optimizer state once per step, each layer's output written, read back and its gradient
written) at the measured copy bandwidth; and its kernel launches at the measured cost of one launch
(eager) or of one node of a replayed CUDA graph.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torchmetrics
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from dl101 import diffusion as D  # noqa: E402
from dl101.autoencoders import conv_autoencoder, stacked_autoencoder  # noqa: E402
from dl101.data import autoencoder_batches, fashion_mnist  # noqa: E402
from dl101.training import train  # noqa: E402

# name: (model builder, learning rate, epochs, bar on valid RMSE (the chapter's), chapter)
FAMILIES = {
    "stacked": (stacked_autoencoder, 0.01, 10, 0.120, "02"),
    "conv": (conv_autoencoder, 0.005, 10, 0.110, "03"),
}


class ImagesAsTutorialsLoadThem(torch.utils.data.Dataset):
    """uint8 images turned into tensors one at a time, as torchvision's FashionMNIST + ToTensor do."""

    def __init__(self, images: torch.Tensor):
        from torchvision import transforms

        self.images = (images.squeeze(1) * 255).round().byte().numpy()
        self.to_tensor = transforms.ToTensor()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image

        x = self.to_tensor(Image.fromarray(self.images[i], mode="L"))
        return x, x


def sync(device: torch.device) -> None:
    """Wait for the device, so that a wall time covers the work."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def textbook_train(model, lr, train_x, valid_x, bar, max_epochs, device) -> tuple[float | None, int, list[float]]:
    """The tutorial loop; returns (seconds to reach ``bar`` or None, epochs run, valid RMSE per epoch)."""
    loader = torch.utils.data.DataLoader(ImagesAsTutorialsLoadThem(train_x.cpu()), batch_size=32, shuffle=True)
    valid = torch.utils.data.DataLoader(ImagesAsTutorialsLoadThem(valid_x.cpu()), batch_size=32)
    optimizer, loss_fn = torch.optim.NAdam(model.parameters(), lr=lr), nn.MSELoss()
    start, curve = time.perf_counter(), []
    for epoch in range(max_epochs):
        model.train()
        running = 0.0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x).output, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()  # the per-batch sync most tutorials have, for a running average
        model.eval()
        with torch.no_grad():
            mse = sum(((model(x.to(device)).output - y.to(device)) ** 2).sum().item() for x, y in valid)
        curve.append((mse / valid_x.numel()) ** 0.5)
        if curve[-1] <= bar:
            return time.perf_counter() - start, epoch + 1, curve
    model.elapsed = time.perf_counter() - start  # for the "not reached in N epochs" line
    return None, max_epochs, curve


def dl101_train(model, lr, epochs, train_x, valid_x, bar) -> tuple[float | None, int, list[float]]:
    """The chapter's own call; returns (seconds to its first epoch at or below ``bar``, epoch, curve)."""
    history = train(model, torch.optim.NAdam(model.parameters(), lr=lr), nn.MSELoss(),
                    torchmetrics.MeanSquaredError(squared=False), autoencoder_batches(train_x, 32, shuffle=True),
                    autoencoder_batches(valid_x, 256), epochs, verbose=False)
    model.epoch_seconds = sum(history["seconds"][1:]) / max(len(history["seconds"]) - 1, 1)  # after capture
    elapsed = 0.0
    for epoch, (seconds, rmse) in enumerate(zip(history["seconds"], history["valid_metric"])):
        elapsed += seconds
        if rmse <= bar:
            return elapsed, epoch + 1, history["valid_metric"]
    return None, epochs, history["valid_metric"]


# Floors ---------------------------------------------------------------------------------------------
def device_rates(device: torch.device) -> dict[str, float]:
    """Measured: matmul FLOP/s (float32 as the models run), copy bytes/s, seconds per launch and per graph node."""
    n = 4096 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    rates = {"flops": 2 * n ** 3 / best_time(lambda: a @ b, device)}
    big = torch.empty(64 * 2 ** 20 if device.type == "cuda" else 8 * 2 ** 20, device=device)
    rates["bytes"] = 2 * big.numel() * 4 / best_time(lambda: big.clone(), device)  # read + write
    tiny = torch.zeros(1, device=device)
    rates["launch"] = best_time(lambda: [tiny.add_(1) for _ in range(1000)], device) / 1000
    if device.type == "cuda":
        graph, stream = torch.cuda.CUDAGraph(), torch.cuda.Stream()
        with torch.cuda.stream(stream):
            tiny.add_(1)
        torch.cuda.current_stream().wait_stream(stream)
        with torch.cuda.graph(graph):
            for _ in range(1000):
                tiny.add_(1)
        rates["node"] = best_time(graph.replay, device) / 1000
    return rates


def best_time(fn, device: torch.device, repeats: int = 5) -> float:
    """Best wall time of ``repeats`` calls after a warm-up."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def step_costs(model: nn.Module, batch, loss_fn, device: torch.device) -> dict[str, float]:
    """FLOPs, bytes and kernel launches of one training step (forward, backward, NAdam update)."""
    from torch.utils.flop_counter import FlopCounterMode

    outputs = []
    hooks = [m.register_forward_hook(lambda m, i, o: outputs.append(o.numel() if torch.is_tensor(o) else 0))
             for m in model.modules() if not list(m.children())]
    optimizer = torch.optim.NAdam(model.parameters(), lr=1e-4)
    step = lambda: (optimizer.zero_grad(), loss_fn(model, batch).backward(), optimizer.step())  # noqa: E731
    step()
    outputs.clear()
    with FlopCounterMode(display=False) as counter:
        step()
    for hook in hooks:
        hook.remove()
    n_params = sum(p.numel() for p in model.parameters())
    # weights read twice, gradient written, NAdam reads weight, grad, two moments and writes three back
    moved = 4 * (10 * n_params + 3 * sum(outputs))
    kernels = 0
    if device.type == "cuda":
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            step()
            sync(device)
        kernels = sum(1 for e in prof.events() if e.device_type.name == "CUDA")
    return {"flops": counter.get_total_flops(), "bytes": moved, "kernels": kernels}


def floor_row(name: str, model, batch, loss_fn, steps: int, epoch_seconds: float, rates, device) -> str:
    """One line of the floors table: each floor of one epoch and measured / the largest floor."""
    costs = step_costs(model, batch, loss_fn, device)
    floors = {"FLOPs": costs["flops"] * steps / rates["flops"], "bytes": costs["bytes"] * steps / rates["bytes"]}
    if device.type == "cuda":
        floors["launches (graph)"] = costs["kernels"] * steps * rates["node"]
    top = max(floors.values())
    parts = " | ".join(f"{v:.2f} s" for v in floors.values())
    return (f"| {name} | {costs['flops'] / 1e9:.3f} GFLOP, {costs['bytes'] / 1e6:.1f} MB, {costs['kernels']} kernels "
            f"| {parts} | {epoch_seconds:.2f} s | {epoch_seconds / top:.1f}× |")


def ae_loss(model, batch):
    return nn.functional.mse_loss(model(batch).output, batch)


def unet_loss(model, batch):
    sample, eps = batch
    return nn.functional.huber_loss(model(sample), eps)


# Main -------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run the chosen comparisons and print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", default=["stacked", "conv", "unet", "sampling"],
                        help="any of: stacked conv unet sampling (default: all)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--n-train", type=int, default=55_000, help="training images (default: the chapters' 55,000)")
    parser.add_argument("--unet-epochs", type=int, default=1, help="UNet epochs timed on each side (default 1)")
    parser.add_argument("--baseline-epochs", type=int, default=None,
                        help="epochs the baseline may take to reach the bar (default: as many as dl101's)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{name} | torch {torch.__version__} | {time.strftime('%Y-%m-%d')}", flush=True)
    fashion = fashion_mnist(n_train=args.n_train, device=device)
    rates = device_rates(device)
    print("measured rates: " + ", ".join(f"{k} {v:.3g}" for k, v in rates.items()), flush=True)
    floors = []
    print("\n| model | baseline: time to bar (epochs) | dl101: time to bar (epochs) | ratio |\n|---|---|---|---|")
    for family in [f for f in args.families if f in FAMILIES]:
        build, lr, epochs, bar, chapter = FAMILIES[family]
        torch.manual_seed(42)
        base_model = build().to(device)
        base = textbook_train(base_model, lr, fashion.train_x, fashion.valid_x, bar,
                              args.baseline_epochs or epochs, device)
        torch.manual_seed(42)
        model = build().to(device)
        ours = dl101_train(model, lr, epochs, fashion.train_x, fashion.valid_x, bar)
        cell = lambda r: f"{r[0]:.1f} s ({r[1]})" if r[0] else f"not in {r[1]} epochs (best {min(r[2]):.4f})"  # noqa: E731
        if base[0] and ours[0]:
            ratio = f"{base[0] / ours[0]:.1f}×"
        elif ours[0]:  # the baseline never got there: at least its whole run's time
            ratio = f"> {base_model.elapsed / ours[0]:.1f}× ({base_model.elapsed:.0f} s, bar not reached)"
        else:
            ratio = "—"
        print(f"| ch{chapter} {family} AE, bar {bar} | {cell(base)} | {cell(ours)} | {ratio} |", flush=True)
        floors.append(floor_row(f"ch{chapter} {family} AE", model.train(), fashion.train_x[:32], ae_loss,
                                len(fashion.train_x) // 32, model.epoch_seconds, rates, device))
    if "unet" in args.families:
        floors.append(unet_comparison(fashion, device, args.unet_epochs, rates))
    print(f"\nFloors of one epoch ({len(fashion.train_x):,} images, batch 32; dl101 epoch = mean after the first):\n\n| model | one step | FLOP floor | byte floor"
          + (" | launch floor (graph)" if device.type == "cuda" else "") + " | dl101 epoch | measured / floor |")
    print("|---|---|---|---|" + ("---|" if device.type == "cuda" else "") + "---|---|")
    print("\n".join(floors), flush=True)
    if "sampling" in args.families and device.type == "cuda":
        sys.argv = sys.argv[:1]
        import sampling
        print()
        sampling.main()
    return 0


def unet_comparison(fashion, device, epochs: int, rates) -> str:
    """Chapter 10's UNet: seconds per epoch, textbook loop against train(); returns its floors row."""
    schedule = D.cosine_schedule(4000)
    images = D.to_model_range(fashion.train_x)
    torch.manual_seed(42)
    model = D.DiffusionUNet(T=4000).to(device)
    optimizer = torch.optim.NAdam(model.parameters(), lr=3e-3)
    alpha_bar = schedule.alpha_bar.to(device)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images.cpu()), batch_size=32, shuffle=True)
    sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        for (x0,) in loader:
            x0 = x0.to(device)
            t = torch.randint(1, 4001, (len(x0),), device=device)
            eps = torch.randn_like(x0)
            xt, _ = D.forward_diffusion(x0, t, alpha_bar, eps)
            loss = nn.functional.huber_loss(model(D.DiffusionSample(xt, t)), eps)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
    sync(device)
    base = (time.perf_counter() - start) / epochs
    torch.manual_seed(42)
    model = D.DiffusionUNet(T=4000).to(device)
    history = train(model, torch.optim.NAdam(model.parameters(), lr=3e-3), nn.HuberLoss(),
                    torchmetrics.MeanSquaredError(squared=False), D.diffusion_batches(images, schedule),
                    None, epochs + 1, verbose=False)
    ours = history["seconds"][-1]  # the last epoch: the first one includes capturing the graph
    print(f"| ch10 diffusion UNet, one epoch | {base:.1f} s | {ours:.1f} s (epoch after the first) "
          f"| {base / ours:.1f}× |", flush=True)
    x0 = images[:32]
    t = torch.randint(1, 4001, (32,), device=device)
    eps = torch.randn_like(x0)
    batch = (D.DiffusionSample(D.forward_diffusion(x0, t, alpha_bar, eps)[0], t), eps)
    return floor_row("ch10 diffusion UNet", model.train(), batch, unet_loss, len(images) // 32, ours, rates, device)


if __name__ == "__main__":
    sys.exit(main())

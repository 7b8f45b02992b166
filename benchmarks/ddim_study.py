"""Which DDIM settings give good samples from chapter 10's model? Trains (or loads) the UNet with the
chapter's full settings, then samples 64 images per setting from the same start noise.

    python benchmarks/ddim_study.py OUT_DIR [unet.safetensors]
"""
import sys
import time
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torchmetrics  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from torch import nn  # noqa: E402

from dl101 import diffusion as D  # noqa: E402
from dl101.data import fashion_mnist  # noqa: E402
from dl101.gan import sample_diversity  # noqa: E402
from dl101.training import train  # noqa: E402

out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
device = torch.device("cuda")
schedule = D.cosine_schedule(4000)
fashion = fashion_mnist(device=device)
torch.manual_seed(42)
model = D.DiffusionUNet(T=4000).to(device)
if len(sys.argv) > 2:
    model.load_state_dict(load_file(sys.argv[2]))
else:
    train(model, torch.optim.NAdam(model.parameters(), lr=3e-3), nn.HuberLoss(),
          torchmetrics.MeanSquaredError(squared=False), D.diffusion_batches(fashion.train_x, schedule),
          D.fixed_diffusion_batches(fashion.valid_x, schedule), 20)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "unet.safetensors"))

real = D.to_model_range(fashion.valid_x[:64])
print(f"real: mean {real.mean():.3f}  diversity {sample_diversity((real + 1) / 2):.3f}")
settings = [("ddpm", None, None, None)] + [
    ("ddim", steps, eta, clip) for steps, eta in ((500, 0.85), (500, 0.0), (50, 0.0), (50, 1.0), (10, 0.0))
    for clip in (True, False)]
fig, axes = plt.subplots(3, 4, figsize=(16, 12))
for ax, (kind, steps, eta, clip) in zip(axes.flat, settings):
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    start = time.perf_counter()
    if kind == "ddpm":
        x = D.ddpm_sample(model, schedule, n=64, generator=g, progress=False)
        name = "DDPM 4000"
    else:
        x = D.ddim_sample(model, schedule, n=64, n_steps=steps, eta=eta, generator=g, progress=False, clip_x0=clip)
        name = f"DDIM {steps} η={eta} clip={clip}"
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    blank = ((x + 1) / 2).flatten(1).mean(1).lt(0.02).float().mean().item()
    print(f"{name:28s} {seconds:5.1f} s  mean {x.mean():.3f}  diversity {sample_diversity((x + 1) / 2):.3f}  "
          f"blank {blank:.0%}  saturated {(x.abs() > 0.99).float().mean():.0%}", flush=True)
    grid = x[:16].cpu().view(4, 4, 28, 28).permute(0, 2, 1, 3).reshape(112, 112)
    ax.imshow((grid + 1) / 2, cmap="binary", vmin=0, vmax=1)
    ax.set_title(name, fontsize=10)
    ax.axis("off")
fig.savefig(out / "ddim_study.png", dpi=80, bbox_inches="tight")

"""The capstone's tiny Stable Diffusion under a few settings: VAE β, UNet epochs; per guidance scale the
class accuracy of each prompt (the course's judge), diversity and Fréchet distance; sampling time.

    python benchmarks/latent_study.py OUT [--beta 1e-3 ...] [--epochs 40 ...] [--vae-epochs 10]

Writes OUT/study.json and each setting's weights (OUT/<setting>/vae.safetensors, unet.safetensors).
"""
from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

from dl101 import latent as L
from dl101 import pretrained
from dl101.data import autoencoder_batches, fashion_mnist
from dl101.diffusion import scaled_linear_schedule
from dl101.gan import sample_diversity
from dl101.metrics import RMSE
from dl101.quality import class_histogram, frechet_distance
from dl101.classifier import predict
from dl101.runtime import pick_device
from dl101.training import evaluate, train

SCALES = [0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_vae(fashion, beta, epochs, device):
    torch.manual_seed(0)
    vae = L.LatentVAE().to(device)
    opt = torch.optim.Adam(vae.parameters(), lr=2e-3)
    start = time.perf_counter()
    history = train(vae, opt, partial(L.latent_vae_loss, kl_weight=beta), RMSE(),
                    autoencoder_batches(fashion.train_x, 128, shuffle=True),
                    autoencoder_batches(fashion.valid_x, 1000), n_epochs=epochs, verbose=False)
    sync(device)
    return vae, history, time.perf_counter() - start


def train_unet(latents, labels, valid_latents, valid_labels, schedule, epochs, device, lr=1e-3, batch=256):
    torch.manual_seed(0)
    unet = L.LatentUNet(T=schedule.T).to(device)
    opt = torch.optim.Adam(unet.parameters(), lr=lr)
    start = time.perf_counter()
    history = train(unet, opt, F.mse_loss, RMSE(), L.latent_batches(latents, labels, schedule, batch),
                    L.fixed_latent_batches(valid_latents, valid_labels, schedule), n_epochs=epochs, verbose=False)
    sync(device)
    return unet, history, time.perf_counter() - start


def score(pipe, fashion, judge, scale, n_per_class, n_steps, seed=0):
    labels = torch.arange(10).repeat_interleave(n_per_class)
    g = torch.Generator().manual_seed(seed)
    latents = L.guided_ddim_sample(pipe.unet, pipe.schedule, labels, scale, n_steps, g, progress=False)
    images = pipe.vae.decode(latents / pipe.vae.scaling_factor).clamp(0, 1)
    pred = predict(judge, images).cpu()
    acc = [(pred[labels == c] == c).float().mean().item() for c in range(10)]
    div = [sample_diversity(images[labels.to(images.device) == c]) for c in range(10)]
    fd = frechet_distance(fashion.test_x, images, judge)
    return {"accuracy": acc, "min_accuracy": min(acc), "diversity": div, "fd": fd,
            "counts": class_histogram(images, judge).tolist()}


def timing(pipe, n=64, n_steps=25, scale=3.0, repeats=5):
    device = next(pipe.unet.parameters()).device
    out = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        pipe(["sneaker"] * n, guidance_scale=scale, n_steps=n_steps)
        sync(device)
        out.append(time.perf_counter() - start)
    return min(out[1:]) if len(out) > 1 else out[0], out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--beta", type=float, nargs="+", default=[1e-3])
    p.add_argument("--epochs", type=int, nargs="+", default=[40])
    p.add_argument("--vae-epochs", type=int, default=10)
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--n-train", type=int, default=55_000)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    device = pick_device()
    fashion = fashion_mnist(n_train=args.n_train, device=device)
    judge = pretrained.load("classifier", device)
    schedule = scaled_linear_schedule(1000)
    results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
               "real_diversity": [sample_diversity(fashion.test_x[fashion.test_y == c][:args.per_class])
                                  for c in range(10)],
               "real_fd": frechet_distance(fashion.test_x, fashion.valid_x[:1000], judge), "runs": {}}
    print("real diversity", [round(d, 3) for d in results["real_diversity"]], flush=True)
    from safetensors.torch import save_file
    for beta in args.beta:
        vae, vh, vsec = train_vae(fashion, beta, args.vae_epochs, device)
        mean, logvar = vae.encode(fashion.valid_x[:1000])
        recon = vae.decode(mean).clamp(0, 1)
        recon_acc = (predict(judge, recon).cpu() == fashion.valid_y[:1000].cpu()).float().mean().item()
        latents = L.encode_dataset(vae, fashion.train_x)
        scale = L.latent_scale(latents)
        vlat = L.encode_dataset(vae, fashion.valid_x) * scale
        print(f"beta {beta}: VAE {vsec:.1f} s valid RMSE {vh['valid_metric'][-1]:.4f}, judge on recon "
              f"{recon_acc:.3f}, scale {scale:.3f}, posterior std {logvar.mul(0.5).exp().mean():.3f}", flush=True)
        for epochs in args.epochs:
            unet, uh, usec = train_unet(latents * scale, fashion.train_y, vlat, fashion.valid_y, schedule, epochs,
                                        device)
            vae.scaling_factor.fill_(scale)
            pipe = L.TinyStableDiffusion(vae, unet, schedule)
            name = f"beta{beta:g}-e{epochs}"
            t64, all_t = timing(pipe, n_steps=args.steps)
            run = {"vae_seconds": vsec, "vae_valid_rmse": vh["valid_metric"][-1], "recon_accuracy": recon_acc,
                   "scale": scale, "unet_seconds": usec, "unet_valid": uh["valid_metric"],
                   "seconds_64": t64, "seconds_64_all": all_t, "scales": {}}
            for s in SCALES:
                r = score(pipe, fashion, judge, s, args.per_class, args.steps)
                run["scales"][str(s)] = r
                print(f"  {name} s={s}: min acc {r['min_accuracy']:.3f} acc {[round(a, 2) for a in r['accuracy']]} "
                      f"div {sum(r['diversity']) / 10:.3f} fd {r['fd']:.1f}", flush=True)
            for n_steps in (10, 50):
                r = score(pipe, fashion, judge, 3.0, args.per_class, n_steps)
                run[f"steps{n_steps}_s3"] = r
                print(f"  {name} steps={n_steps} s=3: min acc {r['min_accuracy']:.3f} fd {r['fd']:.1f}", flush=True)
            print(f"  {name}: UNet {usec:.1f} s, valid ε-RMSE {uh['valid_metric'][-1]:.4f}, 64 images {t64:.3f} s",
                  flush=True)
            results["runs"][name] = run
            (args.out / name).mkdir(exist_ok=True)
            for part, model in (("vae", vae), ("unet", unet)):
                save_file({k: v.detach().half().cpu().contiguous() for k, v in model.state_dict().items()},
                          str(args.out / name / f"{part}.safetensors"))
            (args.out / "study.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Which remedies make the original lesson's DCGAN draw every class? (Chapter 09's DCGAN is g1-d1.)
Each variant is trained as the chapter trains it (20 epochs, batch 32, seed as given) and scored with the course's classifier: the class histogram of
1,000 samples and the Fréchet distance to 10,000 test images.

    python benchmarks/dcgan_coverage.py classifier OUT            # train the classifier once (GPU: seconds)
    python benchmarks/dcgan_coverage.py run OUT VARIANT SEED      # one variant; several can run at once
    python benchmarks/dcgan_coverage.py table OUT                 # the results as a markdown table
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from dl101 import gan  # noqa: E402
from dl101.classifier import FashionClassifier, train_classifier  # noqa: E402
from dl101.data import Batches, fashion_mnist  # noqa: E402
from dl101.quality import class_histogram, frechet_distance  # noqa: E402

# name: (g_lr, d_lr, betas, real label for D)
CHAPTER, PAPER = (1e-3, 5e-4, (0.9, 0.999), 1.0), (2e-4, 2e-4, (0.5, 0.999), 1.0)
VARIANTS = {
    "chapter": (1e-3, 5e-4, (0.9, 0.999), 1.0),
    "smoothing": (1e-3, 5e-4, (0.9, 0.999), 0.9),
    "beta1-0.5": (1e-3, 5e-4, (0.5, 0.999), 1.0),
    "dcgan-paper": (2e-4, 2e-4, (0.5, 0.999), 1.0),
    "dcgan-paper+smoothing": (2e-4, 2e-4, (0.5, 0.999), 0.9),
    "mlp-gan": None,
}


class MinibatchStd(torch.nn.Module):
    """Append one channel holding the batch's mean standard deviation (ProGAN): D can see a batch
    with too little variety, so a generator that drops a class is caught."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = x.std(0, unbiased=False).mean().expand(x.size(0), 1, *x.shape[2:])
        return torch.cat([x, std], 1)


def generator(kind: str) -> gan.Generator:
    """g0: the original lesson's; g1: ReLU after the first batch norm too; g2: g1 wider, 4×4 kernels."""
    nn = torch.nn
    if kind == "g0":
        return gan.original_dcgan_generator(100)
    width, k, pad, outpad = (128, 3, 1, 1) if kind == "g1" else (256, 4, 1, 0)
    return gan.Generator(
        100, nn.Linear(100, width * 7 * 7), nn.Unflatten(1, (width, 7, 7)), nn.BatchNorm2d(width), nn.ReLU(),
        nn.ConvTranspose2d(width, width // 2, k, stride=2, padding=pad, output_padding=outpad),
        nn.BatchNorm2d(width // 2), nn.ReLU(),
        nn.ConvTranspose2d(width // 2, 1, k, stride=2, padding=pad, output_padding=outpad), nn.Sigmoid())


def discriminator(kind: str) -> gan.Discriminator:
    """d0: the original lesson's; d1: LeakyReLU(0.2); d2: d1 + minibatch std; d3: d1 with spectral norm, no dropout."""
    nn, sn = torch.nn, torch.nn.utils.parametrizations.spectral_norm
    if kind == "d0":
        return gan.original_dcgan_discriminator()
    wrap = sn if kind == "d3" else (lambda m: m)
    drop = (lambda: nn.Identity()) if kind == "d3" else (lambda: nn.Dropout(0.4))
    layers = [wrap(nn.Conv2d(1, 32, 5, stride=2, padding=2)), nn.LeakyReLU(0.2), drop(),
              wrap(nn.Conv2d(32, 64, 5, stride=2, padding=2)), nn.LeakyReLU(0.2), drop()]
    extra = 1 if kind == "d2" else 0
    if extra:
        layers.append(MinibatchStd())
    return gan.Discriminator(*layers, nn.Flatten(), wrap(nn.Linear((64 + extra) * 7 * 7, 1)))


# name: (generator, discriminator, optimizer settings, epochs)
ARCH = {
    "g1-d0": ("g1", "d0", CHAPTER, 20), "g1-d1": ("g1", "d1", CHAPTER, 20), "g1-d2": ("g1", "d2", CHAPTER, 20),
    "g1-d1-paper": ("g1", "d1", PAPER, 20), "g1-d2-paper": ("g1", "d2", PAPER, 20),
    "g0-d2": ("g0", "d2", CHAPTER, 20), "g0-d1": ("g0", "d1", CHAPTER, 20), "g2-d1-paper": ("g2", "d1", PAPER, 20),
    "g2-d2-paper": ("g2", "d2", PAPER, 20), "g1-d3-paper": ("g1", "d3", PAPER, 20),
    "g1-d1-40": ("g1", "d1", CHAPTER, 40), "g0-d0-40": ("g0", "d0", CHAPTER, 40),
}


def smoothed_step(real_label: float):
    """Chapter 09's D step with the real images' target at ``real_label`` (one-sided label smoothing)."""
    bce = torch.nn.BCEWithLogitsLoss()

    def step(generator, discriminator, d_optimizer, real, codings_dim):
        d_optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake = generator(torch.randn(len(real), codings_dim, device=real.device))
        real_logits, fake_logits = discriminator(real), discriminator(fake)
        loss = bce(real_logits, torch.full_like(real_logits, real_label)) + bce(fake_logits, torch.zeros_like(fake_logits))
        loss.backward()
        d_optimizer.step()
        return loss.detach()
    return step


def run(out: Path, variant: str, seed: int) -> None:
    """Train one variant and write its scores to OUT/VARIANT-SEED.json."""
    fashion = fashion_mnist(device="cuda")
    classifier = FashionClassifier().cuda()
    classifier.load_state_dict(torch.load(out / "classifier.pt", weights_only=True))
    batches = Batches(fashion.train_x, batch_size=32, shuffle=True)
    torch.manual_seed(seed)
    epochs = 20
    if variant in ARCH:
        g_kind, d_kind, (g_lr, d_lr, betas, _), epochs = ARCH[variant]
        G, D, dim = generator(g_kind).cuda(), discriminator(d_kind).cuda(), 100
        kwargs = dict(g_lr=g_lr, d_lr=d_lr, betas=betas)
    elif VARIANTS[variant] is None:
        G, D, dim, kwargs = gan.mlp_generator(codings_dim=32).cuda(), gan.mlp_discriminator().cuda(), 32, {}
    else:
        g_lr, d_lr, betas, real_label = VARIANTS[variant]
        G, D, dim = gan.original_dcgan_generator(100).cuda(), gan.original_dcgan_discriminator().cuda(), 100
        kwargs = dict(g_lr=g_lr, d_lr=d_lr, betas=betas,
                      d_step_fn=smoothed_step(real_label) if real_label != 1.0 else None)
    history = gan.train_gan(G, D, batches, codings_dim=dim, n_epochs=epochs, verbose=False, **kwargs)
    samples = gan.generate(G, torch.randn(1000, dim, generator=torch.Generator().manual_seed(123)).cuda())
    counts = class_histogram(samples, classifier).tolist()
    fd = frechet_distance(fashion.test_x, samples, classifier)
    result = {"variant": variant, "seed": seed, "counts": counts, "fd": fd, "seconds": sum(history["seconds"]),
              "d_loss": history["d_loss"][-1], "g_loss": history["g_loss"][-1]}
    (out / f"{variant}-{seed}.json").write_text(json.dumps(result))
    print(result, flush=True)


def table(out: Path) -> None:
    """Print every result: the smallest and largest class share and the Fréchet distance."""
    print("| variant | seed | smallest class | largest class | classes under 3% | Fréchet distance | train s |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted(out.glob("*-*.json")):
        r = json.loads(path.read_text())
        shares = [c / sum(r["counts"]) for c in r["counts"]]
        print(f"| {r['variant']} | {r['seed']} | {min(shares):.1%} | {max(shares):.1%} | "
              f"{sum(s < 0.03 for s in shares)} | {r['fd']:.1f} | {r['seconds']:.0f} |")


def main(argv: list[str]) -> int:
    """Dispatch ``classifier``, ``run`` or ``table``."""
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if argv[0] == "classifier":
        from dl101.classifier import accuracy
        fashion = fashion_mnist(device="cuda")
        torch.manual_seed(0)
        model, _ = train_classifier(fashion, n_epochs=10, device="cuda")
        print(f"test accuracy {accuracy(model, fashion.test_x, fashion.test_y):.4f}")
        torch.save(model.state_dict(), out / "classifier.pt")
    elif argv[0] == "run":
        run(out, argv[2], int(argv[3]))
    else:
        table(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Which remedies make chapter 09's DCGAN draw every class? Each variant is trained as the chapter trains
it (20 epochs, batch 32, seed as given) and scored with the course's classifier: the class histogram of
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
VARIANTS = {
    "chapter": (1e-3, 5e-4, (0.9, 0.999), 1.0),
    "smoothing": (1e-3, 5e-4, (0.9, 0.999), 0.9),
    "beta1-0.5": (1e-3, 5e-4, (0.5, 0.999), 1.0),
    "dcgan-paper": (2e-4, 2e-4, (0.5, 0.999), 1.0),
    "dcgan-paper+smoothing": (2e-4, 2e-4, (0.5, 0.999), 0.9),
    "mlp-gan": None,
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
    if VARIANTS[variant] is None:
        G, D, dim, kwargs = gan.mlp_generator(codings_dim=32).cuda(), gan.mlp_discriminator().cuda(), 32, {}
    else:
        g_lr, d_lr, betas, real_label = VARIANTS[variant]
        G, D, dim = gan.dcgan_generator(100).cuda(), gan.dcgan_discriminator().cuda(), 100
        kwargs = dict(g_lr=g_lr, d_lr=d_lr, betas=betas,
                      d_step_fn=smoothed_step(real_label) if real_label != 1.0 else None)
    history = gan.train_gan(G, D, batches, codings_dim=dim, n_epochs=20, verbose=False, **kwargs)
    samples = gan.generate(G, torch.randn(1000, dim, generator=torch.Generator().manual_seed(123)).cuda())
    counts = class_histogram(samples, classifier).tolist()
    fd = frechet_distance(fashion.test_x, samples, classifier)
    result = {"variant": variant, "seed": seed, "counts": counts, "fd": fd, "seconds": sum(history["seconds"])}
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
        model, _ = train_classifier(fashion, n_epochs=8, device="cuda")
        print(f"test accuracy {accuracy(model, fashion.test_x, fashion.test_y):.4f}")
        torch.save(model.state_dict(), out / "classifier.pt")
    elif argv[0] == "run":
        run(out, argv[2], int(argv[3]))
    else:
        table(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

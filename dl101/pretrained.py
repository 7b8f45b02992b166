"""Train it yourself, or load the pretrained model: weights from a full run on a GPU ship inside dl101.

In a chapter::

    TRAIN = pretrained.should_train("03-conv")     # prints the expected training time here, and the choice
    history = train(conv_ae, ...) if TRAIN else None
    history = pretrained.finish(conv_ae, "03-conv", history)

``should_train`` says yes where training takes about 5 minutes or less on this device, and in the
smoke setting, where a short run checks the code and ``finish`` then loads the full run's weights so
that the figures are real. Set ``DL101_TRAIN=1`` (``%env DL101_TRAIN=1`` in a notebook) to always train, ``DL101_TRAIN=0``
to always load. ``load("03-conv")`` builds a model and loads its weights in one call.

Each file's sha256 is in ``weights/manifest.json`` with the command that produced it, and is checked
before loading: a truncated, altered or swapped file is refused with a message.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from dl101.runtime import is_smoke

WEIGHTS = Path(__file__).resolve().parent / "weights"
MANIFEST = WEIGHTS / "manifest.json"
SAVE_VARIABLE = "DL101_SAVE_WEIGHTS"  # maintainers: a full run writes each trained model into this folder
TRAIN_VARIABLE = "DL101_TRAIN"
MEASURE_VARIABLE = "DL101_MEASURE"
SAVED_ATTRIBUTES = ("temperature",)  # plain floats a training run changes and a loaded model needs
TRAIN_HERE_SECONDS = 300  # train where it takes about 5 minutes or less
GPU_SLOWDOWN = 5  # a GPU other than the one measured (a free Colab T4) is assumed up to 5× slower
TRAIN_YOURSELF = "to train it yourself, run %env DL101_TRAIN=1 and re-run the cell"
_started: dict[str, float] = {}


class PretrainedError(ValueError):
    """Pretrained weights that are missing, damaged, or made for another model, with what to do."""


def _builders() -> dict[str, Callable[[], nn.Module]]:
    """How to build each shipped model: the same classes and arguments as its chapter."""
    from dl101 import gan, vae
    from dl101.autoencoders import (GaussianNoise, RecurrentAutoencoder, TiedAutoencoder, conv_autoencoder,
                                    denoising_autoencoder, sparse_autoencoder, stacked_autoencoder)
    from dl101.classifier import FashionClassifier
    from dl101.diffusion import DiffusionUNet
    from dl101.latent import LatentUNet, LatentVAE

    def gan_pair(generator, discriminator) -> Callable[[], nn.Module]:
        return lambda: nn.ModuleDict({"generator": generator(), "discriminator": discriminator()})

    return {
        "02-stacked": stacked_autoencoder, "02-stacked-seed-1": stacked_autoencoder, "02-tied": TiedAutoencoder,
        "03-conv": conv_autoencoder, "04-recurrent": RecurrentAutoencoder,
        "05-dropout": lambda: denoising_autoencoder(nn.Dropout(0.5)),
        "05-gaussian": lambda: denoising_autoencoder(GaussianNoise(0.5)),
        "05-clean": lambda: denoising_autoencoder(nn.Identity()),
        "05-dropout-0.9": lambda: denoising_autoencoder(nn.Dropout(0.9)),
        "06-sparse": sparse_autoencoder, "06-sparse-weight-1e-05": sparse_autoencoder,
        "06-sparse-weight-1": sparse_autoencoder,
        "07-vae": lambda: vae.VAE(codings_dim=32), "07-vae-beta-0.1": lambda: vae.VAE(codings_dim=32),
        "07-vae-beta-10": lambda: vae.VAE(codings_dim=32), "07-vae-2d": lambda: vae.VAE(codings_dim=2),
        "08-dvae": lambda: vae.DiscreteVAE(coding_length=32, n_codes=16),
        "08-dvae-cold": lambda: vae.DiscreteVAE(coding_length=32, n_codes=16),
        "09-gan": gan_pair(lambda: gan.mlp_generator(codings_dim=32), gan.mlp_discriminator),
        "09-dcgan": gan_pair(lambda: gan.dcgan_generator(100), gan.dcgan_discriminator),
        "09-dcgan-original": gan_pair(lambda: gan.original_dcgan_generator(100), gan.original_dcgan_discriminator),
        "10-unet": lambda: DiffusionUNet(T=4000),
        "classifier": FashionClassifier,
        "project-vae": LatentVAE, "project-unet": lambda: LatentUNet(T=1000),
    }


def manifest() -> dict:
    """What ships: per model its file, sha256, training time and full-run history."""
    if not MANIFEST.is_file():
        return {"models": {}}
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def _entry(name: str) -> dict | None:
    return manifest()["models"].get(name)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def measured(name: str, compute: Callable[[], dict], seconds_here: float | None = None) -> dict:
    """Measure a result (a dict of numbers) here, or show the one recorded by the full run that made the
    weights: measured on a GPU at full settings; on a CPU, where it would take too long, the recorded one
    is returned (``DL101_MEASURE=1`` measures anyway); the smoke setting measures to check the code, then
    returns the recorded result."""
    from dl101.runtime import pick_device

    recorded, forced = manifest().get("results", {}).get(name), os.environ.get(MEASURE_VARIABLE, "").strip()
    if is_smoke():
        result = compute()  # on a few images: checks the code
        if recorded is None:
            return result
        print(f"{name}: smoke setting: measured on a few images to check the code; shown: the full run's "
              f"result ({recorded['device']}).")
        return recorded["result"]
    here = forced == "1" or recorded is None or (forced != "0" and pick_device().type == "cuda")
    if not here:
        cost = f" (about {_duration(seconds_here)} here)" if seconds_here else ""
        print(f"{name}: shown as measured by the full run on {recorded['device']}; "
              f"set {MEASURE_VARIABLE}=1 to measure it here{cost}.")
        return recorded["result"]
    result = compute()
    if os.environ.get(SAVE_VARIABLE):
        out = Path(os.environ[SAVE_VARIABLE])
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.result.json").write_text(json.dumps(result), encoding="utf-8")
    return result


def expected_seconds(name: str, device: torch.device) -> float | None:
    """Training time of ``name`` alone on the GPU the weights came from (times ``GPU_SLOWDOWN`` on another
    CUDA GPU), or the estimate for a 2-core CPU; None when nothing ships for ``name``."""
    entry = _entry(name)
    if entry is None:
        return None
    if device.type == "cuda":
        alone = entry.get("seconds_alone", entry["seconds"])
        same_gpu = entry["device"].split()[-1] in torch.cuda.get_device_name(device)  # e.g. "H200"
        return alone if same_gpu else alone * GPU_SLOWDOWN
    return entry["cpu_seconds"] if entry["cpu_seconds"] is not None else entry["seconds"] * 100


def should_train(name: str, device: torch.device | str | None = None) -> bool:
    """True where training ``name`` here should take about 5 minutes or less (always in the smoke setting);
    prints the expected time and the choice."""
    from dl101.runtime import pick_device

    device = torch.device(device) if device is not None else pick_device()
    _started[name] = time.perf_counter()
    entry, forced = _entry(name), os.environ.get(TRAIN_VARIABLE, "").strip()
    if entry is None:
        return True  # nothing to load: train
    measured = (f"about {_duration(entry.get('seconds_alone', entry['seconds']))} on {entry['device']}, "
                f"about {_duration(expected_seconds(name, torch.device('cpu')))} on a 2-core CPU (estimated)")
    if forced in ("0", "1"):
        choice = forced == "1"
        print(f"{name}: training takes {measured}; {TRAIN_VARIABLE}={forced}: "
              + ("training it here." if choice else "loading the pretrained weights."))
        return choice
    if is_smoke():
        print(f"{name}: smoke setting: a short training run checks the code, then the weights of a full run "
              f"are loaded, so the figures below are real. (A full training takes {measured}.)")
        return True
    choice = expected_seconds(name, device) <= TRAIN_HERE_SECONDS
    print(f"{name}: training takes {measured}. On this device ({device.type}): "
          + ("training it here." if choice else
             f"loading the pretrained weights instead (a second); {TRAIN_YOURSELF}."))
    return choice


def finish(model: nn.Module, name: str, history: dict | None = None) -> dict:
    """After ``should_train``: keep what was trained at full settings, otherwise load the full run's weights
    into ``model``; returns the history to plot (the full run's when the weights were loaded)."""
    seconds = time.perf_counter() - _started.pop(name, time.perf_counter())
    if os.environ.get(SAVE_VARIABLE) and history is not None:
        _save_for_shipping(model, name, history, seconds, Path(os.environ[SAVE_VARIABLE]))
    if history is not None and not is_smoke():
        return history
    if _entry(name) is None:
        if history is not None:
            return history
        raise PretrainedError(f"no pretrained weights ship for {name!r}: {TRAIN_YOURSELF}")
    load_weights(model, name).eval()  # as train() leaves a model: batch norm and dropout in inference mode
    return shipped_history(name)


def shipped_history(name: str) -> dict:
    """The per-epoch history of the full run that produced ``name``'s weights (GAN sample grids included)."""
    from dl101.gan import GANHistory
    from dl101.training import History

    entry = _entry(name)
    history = GANHistory() if "d_loss" in entry["history"] else History()
    history.update({k: v for k, v in entry["history"].items()})
    if "samples" in history:
        history["samples"] = {int(e): _tensors(name)[f"_samples.{e}"].float() for e in entry["history"]["samples"]}
    history.batches_per_epoch = entry.get("batches_per_epoch", 0)
    return history


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tensors(name: str) -> dict[str, torch.Tensor]:
    """The verified tensors of ``name``'s file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    entry = _entry(name)
    if entry is None:
        known = ", ".join(sorted(manifest()["models"])) or "none"
        raise PretrainedError(f"no pretrained weights named {name!r}; shipped: {known}")
    path = WEIGHTS / entry["file"]
    if not path.is_file():
        raise PretrainedError(f"{path} is missing: reinstall dl101 (pip install --force-reinstall dl101), "
                              f"or train the model yourself ({TRAIN_YOURSELF})")
    if _sha256(path) != entry["sha256"]:
        raise PretrainedError(f"{path} is not the file that shipped (its sha256 differs: truncated, altered or "
                              f"replaced): reinstall dl101, or train the model yourself ({TRAIN_YOURSELF})")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise PretrainedError(f"{path} cannot be read ({error}): reinstall dl101") from error


def load_weights(model: nn.Module, name: str) -> nn.Module:
    """Load the pretrained weights ``name`` into ``model`` (on its device, in its dtype); returns it."""
    state = {k: v for k, v in _tensors(name).items() if not k.startswith("_")}
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise PretrainedError(f"the weights {name!r} were made for another model (missing {missing[:2]}, "
                              f"unexpected {unexpected[:2]}, other shapes {wrong[:2]}): build the model as the "
                              f"chapter does, or use dl101.pretrained.load({name!r})")
    # copy_ converts the shipped float16 to the model's dtype and device
    model.load_state_dict(state)
    for attribute, value in _entry(name).get("attributes", {}).items():
        setattr(model, attribute, value)  # plain attributes a training run changes, e.g. a final temperature
    return model


def load(name: str, device: torch.device | str = "cpu") -> nn.Module:
    """Build the model ``name`` as its chapter does and load its pretrained weights; in eval mode."""
    builders = _builders()
    if name not in builders:
        raise PretrainedError(f"no model named {name!r}; known: {', '.join(sorted(builders))}")
    return load_weights(builders[name]().to(device), name).eval()


def _save_for_shipping(model: nn.Module, name: str, history: dict, seconds: float, out: Path) -> None:
    """Write ``name``'s weights (float16) and its run's record into ``out`` (see scripts/ship_weights.py)."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in model.state_dict().items()}
    record = {k: v for k, v in history.items() if k != "samples"}
    if "samples" in history:
        record["samples"] = sorted(history["samples"])
        tensors.update({f"_samples.{e}": s.half().contiguous() for e, s in history["samples"].items()})
    save_file(tensors, str(out / f"{name}.safetensors"))
    attributes = {a: getattr(model, a) for a in SAVED_ATTRIBUTES if isinstance(getattr(model, a, None), float)}
    (out / f"{name}.json").write_text(json.dumps({"attributes": attributes,
        "seconds": seconds, "smoke": is_smoke(), "batches_per_epoch": getattr(history, "batches_per_epoch", 0),
        "epochs": len(history.get("seconds", [])), "history": record}), encoding="utf-8")

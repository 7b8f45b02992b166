"""Chapter 10, last part: Stable Diffusion through Hugging Face ``diffusers``.

``load_text_to_image()`` loads ``stabilityai/sd-turbo``. Without the model hub (offline, or
``HF_HUB_OFFLINE=1`` as in CI) it says so in one line and builds a tiny, randomly initialised
pipeline of the same structure instead, so every part can still be inspected and run: its images
are noise. An unreachable hub is found by a short probe (a few seconds at most) rather than by
diffusers' own retries. This module imports diffusers and transformers: only chapter 10 uses it.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import torch

SD_TURBO = "stabilityai/sd-turbo"
SD_TURBO_CPU_BYTES = 6 * 2 ** 30  # its weights alone are 4.9 GB in float32 (benchmarks/memory.py --sd)
HUB_PROBE_SECONDS = 2.5  # how long to wait for the hub before calling it unreachable


def hub_endpoint() -> str:
    """The hub's address: ``$HF_ENDPOINT`` (a mirror) or https://huggingface.co."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """True when the hub answers a HEAD request within ``timeout`` seconds (proxies from the environment)."""
    answers: list[bool] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(hub_endpoint(), method="HEAD"), timeout=timeout).close()
            answers.append(True)
        except urllib.error.HTTPError:  # any HTTP status means something answered
            answers.append(True)
        except (OSError, ValueError):  # no route, no name, refused, timed out, or a malformed HF_ENDPOINT
            answers.append(False)

    # In a thread: a name lookup can hang far longer than the socket timeout, and we won't wait for it.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answers) and answers[0]


def memory_limit_bytes() -> int | None:
    """The memory this process may use: the least of Binder's ``MEM_LIMIT``, the cgroup's limit and the RAM."""
    limits = [int(os.environ["MEM_LIMIT"])] if os.environ.get("MEM_LIMIT", "").isdigit() else []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append(int(text))
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        pass
    return min(limits) if limits else None


def _too_little_memory(model_id: str, device: torch.device) -> str | None:
    """Why sd-turbo should not be loaded here (a message), or None when it fits."""
    limit = memory_limit_bytes()
    if model_id != SD_TURBO or device.type != "cpu" or limit is None or limit >= SD_TURBO_CPU_BYTES:
        return None
    return (f"This machine lets Python use {limit / 2 ** 30:.1f} GB of memory; {model_id} needs about "
            f"{SD_TURBO_CPU_BYTES / 2 ** 30:.0f} GB on a CPU (Binder gives 2 GB, and would restart the kernel). "
            "Using a tiny, randomly initialised pipeline of the same structure instead: every part below "
            "runs, but its images are noise. On Colab with a GPU the real model loads.")


def _offline_requested() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set (huggingface_hub then never touches the network)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _cached_locally(model_id: str) -> bool:
    """True when ``model_id`` was downloaded before (its model_index.json is in the local HF cache)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model_id, "model_index.json"), str)


def _dtype_argument() -> str:
    """diffusers ≥ 0.36 takes ``dtype=``; older releases (Colab's, say) only ``torch_dtype=``."""
    from diffusers.pipelines import pipeline_utils

    return "dtype" if hasattr(pipeline_utils, "_resolve_dtype") else "torch_dtype"


def _byte_symbols() -> list[str]:
    """GPT-2/CLIP's printable stand-ins for the 256 byte values (byte-level BPE's alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def _tiny_tokenizer(folder: Path):
    """A CLIP tokenizer whose vocabulary is the 256 byte symbols (+ end-of-word forms), no merges."""
    from transformers import CLIPTokenizer

    symbols = _byte_symbols()
    vocab = {s: i for i, s in enumerate(symbols + [s + "</w>" for s in symbols])}
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def tiny_pipeline(seed: int = 0):
    """A randomly initialised StableDiffusionPipeline with sd-turbo's structure, built offline.

    Same parts and wiring (CLIP text encoder, UNet with cross-attention, AutoencoderKL with a
    scale factor of 8, Euler scheduler as sd-turbo's), but tiny: it runs in milliseconds on a
    CPU and, untrained, draws noise.
    """
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.random.fork_rng(devices=[]):  # seeds its own weights; the caller's random state is untouched
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, norm_num_groups=8)
        vae = AutoencoderKL(
            block_out_channels=(8, 8, 16, 16), in_channels=3, out_channels=3, latent_channels=4,
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            norm_num_groups=8, sample_size=64)
        text_encoder = CLIPTextModel(CLIPTextConfig(
            hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
            vocab_size=520, max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513))
        scheduler = EulerDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
            prediction_type="epsilon", timestep_spacing="trailing", steps_offset=1)
        with tempfile.TemporaryDirectory() as folder:
            tokenizer = _tiny_tokenizer(Path(folder))
        return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)


def _unreachable_hub_message(model_id: str) -> str:
    return (f"The Hugging Face hub ({hub_endpoint()}) is unreachable (no answer within {HUB_PROBE_SECONDS:g} s), "
            f"so {model_id!r} cannot be downloaded: using a tiny, randomly initialised pipeline of the same "
            "structure instead (every part below runs, but its images are noise). For the real model, "
            "connect to the internet (or set HF_ENDPOINT to a mirror) and run this cell again.")


def load_text_to_image(model_id: str = SD_TURBO, device: str | torch.device = "cpu", fallback: bool = True):
    """Load a text-to-image pipeline; without the hub, fall back to ``tiny_pipeline()`` (says why).

    Returns ``(pipeline, is_real)``. On a GPU the real model loads in fp16 (its "fp16" variant).
    Offline without ``HF_HUB_OFFLINE=1``, a probe of a few seconds finds out, and a model downloaded
    before loads from the local cache.
    """
    from diffusers import AutoPipelineForText2Image

    device = torch.device(device)
    kwargs = {_dtype_argument(): torch.float16 if device.type == "cuda" else torch.float32}
    if device.type == "cuda":
        kwargs["variant"] = "fp16"
    # diffusers alone would retry an unreachable hub for ~23 s, then blame a missing model_index.json.
    if not (_offline_requested() or Path(model_id).is_dir() or hub_reachable()):
        if _cached_locally(model_id):
            kwargs["local_files_only"] = True  # downloaded before: no network needed
        elif fallback:
            print(_unreachable_hub_message(model_id))
            return tiny_pipeline().to(device), False
        else:
            raise ConnectionError(_unreachable_hub_message(model_id).split(": using")[0])
    if (reason := _too_little_memory(model_id, device)) is not None:
        if not fallback:
            raise MemoryError(reason.split(" Using")[0])
        print(reason)
        return tiny_pipeline().to(device), False
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # a deprecation inside huggingface_hub, not ours to fix
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
            pipe = AutoPipelineForText2Image.from_pretrained(model_id, **kwargs)
        return pipe.to(device), True
    except (OSError, ValueError, ConnectionError) as error:  # hub unreachable or files missing
        if not fallback:
            raise
        reason = str(error).strip().splitlines()[0][:160]
        print(f"Could not load {model_id!r} from the Hugging Face hub after "
              f"{time.perf_counter() - start:.1f} s ({type(error).__name__}: {reason}).\n"
              "Using a tiny, randomly initialised pipeline of the same structure instead: every "
              "part below runs, but its images are noise. With internet access (and HF_HUB_OFFLINE "
              "unset) the real model loads.")
        return tiny_pipeline().to(device), False


def describe_pipeline(pipe) -> dict[str, str]:
    """One line per part of a Stable Diffusion pipeline: its class and parameter count."""
    parts = {}
    for name in ("tokenizer", "text_encoder", "unet", "vae", "scheduler"):
        part = getattr(pipe, name, None)
        if part is None:
            continue
        n = sum(p.numel() for p in part.parameters()) if hasattr(part, "parameters") else 0
        parts[name] = type(part).__name__ + (f" ({n / 1e6:.2f} M parameters)" if n else "")
    return parts

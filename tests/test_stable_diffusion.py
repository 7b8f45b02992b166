"""Chapter 10's Stable Diffusion loader: an unreachable hub is found fast, and the tiny fallback is well behaved."""
from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
import torch

pytest.importorskip("diffusers")
from diffusers import AutoPipelineForText2Image  # noqa: E402

from dl101 import stable_diffusion as SD  # noqa: E402


def refuse_hub(*args, **kwargs):
    raise AssertionError("from_pretrained was called although the hub is known to be unreachable")


def test_an_unreachable_hub_is_found_within_seconds_and_the_tiny_pipeline_follows(monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing answers there
    monkeypatch.setattr(SD, "_cached_locally", lambda model_id: False)  # as on a fresh machine
    monkeypatch.setattr(AutoPipelineForText2Image, "from_pretrained", refuse_hub)
    start = time.perf_counter()
    pipe, real = SD.load_text_to_image(device="cpu")
    assert time.perf_counter() - start < 5
    out = capsys.readouterr().out
    assert not real and "unreachable" in out and "127.0.0.1:9" in out and "tiny" in out
    assert out.count("\n") == 1  # one line
    assert pipe.vae_scale_factor == 8
    with pytest.raises(ConnectionError, match="unreachable"):
        SD.load_text_to_image(device="cpu", fallback=False)


def test_the_probe_gives_up_after_its_timeout_even_if_the_network_hangs(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(30)
        raise urllib.error.URLError("no answer")

    monkeypatch.setattr(urllib.request, "urlopen", hang)
    start = time.perf_counter()
    assert SD.hub_reachable(timeout=0.3) is False
    assert time.perf_counter() - start < 1.5


def test_a_hub_that_answers_with_an_http_error_still_counts_as_reachable(monkeypatch):
    def not_found(request, timeout):
        raise urllib.error.HTTPError(request.full_url, 404, "Not Found", {}, None)

    monkeypatch.setattr(urllib.request, "urlopen", not_found)
    assert SD.hub_reachable(timeout=1) is True


def test_offline_with_a_cached_model_loads_it_from_the_cache_without_the_network(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(SD, "hub_reachable", lambda timeout=None: False)
    monkeypatch.setattr(SD, "_cached_locally", lambda model_id: True)
    calls = []

    class Loaded:
        def to(self, device):
            return self

    def from_cache(model_id, **kwargs):
        calls.append(kwargs)
        return Loaded()

    monkeypatch.setattr(AutoPipelineForText2Image, "from_pretrained", from_cache)
    _, real = SD.load_text_to_image(device="cpu")
    assert real and calls[0]["local_files_only"] is True


def test_hf_hub_offline_skips_the_probe(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(SD, "hub_reachable", refuse_hub)
    _, real = SD.load_text_to_image(device="cpu")
    assert not real and "tiny" in capsys.readouterr().out


def test_the_tiny_pipeline_leaves_the_callers_random_state_alone_and_is_deterministic():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = SD.tiny_pipeline(seed=0)
    assert torch.equal(torch.get_rng_state(), before)
    second = SD.tiny_pipeline(seed=0)
    for a, b in zip(first.unet.parameters(), second.unet.parameters()):
        assert torch.equal(a, b)
    assert not torch.equal(next(SD.tiny_pipeline(seed=1).unet.parameters()), next(first.unet.parameters()))


def test_sd_turbo_is_not_loaded_where_it_cannot_fit_like_binders_2_gb(monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(SD, "hub_reachable", lambda timeout=None: True)  # online, as on Binder
    monkeypatch.setenv("MEM_LIMIT", str(2 * 2 ** 30))  # what mybinder.org sets
    monkeypatch.setattr(AutoPipelineForText2Image, "from_pretrained", refuse_hub)
    pipe, real = SD.load_text_to_image(device="cpu")
    out = capsys.readouterr().out
    assert not real and "2.0 GB" in out and "tiny" in out
    with pytest.raises(MemoryError, match="needs about 6 GB"):
        SD.load_text_to_image(device="cpu", fallback=False)
    assert SD.memory_limit_bytes() <= 2 * 2 ** 30

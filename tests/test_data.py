import gzip
import os
import shutil
import struct
import urllib.error
from pathlib import Path

import pytest
import torch

from dl101 import data
from dl101.data import Batches, CorruptDataError, DataNotFoundError, autoencoder_batches, fashion_mnist


def real_raw_folder(name: str) -> Path:
    """The folder of real ``name`` .gz files this machine has ($DL101_DATA, as conftest sets it), or skip."""
    candidates = [Path(os.environ[data.DATA_VARIABLE]) / name / "raw"] if os.environ.get(data.DATA_VARIABLE) else []
    if name == "FashionMNIST":
        candidates.append(data.DEBIAN_FASHION_DIR)
    for folder in candidates:
        if len(list(folder.glob("*-ubyte.gz"))) >= (4 if name == "FashionMNIST" else 2):
            return folder
    pytest.skip(f"no local {name} files: set DL101_DATA to a folder holding {name}/raw/*-ubyte.gz"
                + (" (or apt-get install dataset-fashion-mnist)" if name == "FashionMNIST" else ""))


def write_idx(path: Path, array: torch.Tensor, gz: bool = True) -> Path:
    """Write ``array`` (uint8) as an IDX file, gzipped like the real downloads."""
    header = struct.pack(">HBB", 0, 0x08, array.dim()) + struct.pack(f">{array.dim()}I", *array.shape)
    payload = header + array.to(torch.uint8).numpy().tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


@pytest.fixture
def tiny_fashion(tmp_path, monkeypatch):
    """A flat folder of four small, valid Fashion-MNIST-like .gz files (20 train, 10 test), a fresh cache."""
    folder = tmp_path / "flat"
    folder.mkdir()
    gen = torch.Generator().manual_seed(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", torch.randint(0, 256, (n, 28, 28), generator=gen))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", torch.arange(n) % 10)
    monkeypatch.delenv(data.DATA_VARIABLE, raising=False)
    monkeypatch.setenv("DL101_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-debian-package")
    return folder


def test_fashion_mnist_has_the_seed_split_of_real_images(fashion):
    full = fashion_mnist()
    assert (len(full.train_x), len(full.valid_x), len(full.test_x)) == (55_000, 5_000, 10_000)
    assert full.train_x.shape[1:] == (1, 28, 28) and full.train_x.dtype == torch.float32
    assert 0 <= full.train_x.min() and full.train_x.max() == 1
    # The seed used torch.manual_seed(42) then random_split: the same permutation.
    torch.manual_seed(42)
    subsets = torch.utils.data.random_split(range(60_000), [55_000, 5_000])
    assert list(subsets[1].indices[:5]) == torch.randperm(
        60_000, generator=torch.Generator().manual_seed(42))[55_000:55_005].tolist()
    # Real data: all ten classes, balanced test set, and the slices are prefixes of the full split.
    assert torch.bincount(full.test_y).tolist() == [1000] * 10
    assert torch.equal(fashion.valid_x, full.valid_x[:500])


def test_mnist_test_digits_load(tmp_path):
    real_raw_folder("MNIST")
    x, y = data.mnist_test(n=100)
    assert x.shape == (100, 1, 28, 28) and y.max() <= 9


def test_a_flat_folder_of_gz_files_like_debians_works(tmp_path, monkeypatch):
    source = real_raw_folder("FashionMNIST")
    for f in source.glob("*-ubyte.gz"):
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.delenv("DL101_DATA", raising=False)
    monkeypatch.setenv("DL101_CACHE", str(tmp_path / "cache"))
    small = fashion_mnist(n_train=10, n_valid=10, n_test=10, data_dir=tmp_path)
    assert small.train_x.shape == (10, 1, 28, 28)
    assert torch.bincount(fashion_mnist(data_dir=tmp_path).test_y).tolist() == [1000] * 10


def test_debians_folder_is_found_with_nothing_configured(tiny_fashion, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tiny_fashion)  # flat .gz files, as the package has them
    small = fashion_mnist()
    assert len(small.train_x) + len(small.valid_x) == 20 and len(small.test_x) == 10
    assert torch.equal(small.test_y, torch.arange(10))


@pytest.mark.skipif(not (data.DEBIAN_FASHION_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_the_installed_debian_package_loads_end_to_end(tmp_path, monkeypatch):
    monkeypatch.delenv("DL101_DATA", raising=False)
    monkeypatch.setenv("DL101_CACHE", str(tmp_path / "cache"))
    full = fashion_mnist()
    assert (len(full.train_x), len(full.valid_x), len(full.test_x)) == (55_000, 5_000, 10_000)


def test_a_truncated_gz_names_the_file_and_does_not_poison_the_cache(tiny_fashion):
    bad = tiny_fashion / "train-images-idx3-ubyte.gz"
    good = bad.read_bytes()
    stat = bad.stat()
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(CorruptDataError) as info:
        fashion_mnist(data_dir=tiny_fashion)
    assert str(bad) in str(info.value) and "truncated" in str(info.value) and "again" in str(info.value)
    assert not any(p.is_file() for p in (data.cache_dir() / "FashionMNIST" / "raw").glob("*.part"))
    bad.write_bytes(good)  # restored, with its old time stamp, as `cp -p` would
    os.utime(bad, (stat.st_atime, stat.st_mtime))
    assert len(fashion_mnist(data_dir=tiny_fashion).train_x) == 20


def test_a_gz_with_a_bad_checksum_is_reported_too(tiny_fashion):
    bad = tiny_fashion / "t10k-labels-idx1-ubyte.gz"
    damaged = bytearray(bad.read_bytes())
    damaged[-8] ^= 0xFF  # the CRC in gzip's trailer
    bad.write_bytes(bytes(damaged))
    with pytest.raises(CorruptDataError, match="t10k-labels-idx1-ubyte.gz"):
        fashion_mnist(data_dir=tiny_fashion)


def test_a_truncated_cached_file_is_rebuilt_from_the_source(tiny_fashion):
    first = fashion_mnist(data_dir=tiny_fashion)
    cached = data.cache_dir() / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    whole = cached.stat().st_size
    with open(cached, "r+b") as f:
        f.truncate(whole - 100)  # an old, interrupted write
    later = cached.stat().st_mtime + 3600
    os.utime(cached, (later, later))  # newer than the source: only the size check can catch it
    again = fashion_mnist(data_dir=tiny_fashion)
    assert cached.stat().st_size == whole and torch.equal(again.train_x, first.train_x)


def test_read_idx_reads_the_declared_shape_and_rejects_a_short_file(tmp_path):
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    path = write_idx(tmp_path / "x-idx3-ubyte", images, gz=False)
    assert torch.equal(data.read_idx(path), images)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(CorruptDataError, match="truncated"):
        data.read_idx(path)
    (tmp_path / "not-idx").write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(CorruptDataError, match="not an IDX file"):
        data.read_idx(tmp_path / "not-idx")


def test_missing_mnist_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.delenv("DL101_DATA", raising=False)
    monkeypatch.setenv("DL101_CACHE", str(tmp_path / "cache"))

    def offline(self):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    with pytest.raises(DataNotFoundError) as info:
        data.mnist_test()
    message = str(info.value)
    looked = message.split("dl101 looked in:\n")[1].split("Fix it")[0]
    assert looked.count("  - ") >= 2 and "DL101_DATA" in looked
    assert str(tmp_path / "cache" / "MNIST" / "raw") in looked
    assert "no MNIST package" in message and "DL101_DATA=path/to/data" in message


def test_missing_data_offline_gives_one_clear_error_listing_the_options(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.delenv("DL101_DATA", raising=False)
    monkeypatch.setenv("DL101_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "nothing")

    def offline(self):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", offline)
    with pytest.raises(DataNotFoundError) as info:
        fashion_mnist(data_dir=tmp_path / "empty")
    message = str(info.value)
    for hint in ("data_dir=", "DL101_DATA", "apt-get install dataset-fashion-mnist", "internet"):
        assert hint in message


def test_batches_cover_every_example_once_per_epoch_and_drop_the_partial_batch():
    x = torch.arange(10).float()
    batches = Batches(x, x * 2, batch_size=4, shuffle=True)
    assert len(batches) == 3
    seen = torch.cat([xb for xb, yb in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert all(torch.equal(yb, xb * 2) for xb, yb in batches)
    assert len(Batches(x, batch_size=4, drop_last=True)) == 2
    assert len(autoencoder_batches(x.view(10, 1), batch_size=4, shuffle=True)) == 3


def test_batches_apply_their_transform_and_reject_mismatched_tensors():
    x = torch.ones(6, 2)
    out = next(iter(Batches(x, batch_size=3, transform=lambda b: (b * 3, b))))
    assert torch.equal(out[0], torch.full((3, 2), 3.0))
    with pytest.raises(ValueError, match="same length"):
        Batches(x, torch.ones(5))
    with pytest.raises(ValueError, match="batch_size"):
        Batches(x, batch_size=0)

import shutil
import urllib.error

import pytest
import torch

from dl101 import data
from dl101.data import Batches, DataNotFoundError, autoencoder_batches, fashion_mnist


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
    x, y = data.mnist_test(n=100)
    assert x.shape == (100, 1, 28, 28) and y.max() <= 9


def test_a_flat_folder_of_gz_files_like_debians_works(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    source = Path(os.environ["DL101_DATA"]) / "FashionMNIST" / "raw"
    for f in source.glob("*.gz"):
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.delenv("DL101_DATA")
    monkeypatch.setenv("DL101_CACHE", str(tmp_path / "cache"))
    small = fashion_mnist(n_train=10, n_valid=10, n_test=10, data_dir=tmp_path)
    assert small.train_x.shape == (10, 1, 28, 28)


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

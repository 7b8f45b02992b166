"""Fashion-MNIST and MNIST as tensors that sit on the training device, and batches cut from them.

Data are looked for in this order: an explicit directory, the ``DL101_DATA`` environment variable,
Debian's ``/usr/share/datasets/fashion-mnist``, then torchvision's normal download. Raw ``.gz`` files
found locally are decompressed into a cache and read with ``read_idx`` below, so torchvision never
tries to download them (their gz checksums need not match its list). Every cached file is written
atomically and checked against its own header, so an interrupted or truncated copy is never used.
"""
from __future__ import annotations

import gzip
import os
import shutil
import struct
import tempfile
import zlib
from collections import namedtuple
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch

DATA_VARIABLE = "DL101_DATA"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SPLIT_SEED = 42  # the original lesson's random_split seed: same 55,000 / 5,000 split

FashionMNIST = namedtuple("FashionMNIST",
                          ["train_x", "train_y", "valid_x", "valid_y", "test_x", "test_y", "classes"])


class DataNotFoundError(FileNotFoundError):
    """Raised when a data set is in none of the places dl101 looks, and cannot be downloaded."""


class CorruptDataError(ValueError):
    """Raised when a data file is truncated or damaged; the message names the file and the fix."""


IDX_UINT8 = 0x08  # the IDX type code of unsigned bytes: MNIST's and Fashion-MNIST's only type


def _idx_header(path: Path) -> tuple[int, ...]:
    """The dimensions an IDX file declares (magic: two zero bytes, the type code, the number of dims)."""
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[:2] != b"\0\0" or head[2] != IDX_UINT8 or not 1 <= head[3] <= 4:
            raise CorruptDataError(f"{path} is not an IDX file of bytes (its first bytes are {head!r}, "
                                   "expected 00 00 08 and a number of dimensions)")
        dims = f.read(4 * head[3])
    if len(dims) < 4 * head[3]:
        raise CorruptDataError(f"{path} ends inside its header")
    return struct.unpack(f">{head[3]}I", dims)


def _check_idx(path: Path) -> tuple[int, ...]:
    """Check that ``path`` is a whole IDX file (its size is exactly what its header implies); return its shape."""
    shape = _idx_header(path)
    expected = 4 + 4 * len(shape) + int(torch.Size(shape).numel())
    actual = path.stat().st_size
    if actual != expected:
        raise CorruptDataError(f"{path} has {actual:,} bytes, but its header ({' x '.join(map(str, shape))} "
                               f"bytes) implies {expected:,}: it is truncated or damaged")
    return shape


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Read an (uncompressed) IDX file of bytes, MNIST's format, as a uint8 tensor of its declared shape."""
    path = Path(path)
    shape = _check_idx(path)
    payload = bytearray(path.read_bytes()[4 + 4 * len(shape):])  # bytearray: writable, no torch warning
    return torch.frombuffer(payload, dtype=torch.uint8).reshape(shape)


def cache_dir() -> Path:
    """Where decompressed data go: ``DL101_CACHE`` or ``~/.cache/dl101``."""
    return Path(os.environ.get("DL101_CACHE", Path.home() / ".cache" / "dl101"))


def _candidates(name: str, data_dir: str | os.PathLike | None) -> list[Path]:
    """Directories that may hold the raw files of ``name`` ("FashionMNIST" or "MNIST"), in order."""
    roots = [Path(p) for p in (data_dir, os.environ.get(DATA_VARIABLE)) if p]
    dirs = []
    for root in roots:
        dirs += [root / name / "raw", root / name, root]
    if name == "FashionMNIST":
        dirs.append(DEBIAN_FASHION_DIR)
    return dirs


def _find_raw(folder: Path, stem: str) -> Path | None:
    for path in (folder / stem, folder / f"{stem}.gz"):
        if path.is_file():
            return path
    return None


def _is_whole(path: Path) -> bool:
    """True when ``path`` is a complete IDX file (a truncated cache file from an old run is not)."""
    try:
        _check_idx(path)
        return True
    except (OSError, CorruptDataError):
        return False


def _decompress_atomically(src: Path, dst: Path) -> None:
    """Write ``src`` (gzipped or not) to ``dst`` via a temporary file, checked before it takes ``dst``'s name."""
    opener = gzip.open if src.suffix == ".gz" else open
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
    tmp = Path(tmp_name)
    try:
        with opener(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        _check_idx(tmp)
    except (EOFError, OSError, zlib.error, CorruptDataError) as error:  # gzip.BadGzipFile is an OSError
        tmp.unlink(missing_ok=True)
        raise CorruptDataError(
            f"{src} is truncated or corrupt ({type(error).__name__}: {error}).\n"
            "Replace it with a good copy (download it again; for Debian's files: sudo apt-get install "
            "--reinstall dataset-fashion-mnist), or delete it so dl101 looks elsewhere, then run again."
        ) from error
    os.replace(tmp, dst)  # atomic: dst is either the old file or the whole new one, never half


def _stage(name: str, files: Sequence[str], data_dir) -> Path | None:
    """Decompress ``files`` into ``cache/name/raw`` from the first directory holding them all."""
    for folder in _candidates(name, data_dir):
        found = [_find_raw(folder, stem) for stem in files]
        if not all(found):
            continue
        raw = cache_dir() / name / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for src, stem in zip(found, files):
            dst = raw / stem
            if dst == src or (dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime and _is_whole(dst)):
                continue
            _decompress_atomically(src, dst)
        return cache_dir()
    return None


def _looked_in(name: str, data_dir) -> list[str]:
    """Every place dl101 looked for ``name``, for the error message: never an empty list."""
    places = [str(p) for p in _candidates(name, data_dir)]
    if not os.environ.get(DATA_VARIABLE):
        places.append(f"${DATA_VARIABLE} (not set)")
    if name != "FashionMNIST":
        places.append(f"{DEBIAN_FASHION_DIR.parent} (Debian packages Fashion-MNIST only, no {name})")
    target = Path(data_dir) if data_dir else cache_dir()
    places.append(f"{target / name / 'raw'} (torchvision's download folder)")
    return places


def _not_found_message(name: str, data_dir, error: Exception) -> str:
    looked = "\n".join(f"  - {p}" for p in _looked_in(name, data_dir))
    files = "the four *-ubyte(.gz) files" if name == "FashionMNIST" else "the t10k-*-ubyte(.gz) test files"
    debian = ("  3. on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist;\n" if name == "FashionMNIST"
              else f"  3. (Debian/Ubuntu have no {name} package: use 1, 2 or 4);\n")
    return (
        f"Could not find the {name} files and could not download them ({type(error).__name__}: {error}).\n"
        f"dl101 looked in:\n{looked}\n"
        "Fix it with one of these:\n"
        f"  1. pass data_dir='path/to/data' where path/to/data/{name}/raw/ holds {files};\n"
        f"  2. set the environment variable {DATA_VARIABLE}=path/to/data (same layout);\n"
        f"{debian}"
        "  4. connect to the internet: torchvision downloads the data by itself."
    )


def _read_pair(raw: Path, files: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images, int64 labels) from the decompressed ``files`` in ``raw``, checked to match."""
    images, labels = read_idx(raw / files[0]), read_idx(raw / files[1]).long()
    if images.dim() != 3 or labels.shape != images.shape[:1]:
        raise CorruptDataError(f"{raw}: expected N images of 28x28 and N labels, got images shaped "
                               f"{tuple(images.shape)} and labels {tuple(labels.shape)}; the two files come "
                               "from different data sets: replace them with a matching pair")
    return images, labels


def _torchvision_split(name: str, train: bool, data_dir) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images, int64 labels) of one split: from local files when there are any, else downloaded."""
    files = TRAIN_FILES if train else TEST_FILES
    root = _stage(name, files, data_dir)
    if root is not None:
        return _read_pair(root / name / "raw", files)
    target = Path(data_dir) if data_dir else cache_dir()
    raw = target / name / "raw"
    if all(_is_whole(raw / stem) for stem in files):  # staged or downloaded before: no network needed
        return _read_pair(raw, files)
    for stem in files:  # a broken leftover would make torchvision skip its download and then fail
        if (raw / stem).is_file() and not _is_whole(raw / stem):
            (raw / stem).unlink()
    import torchvision  # only now: its normal download path, for online learners

    try:
        dataset = getattr(torchvision.datasets, name)(str(target), train=train, download=True)
    except Exception as error:  # offline: urllib, HTTP or checksum errors all end here
        raise DataNotFoundError(_not_found_message(name, data_dir, error)) from error
    return dataset.data, dataset.targets


def _as_images(data: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1], all at once (no per-image work)."""
    return data.unsqueeze(1).float().div_(255)


def fashion_mnist(n_train: int = 55_000, n_valid: int = 5_000, n_test: int = 10_000,
                  device: str | torch.device = "cpu", data_dir=None) -> FashionMNIST:
    """Fashion-MNIST split as the original lesson splits it: 55,000 train / 5,000 valid / 10,000 test.

    ``n_train``, ``n_valid`` and ``n_test`` keep the first images of each split (the smoke setting
    uses this); the split itself never changes. Images are float32 in [0, 1], shaped (N, 1, 28, 28).
    """
    images, labels = _torchvision_split("FashionMNIST", True, data_dir)
    test_images, test_labels = _torchvision_split("FashionMNIST", False, data_dir)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    train_idx, valid_idx = order[:55_000][:n_train], order[55_000:][:n_valid]
    x, y = _as_images(images), labels
    tx, ty = _as_images(test_images[:n_test]), test_labels[:n_test]
    to = lambda t: t.to(device)  # noqa: E731
    return FashionMNIST(to(x[train_idx]), to(y[train_idx]), to(x[valid_idx]), to(y[valid_idx]),
                        to(tx), to(ty), FASHION_CLASSES)


def mnist_test(n: int = 10_000, device: str | torch.device = "cpu", data_dir=None):
    """MNIST's 10,000 test digits as ((N, 1, 28, 28) images in [0, 1], labels)."""
    images, labels = _torchvision_split("MNIST", False, data_dir)
    return _as_images(images[:n]).to(device), labels[:n].to(device)


class Batches:
    """Mini-batches sliced from tensors that already sit on the training device.

    ``Batches(x, y, batch_size=32, shuffle=True)`` yields ``(x_batch, y_batch)``. A ``transform``
    turns each slice into what the model needs, on the device (chapter 10 noises images this way).
    Shuffling draws a permutation on the tensors' device from the global RNG (seed it, e.g. with
    ``dl101.setup``, for repeatable runs): nothing goes back to the host.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int = 32, shuffle: bool = False,
                 drop_last: bool = False, transform: Callable | None = None):
        if not tensors:
            raise ValueError("Batches needs at least one tensor, e.g. Batches(x, x) for an autoencoder")
        n = len(tensors[0])
        for t in tensors[1:]:
            if len(t) != n:
                raise ValueError(f"all tensors must have the same length; got {[len(t) for t in tensors]}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.tensors, self.n, self.batch_size = tensors, n, batch_size
        self.shuffle, self.drop_last, self.transform = shuffle, drop_last, transform

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full if (self.drop_last or rest == 0) else full + 1

    def __iter__(self) -> Iterator:
        device = self.tensors[0].device
        order = torch.randperm(self.n, device=device) if self.shuffle else None
        for i in range(len(self)):
            start = i * self.batch_size
            if order is None:
                parts = tuple(t[start:start + self.batch_size] for t in self.tensors)
            else:
                idx = order[start:start + self.batch_size]
                parts = tuple(t[idx] for t in self.tensors)
            yield self.transform(*parts) if self.transform else parts

    @property
    def device(self) -> torch.device:
        """The device the batches come from."""
        return self.tensors[0].device


def autoencoder_batches(x: torch.Tensor, batch_size: int = 32, shuffle: bool = False) -> Batches:
    """Batches whose target is the input itself: ``(x_batch, x_batch)``."""
    return Batches(x, x, batch_size=batch_size, shuffle=shuffle)

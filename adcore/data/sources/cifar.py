"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009): 32x32 RGB, 50k train / 10k test, in the official
"python version" pickles, which are read with a restricted unpickler (see restricted_pickle).

cifar100 uses the 100 fine labels; cifar100_coarse the 20 superclasses, as the one-vs-rest
CIFAR-100 benchmarks of the AD literature do.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from adcore.data.sources.base import ImageSet, source
from adcore.data.sources.locate import require_file, require_root
from adcore.data.sources.restricted_pickle import load_pickle

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# in the "objects" vocabulary STL-10 shares: its "car" is CIFAR-10's "automobile"
CIFAR10_CONCEPTS = tuple(frozenset({name, "car"} if name == "automobile" else {name}) for name in CIFAR10_CLASSES)
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CIFAR100_DIR = "cifar-100-python"

_HOW10 = (
    "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
    "and unpack it so that {root}/cifar-10-batches-py/data_batch_1 exists"
)
_HOW100 = (
    "download cifar-100-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
    "and unpack it so that {root}/cifar-100-python/train exists"
)


def _read(path: Path) -> dict[str, object]:
    """One pickled dict, keys as str (the official files give bytes under encoding="bytes")."""
    obj = load_pickle(path)
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _batch(path: Path, *label_keys: str) -> tuple[np.ndarray, ...]:
    """Images (N, 3, 32, 32) uint8 and, per label key, labels (N,) int64 of one pickled batch."""
    batch = _read(path)
    data = batch.get("data")
    labels = [np.asarray(batch.get(key), dtype=np.int64) for key in label_keys]
    if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape[1:] != (3072,)
            or any(values.shape != data.shape[:1] for values in labels)):
        raise ValueError(f"{path}: expected 'data' uint8 (N, 3072) and N {', '.join(label_keys)}, the official layout")
    # each row is 1024 R, 1024 G, 1024 B values, each plane row-major: (N, 3072) -> (N, 3, 32, 32)
    return data.reshape(-1, 3, 32, 32), *labels


def _names(values: list) -> tuple[str, ...]:
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in values)


@source("cifar10", splits=tuple(CIFAR10_FILES), vocabulary="objects")
def cifar10(split: str, data_root: str | Path | None) -> ImageSet:
    root = require_root("cifar10", data_root, _HOW10)
    how = _HOW10.format(root=root)
    batches = [_batch(require_file("cifar10", root / CIFAR10_DIR / name, how), "labels") for name in CIFAR10_FILES[split]]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return ImageSet.from_numpy(images, labels, CIFAR10_CLASSES, CIFAR10_CONCEPTS)


def _cifar100(name: str, split: str, data_root: str | Path | None, coarse: bool) -> ImageSet:
    root = require_root(name, data_root, _HOW100)
    how = _HOW100.format(root=root)
    path = require_file(name, root / CIFAR100_DIR / split, how)
    images, fine, labels = _batch(path, "fine_labels", "coarse_labels")
    meta = _read(require_file(name, root / CIFAR100_DIR / "meta", how))
    fine_names = _names(meta["fine_label_names"])
    if not coarse:
        return ImageSet.from_numpy(images, fine, fine_names)
    # a superclass is, in the cifar100 vocabulary, the fine classes it groups
    concepts = tuple(frozenset(fine_names[f] for f in np.unique(fine[labels == c]))
                     for c in range(len(meta["coarse_label_names"])))
    return ImageSet.from_numpy(images, labels, _names(meta["coarse_label_names"]), concepts)


@source("cifar100", splits=("train", "test"), vocabulary="cifar100")
def cifar100(split: str, data_root: str | Path | None) -> ImageSet:
    """The 100 fine classes."""
    return _cifar100("cifar100", split, data_root, coarse=False)


@source("cifar100_coarse", splits=("train", "test"), family="cifar100", vocabulary="cifar100")
def cifar100_coarse(split: str, data_root: str | Path | None) -> ImageSet:
    """The 20 superclasses."""
    return _cifar100("cifar100_coarse", split, data_root, coarse=True)

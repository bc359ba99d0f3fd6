"""Load pickled data files without letting them run code.

``pickle.load`` calls whatever callable a file names, so a doctored CIFAR batch could run
``os.system``. This unpickler resolves only the globals CIFAR's pickles need: numpy's array
reconstruction, ``numpy.ndarray`` and ``numpy.dtype`` (containers, ints and strings need none),
plus ``_codecs.encode``, which Python 3 writes for bytes in pickle protocols below 3.
"""
from __future__ import annotations

import codecs
import pickle
from pathlib import Path

import numpy as np

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct

# (module, name) as written in the pickle -> the object it may resolve to
_ALLOWED: dict[tuple[str, str], object] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # written by numpy < 2 (the official files)
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # written by numpy >= 2
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class UnsafePickleError(pickle.UnpicklingError):
    """A data pickle referenced something other than plain data and numpy arrays."""


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in _ALLOWED)
            raise UnsafePickleError(
                f"refusing to load {module}.{name}: a data pickle may only reference {allowed}"
            ) from None


def load_pickle(path: Path) -> object:
    """Unpickle ``path`` as CIFAR's official loader does (``encoding="bytes"``), refusing code."""
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, encoding="bytes").load()
        except UnsafePickleError as e:
            raise UnsafePickleError(f"{path}: {e}") from None

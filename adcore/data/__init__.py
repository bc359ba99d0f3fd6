"""Data: registered sources, the benchmarks built from them, and batched tensor transforms. The
names below are imported on first use, so the data config can be read without importing torch."""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataConfig": "adcore.data.config",
    **dict.fromkeys(["BENCHMARKS", "Benchmark", "make_benchmark"], "adcore.data.protocols"),
    **dict.fromkeys(["SOURCES", "DataNotFoundError", "ImageSet", "load_source"], "adcore.data.sources"),
    **dict.fromkeys(["BatchTransform", "resize_images", "to_channels"], "adcore.data.transforms"),
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'adcore.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

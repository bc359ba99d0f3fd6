"""The frozen prefix of a backbone, run once: its outputs on a set of images, cached on disk.

With ``model.train_stages = k`` only the last k stages of the backbone train; what the frozen
stages make of an image never changes, so every trial that sees the same images through the same
frozen weights at the same size can share that output. The cache is content-keyed (the images'
bytes, the prefix's weights, the normalisation), so the seven arms of a Table-4 unit (same fold,
seed and pretrained weights) compute it once between them, and a rerun computes nothing.

Files are written atomically (a temporary file, then ``os.replace``) under a lock, so two trials
asking for the same outputs at once compute them once and never read half a file; each file
carries the SHA-256 of its tensor, and a file that does not match (truncated, corrupted) is
rebuilt with a warning, never used. The cache is kept under a size limit by removing the files
used longest ago.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Callable

import torch

from adcore.cache import evict_least_recent, key_lock
from adcore.context import full_precision
from adcore.models import Backbone

log = logging.getLogger(__name__)

SUFFIX = ".pt"


def digest_tensors(*tensors: torch.Tensor) -> str:
    """SHA-256 over tensors' shapes, dtypes and bytes."""
    digest = hashlib.sha256()
    for tensor in tensors:
        tensor = tensor.detach().cpu().contiguous().reshape(-1)  # 1-d: scalars (BatchNorm counters) view as bytes too
        digest.update(f"{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


class PrefixCache:
    """``outputs(key_parts, images, compute)``: the cached outputs for these images, computed once."""

    def __init__(self, directory: Path, limit_mb: int) -> None:
        self.directory, self.limit_bytes = Path(directory), limit_mb * 2**20

    def path(self, key: str) -> Path:
        return self.directory / f"{key}{SUFFIX}"

    def _read(self, path: Path) -> torch.Tensor | None:
        """The tensor in ``path``, or None when it is missing or does not match its checksum."""
        if not path.exists():
            return None
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if digest_tensors(saved["outputs"]) == saved["sha256"]:
                os.utime(path)  # used now: evicted last
                return saved["outputs"]
        except Exception as error:  # noqa: BLE001 - any unreadable file is rebuilt, never used
            log.warning("prefix cache: %s is unreadable (%s: %s); rebuilding it", path, type(error).__name__, error)
            return None
        log.warning("prefix cache: %s does not match its checksum; rebuilding it", path)
        return None

    def outputs(self, key: str, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The outputs stored under ``key``, or ``compute()``'s, stored for the next trial."""
        path = self.path(key)
        found = self._read(path)
        if found is not None:
            return found
        with key_lock(self.directory, key):
            found = self._read(path)  # another trial may have written it while this one waited
            if found is not None:
                return found
            started = time.perf_counter()
            outputs = compute().cpu()
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            torch.save({"outputs": outputs, "sha256": digest_tensors(outputs)}, tmp)
            os.replace(tmp, path)
            log.info("prefix cache: %d outputs computed in %.1f s, stored in %s", len(outputs),
                     time.perf_counter() - started, path)
        self.evict()
        return outputs

    def evict(self) -> None:
        """Remove the files used longest ago until the cache is within its size limit."""
        for stale in evict_least_recent(self.directory, SUFFIX, self.limit_bytes):
            (self.directory / f"{stale.stem}.lock").unlink(missing_ok=True)


def prefix_outputs(backbone: Backbone, images: torch.Tensor, normalise: Callable[[torch.Tensor], torch.Tensor],
                   cache: PrefixCache, weights_key: str, batch: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(N, C, S, S) uint8 images -> the frozen prefix's outputs (N, C', h, w) in ``dtype``, from the cache
    when a trial computed them before. ``weights_key`` identifies the prefix's weights and the
    normalisation (see ``prefix_key``)."""

    def compute() -> torch.Tensor:
        # float32 without TF32 (full_precision): these features are what every later score is computed from
        with full_precision(next(backbone.parameters()).device):
            out = [backbone.prefix(normalise(images[start : start + batch])).to(dtype)
                   for start in range(0, len(images), batch)]
        return torch.cat(out) if out else torch.empty(0, dtype=dtype)

    key = hashlib.sha256(f"{digest_tensors(images)}:{weights_key}:{dtype}".encode()).hexdigest()[:32]
    return cache.outputs(key, compute)


def prefix_key(backbone: Backbone, mean: torch.Tensor, std: torch.Tensor) -> str:
    """What the prefix's output depends on besides the images: its stages' weights and buffers (so a
    randomly initialised prefix keys by its own weights) and the input normalisation."""
    tensors = [value for _, stage in backbone.stages()[: backbone.frozen_stages] for value in stage.state_dict().values()]
    return f"{type(backbone).__name__}:{backbone.frozen_stages}:{digest_tensors(*tensors, mean, std)}"

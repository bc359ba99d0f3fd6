"""What adcore's on-disk caches share: where they live, one lock per entry, and eviction.

The decode cache (``adcore.data.decode_cache``), the rendered scenes (``adcore.data.sources.scenes``),
the frozen-prefix cache (``adcore.prefix``) and the pretrained LeNet's weights all write under one
directory and follow one discipline: whoever holds an entry's lock computes it, the others wait and
read what it wrote, and the files used longest ago go first when a cache outgrows its limit. It sits
below data and models, so each of them can use it.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def default_cache_dir(configured: str | None) -> Path:
    """``runtime.cache_dir`` when set, else ``$ADCORE_CACHE``, else ``~/.cache/adcore``."""
    path = configured or os.environ.get("ADCORE_CACHE") or Path.home() / ".cache" / "adcore"
    return Path(path).expanduser()


@contextmanager
def key_lock(directory: Path, key: str) -> Iterator[None]:
    """Hold ``<directory>/<key>.lock`` exclusively (flock: across processes and threads): whoever holds it
    computes the entry, the others wait and then read what it wrote."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{key}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def evict_least_recent(directory: Path, suffix: str, limit_bytes: int) -> list[Path]:
    """Remove the ``*suffix`` files of ``directory`` used longest ago (oldest modification time: readers
    touch what they use) until the rest fit in ``limit_bytes``; the newest file stays, however large.
    Returns the removed files."""
    files = sorted(directory.glob(f"*{suffix}"), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    removed = []
    for stale in files[:-1]:
        if total <= limit_bytes:
            break
        total -= stale.stat().st_size
        stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed

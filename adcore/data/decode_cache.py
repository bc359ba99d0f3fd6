"""Image files decoded once, at the study's image size, into a memory-mapped uint8 array on disk.

A folder of JPEGs or PNGs costs milliseconds per image to decode and resize; a study runs many trials
on the same images. So the first trial on a node decodes them (with Pillow, on a thread per core:
Pillow releases the GIL while it decodes and resamples) into ``<cache>/decoded/<key>.npy``, and every
later trial, in any process on that node, maps that file read-only: nothing is decoded again, and
the images are not copied into each worker's memory (the OS page cache holds them once; a trial
copies only the images it draws).

The key is the content's identity as the file system gives it: every file's path, size and
modification time (nanoseconds), plus the decode settings. Hashing the files' bytes instead would
read the whole dataset on every trial's load, which is the cost the cache exists to avoid; a file
replaced by another of the same size within the same nanosecond is the case this key misses.

Writing follows ``adcore.cache``: one lock per key (``key_lock``), so trials that start together
decode once; the array goes to a temporary file renamed into place, and a small JSON file, written
last, marks the entry complete. An entry whose array does not match its JSON (truncated, removed)
is rebuilt with a warning. Files that cannot be decoded are recorded by path in the JSON; the array
holds the others, so the next trial learns the same list without decoding anything.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from PIL import Image, ImageOps

from adcore.cache import key_lock

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the way images are decoded changes: old entries are then never read
COPY_ROWS = 1024  # images per chunk when an entry is compacted around unreadable files


@dataclass(frozen=True)
class DecodeSpec:
    """How a file becomes an array: side length, colour mode and how a non-square image is fitted."""

    size: int
    mode: Literal["RGB", "L"] = "RGB"
    fit: Literal["crop", "stretch"] = "crop"  # crop: shorter side to size, centre crop; stretch: both sides to size

    @property
    def channels(self) -> int:
        return 3 if self.mode == "RGB" else 1


@dataclass(frozen=True)
class Decoded:
    """The decoded images of a file list: ``images[j]`` is ``files[kept[j]]``."""

    images: np.ndarray  # (len(kept), C, S, S) uint8, memory-mapped copy-on-write
    kept: np.ndarray  # (len(kept),) int64 indices into the file list
    unreadable: dict[int, str]  # file index -> why it could not be decoded
    decoded: int  # files this call decoded (0 when the cache had them)


def decode_image(path: Path, spec: DecodeSpec) -> np.ndarray:
    """One file as a (C, S, S) uint8 array; raises whatever Pillow raises for a file it cannot decode."""
    with Image.open(path) as image:
        # JPEG: let libjpeg decode at the smallest 1/2^k scale that is still >= size (much faster for large
        # photos); other formats ignore it
        image.draft(spec.mode, (spec.size, spec.size))
        image = image.convert(spec.mode)  # reads the whole file: a truncated one fails here
        side = (spec.size, spec.size)
        if spec.fit == "crop":
            image = ImageOps.fit(image, side, method=Image.Resampling.BILINEAR)
        else:
            image = image.resize(side, Image.Resampling.BILINEAR)
        array = np.asarray(image)  # (S, S) or (S, S, 3)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def content_key(files: Sequence[Path], spec: DecodeSpec) -> str:
    """What identifies the decoded array: each file's path, size and mtime, and the decode settings."""
    digest = hashlib.sha256(f"{FORMAT}:{spec.size}:{spec.mode}:{spec.fit}".encode())
    for path in files:
        stat = os.stat(path)
        digest.update(f"\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def decoded_images(files: Sequence[Path], spec: DecodeSpec, directory: Path, workers: int | None = None) -> Decoded:
    """The images of ``files`` from the cache in ``directory``; decoded (once per node) when absent."""
    directory = Path(directory)
    key = content_key(files, spec)
    found = _open(directory, key, len(files), spec)
    if found is not None:
        return found
    with key_lock(directory, key):
        found = _open(directory, key, len(files), spec)  # another trial may have decoded them while this one waited
        if found is not None:
            return found
        return _decode_all(directory, key, files, spec, workers or len(os.sched_getaffinity(0)))


def _paths(directory: Path, key: str) -> tuple[Path, Path]:
    return directory / f"{key}.npy", directory / f"{key}.json"


def _open(directory: Path, key: str, count: int, spec: DecodeSpec) -> Decoded | None:
    """The complete entry under ``key``, or None when there is none (or it does not match its JSON)."""
    array_path, meta_path = _paths(directory, key)
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        unreadable = {int(index): why for index, why in meta["unreadable"].items()}
        images = np.load(array_path, mmap_mode="c")
        expected = (count - len(unreadable), spec.channels, spec.size, spec.size)
        if meta["format"] != FORMAT or meta["count"] != count or images.shape != expected or images.dtype != np.uint8:
            raise ValueError(f"holds {images.dtype} {images.shape}, expected uint8 {expected}")
    except (OSError, ValueError, KeyError) as error:
        log.warning("decode cache: %s is incomplete or damaged (%s); decoding again", array_path, error)
        return None
    kept = np.setdiff1d(np.arange(count), np.fromiter(unreadable, dtype=np.int64, count=len(unreadable)))
    return Decoded(images, kept, unreadable, decoded=0)


def _decode_all(directory: Path, key: str, files: Sequence[Path], spec: DecodeSpec, workers: int) -> Decoded:
    started = time.perf_counter()
    array_path, meta_path = _paths(directory, key)
    tmp = directory / f".{key}.{os.getpid()}.npy.tmp"
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                    shape=(len(files), spec.channels, spec.size, spec.size))
    unreadable: dict[int, str] = {}

    def decode(index: int) -> None:
        try:
            out[index] = decode_image(files[index], spec)
        except Exception as error:  # noqa: BLE001 - whatever fails on one file is that file's problem, reported by path
            unreadable[index] = f"{type(error).__name__}: {error}"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(decode, range(len(files))):
            pass
    out.flush()
    if unreadable:
        tmp = _without(tmp, out, unreadable)
    del out
    os.replace(tmp, array_path)
    meta = {"format": FORMAT, "count": len(files), "unreadable": {str(i): why for i, why in sorted(unreadable.items())},
            "decode_s": round(time.perf_counter() - started, 3)}
    meta_tmp = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
    meta_tmp.write_text(json.dumps(meta))
    os.replace(meta_tmp, meta_path)  # last: the entry is complete
    log.info("decode cache: %d images decoded in %.1f s (%d unreadable) with %d threads, stored in %s", len(files),
             meta["decode_s"], len(unreadable), workers, array_path)
    decoded = _open(directory, key, len(files), spec)
    assert decoded is not None, f"{array_path} was just written"
    return Decoded(decoded.images, decoded.kept, decoded.unreadable, decoded=len(files))


def _without(tmp: Path, out: np.ndarray, unreadable: dict[int, str]) -> Path:
    """A copy of ``out`` (at ``tmp``) without the rows of unreadable files; returns the copy's path."""
    kept = np.setdiff1d(np.arange(len(out)), np.fromiter(unreadable, dtype=np.int64, count=len(unreadable)))
    compact_path = tmp.with_name(f"{tmp.name}.kept")
    compact = np.lib.format.open_memmap(compact_path, mode="w+", dtype=np.uint8, shape=(len(kept), *out.shape[1:]))
    for start in range(0, len(kept), COPY_ROWS):
        compact[start : start + COPY_ROWS] = out[kept[start : start + COPY_ROWS]]
    compact.flush()
    del compact
    tmp.unlink()
    return compact_path

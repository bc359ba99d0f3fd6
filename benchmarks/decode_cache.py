"""The decode cache of image folders, measured side by side in one run: decoding a folder once into the
cache against the load every later trial pays.

A folder of JPEGs (``--images`` in ``--classes`` class folders, ``--side`` px photographs of smooth
random texture, written here) is read as a study reads it (``{name: image_folder, root: ...}`` at
``--image-size``): the first load decodes every file (Pillow, a thread per core) into the memory-mapped
cache; a trial's load after it lists the folder, keys the files by path, size and mtime, maps the
cached array and copies out the images a trial draws (``--draw``: training, validation and test
images). The ratio is what the cache saves each trial after the first; the target is >= 20x.

    python benchmarks/decode_cache.py                       # 20,000 images of 256 px, decoded to 32 px
    python benchmarks/decode_cache.py --images 5000 --side 500 --image-size 64
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from adcore.data.sources import LoadSettings, load_split, resolve_source
from adcore.data.sources.layouts import LAYOUTS


def write_folder(root: Path, images: int, classes: int, side: int) -> None:
    """``root/class_<c>/<i>.jpg``: smooth random colour fields (a coarse grid upsampled), JPEG quality 90."""

    def write(index: int) -> None:
        rng = np.random.default_rng(index)
        coarse = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        folder = root / f"class_{index % classes}"
        coarse.resize((side, side * 3 // 4), Image.Resampling.BICUBIC).save(folder / f"{index:06d}.jpg", quality=90)

    for c in range(classes):
        (root / f"class_{c}").mkdir(parents=True)
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(write, range(images)))


def trial_load(params: object, settings: LoadSettings, draw: int, seed: int) -> float:
    """Seconds for what a trial does with the folder once it is cached: resolve, map, draw its images."""
    started = time.perf_counter()
    images = load_split(resolve_source(params, "data.dataset", settings), "train").images
    index = np.random.default_rng(seed).choice(len(images), size=min(draw, len(images)), replace=False)
    drawn = images[torch.from_numpy(np.sort(index))]  # (draw, C, S, S) uint8, copied into the trial's memory
    assert drawn.shape[0] == min(draw, len(images))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--side", type=int, default=256, help="width of the JPEGs written (height 3/4 of it)")
    parser.add_argument("--image-size", type=int, default=32, help="data.image_size the cache holds")
    parser.add_argument("--draw", type=int, default=384 + 128 + 1000, help="images a trial copies out")
    parser.add_argument("--trials", type=int, default=5, help="trial loads timed after the decode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="decode-cache-bench-") as scratch:
        root, cache = Path(scratch, "folder"), Path(scratch, "cache")
        started = time.perf_counter()
        write_folder(root, args.images, args.classes, args.side)
        print(f"wrote {args.images} JPEGs of {args.side}x{args.side * 3 // 4} px in {args.classes} class folders "
              f"({sum(p.stat().st_size for p in root.rglob('*.jpg')) / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        params = LAYOUTS.params({"name": "image_folder", "root": str(root)})
        settings = LoadSettings(image_size=args.image_size, cache_dir=cache)
        started = time.perf_counter()
        first = load_split(resolve_source(params, "data.dataset", settings), "train")
        decode_s = time.perf_counter() - started
        loads = [trial_load(params, settings, args.draw, seed) for seed in range(args.trials)]
        load_s = statistics.median(loads)
        cached = sum(p.stat().st_size for p in Path(cache, "decoded").glob("*.npy")) / 2**20
    threads = len(os.sched_getaffinity(0))
    print(f"\n{args.images} images to {tuple(first.images.shape[1:])} uint8 ({cached:.0f} MiB cached), "
          f"{threads} decode thread(s), Pillow {Image.__version__}:")
    print(f"  decode once into the cache (first trial): {decode_s:8.2f} s  ({args.images / decode_s:.0f} images/s)")
    print(f"  a later trial's load ({args.draw} images drawn), median of {args.trials}: {load_s:8.3f} s  "
          f"(all: {', '.join(f'{s:.3f}' for s in loads)})")
    print(f"  ratio decode / trial load: {decode_s / load_s:.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()

"""Rendered-scene throughput on one core: images per second, three ways in one run.

1. distinct scenes: random factor tuples, nearly every one a scene of its own (the worst case);
2. a study's set: paper 000 §5.1's normal data, every view of the red small cone (14,400 images;
   the 3 background colours share a scene, so 4,800 scenes are cast);
3. the same set again through ``SceneSource``, read back from its disk cache.

Usage: python benchmarks/scene_render.py [--distinct 2048] [--threads 1]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from adcore.data.factors import SIZES, select
from adcore.data.sources import scenes


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f} images/s  ({n} images in {seconds:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--distinct", type=int, default=2048, help="random tuples for the worst case")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    distinct = np.stack([rng.integers(0, size, args.distinct) for size in SIZES], axis=1)
    normal = select({"object_color": "red", "object_shape": "cone", "object_size": "small"})
    scenes.render(distinct[:8])  # builds the per-camera tables once

    start = time.perf_counter()
    scenes.render(distinct)
    print(f"distinct scenes       {rate(len(distinct), time.perf_counter() - start)}")
    with tempfile.TemporaryDirectory() as cache:
        source = scenes.SceneSource(cache_dir=Path(cache))
        start = time.perf_counter()
        source.images(normal)
        print(f"red small cones       {rate(len(normal), time.perf_counter() - start)}  (render + cache write)")
        start = time.perf_counter()
        source.images(normal)
        print(f"red small cones again {rate(len(normal), time.perf_counter() - start)}  (cache read)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")


if __name__ == "__main__":
    main()

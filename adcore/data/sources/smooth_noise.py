"""Smooth random noise: a procedurally drawn OE corpus that is poorly matched to any image dataset.

Paper 000's Table 6 contrasts a well-suited OE corpus (CIFAR-100 for CIFAR-10) with a poorly suited
one (SVHN). Neither is obtainable here, so this corpus stands in for the poorly suited end: images
with no objects, strokes or edges at all, only low-frequency grey-level fields. Each image is a
g x g grid of uniform values (g drawn from 2..7 per image) upsampled bicubically to 28 x 28 and
stretched to a random grey range [lo, hi] (lo in 0..64, hi in 192..255). The corpus is fixed: it
is drawn once from ``SEED``, so every trial subsamples the same 10,000 images with its own seed.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from adcore.data.sources.base import Census, ImageSet, source

if TYPE_CHECKING:
    import torch

SEED = 0
SIZE = 10_000  # images
SIDE = 28  # pixels, as (Fashion-)MNIST
GRIDS = range(2, 8)  # coarse grid sides: 2 x 2 (one gradient) up to 7 x 7 (blobs about 4 px wide)


@lru_cache(maxsize=1)
def _draw() -> "torch.Tensor":
    """(SIZE, 1, SIDE, SIDE) uint8, the same on every call and machine (CPU generator, fixed seed)."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(SEED)
    grids = torch.randint(GRIDS.start, GRIDS.stop, (SIZE,), generator=generator)
    lo = torch.randint(0, 65, (SIZE,), generator=generator).float()
    hi = torch.randint(192, 256, (SIZE,), generator=generator).float()
    fields = torch.empty(SIZE, 1, SIDE, SIDE)
    for g in GRIDS:
        index = torch.nonzero(grids == g, as_tuple=True)[0]
        coarse = torch.rand(len(index), 1, g, g, generator=generator)
        fields[index] = F.interpolate(coarse, size=(SIDE, SIDE), mode="bicubic", align_corners=False)
    low = fields.amin(dim=(1, 2, 3), keepdim=True)
    span = (fields.amax(dim=(1, 2, 3), keepdim=True) - low).clamp_min(1e-6)
    scaled = (fields - low) / span * (hi - lo).view(-1, 1, 1, 1) + lo.view(-1, 1, 1, 1)  # per image into [lo, hi]
    return scaled.round_().clamp_(0, 255).to(torch.uint8)


def _census(split: str, data_root: str | Path | None) -> Census:
    return Census((), (), unlabelled=SIZE)


@source("smooth_noise", splits=("train",), census=_census)
def smooth_noise(split: str, data_root: str | Path | None) -> ImageSet:
    """All 10,000 images as split ``train``, unlabelled (-1); ``data_root`` is not used."""
    import torch

    images = _draw().clone()  # the clone keeps callers from editing the cache in place
    return ImageSet(images, torch.full((SIZE,), -1, dtype=torch.int64), ())

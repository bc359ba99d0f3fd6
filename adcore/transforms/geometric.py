"""GEOM's geometric transformations (paper 004, Sec. 5.3 and the authors' ``transformations.py``).

Each transformation is a horizontal flip or not, then a translation by (tx, ty) in {0, -t, +t}^2
pixels with reflection fill, then a rotation by k * 90 degrees: 2 x 3 x 3 x 4 = 72 with t = 8 for
32x32 images, enumerated in the authors' order (flip, tx, ty, k). Reflection is the half-sample
symmetric kind of ``scipy.ndimage`` / Keras (``d c b a | a b c d``), which the authors' Keras
``apply_affine_transform(fill_mode='reflect')`` uses.

Every transformation maps each output pixel to one input pixel, so on a square image it is an index
table; ``index_table`` builds all of them once and ``apply_indexed`` transforms a batch, each image
by its own transformation, with one gather.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Half-sample symmetric reflection of out-of-range indices (valid for |shift| <= size)."""
    index = torch.where(index < 0, -index - 1, index)
    return torch.where(index >= size, 2 * size - 1 - index, index)


def translate(x: torch.Tensor, tx: int, ty: int) -> torch.Tensor:
    """Shift (..., H, W) content by tx columns and ty rows (positive: right, down), reflect-filled."""
    h, w = x.shape[-2:]
    rows = _reflect(torch.arange(h, device=x.device) - ty, h)
    cols = _reflect(torch.arange(w, device=x.device) - tx, w)
    return x[..., rows[:, None], cols[None, :]]


@dataclass(frozen=True)
class GeometricTransform:
    flip: bool  # horizontal flip, applied first
    tx: int  # pixels, applied second
    ty: int
    k: int  # counter-clockwise quarter turns, applied last

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(..., H, W) -> (..., H, W); H == W when k is odd."""
        if self.flip:
            x = x.flip(-1)
        if self.tx or self.ty:
            x = translate(x, self.tx, self.ty)
        return torch.rot90(x, self.k, dims=(-2, -1)) if self.k else x

    def undo(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the inverse. Flips and rotations are bijections, so for the 8 transformations without
        translation ``t.undo(t(x)) == x``; a translation's reflection fill loses the pixels shifted out,
        so there only the pixels that stayed inside the frame come back."""
        x = torch.rot90(x, -self.k, dims=(-2, -1)) if self.k else x
        if self.tx or self.ty:
            x = translate(x, -self.tx, -self.ty)
        return x.flip(-1) if self.flip else x


def geom_transforms(translation: int = 8) -> list[GeometricTransform]:
    """GEOM's 72 transformations in the authors' order (index 0 is the identity)."""
    shifts = (0, -translation, translation)
    return [GeometricTransform(flip, tx, ty, k)
            for flip, tx, ty, k in itertools.product((False, True), shifts, shifts, range(4))]


def index_table(transforms: list[GeometricTransform], size: int) -> torch.Tensor:
    """(T, size * size) int64: entry [t, p] is the input pixel that output pixel p of transform t reads."""
    grid = torch.arange(size * size).view(size, size)
    return torch.stack([t(grid).reshape(-1) for t in transforms])


def apply_indexed(x: torch.Tensor, table: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """x (B, C, S, S), which (B,) transform indices -> (B, C, S, S), image i by transform which[i]."""
    b, c, h, w = x.shape
    index = table.to(x.device)[which.to(x.device)]  # (B, S * S)
    return x.reshape(b, c, h * w).gather(2, index[:, None, :].expand(b, c, h * w)).view(b, c, h, w)


def rotate_each(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """x (B, C, S, S), k (B,) quarter turns -> each image rotated counter-clockwise by its own k."""
    out = x.clone()
    k = k.to(x.device)
    for turns in range(1, 4):
        chosen = k == turns
        out[chosen] = torch.rot90(x[chosen], turns, dims=(-2, -1))
    return out

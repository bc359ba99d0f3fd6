"""MPI3D's ground-truth factors, and sources that render or read an image for any factor tuple.

Paper 000's §5.1 intervenes on ground-truth factors: normal = a red cone in every view, anomalies
change one factor (colour -> blue, shape -> cube, size -> large), and its Figure 2 grows the set of
normal colours. MPI3D (Gondal et al., 2019) holds one 64x64 RGB image per combination of 7
factors, 6 x 6 x 2 x 3 x 3 x 40 x 40 = 1,036,800 images, stored row-major in the factor order
below (``reshape([6, 6, 2, 3, 3, 40, 40, 64, 64, 3])`` gives the factor axes). A factor tuple is a
row of 7 int codes in that order; ``select`` enumerates the tuples a filter allows, and a
``FactorSource`` turns tuples into images, so a study is written once against the layout and run
on the real MPI3D (``adcore.data.sources.mpi3d``) or on rendered scenes
(``adcore.data.sources.scenes``).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import TYPE_CHECKING, Callable

import numpy as np

from adcore.registry import Registry

if TYPE_CHECKING:
    import torch

# factor name -> value names, in MPI3D's order; a code is the index of a value
FACTORS: dict[str, tuple[str, ...]] = {
    "object_color": ("white", "green", "red", "blue", "brown", "olive"),
    "object_shape": ("cone", "cube", "cylinder", "hexagonal", "pyramid", "sphere"),
    "object_size": ("small", "large"),
    "camera_height": ("top", "center", "bottom"),
    "background_color": ("purple", "sea_green", "salmon"),
    "horizontal_axis": tuple(str(i) for i in range(40)),
    "vertical_axis": tuple(str(i) for i in range(40)),
}
FACTOR_NAMES: tuple[str, ...] = tuple(FACTORS)
SIZES: tuple[int, ...] = tuple(len(values) for values in FACTORS.values())  # (6, 6, 2, 3, 3, 40, 40)
NUM_IMAGES = int(np.prod(SIZES))  # 1,036,800

Value = str | int  # a value by name, or its code


def check_codes(codes: np.ndarray) -> np.ndarray:
    """``codes`` as an (N, 7) int64 array; an error if it has another shape or a code out of range."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != len(SIZES) or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"factor codes must be an (N, {len(SIZES)}) int array in the order {FACTOR_NAMES}, "
                         f"got {codes.dtype} {codes.shape}")
    bad = (codes < 0) | (codes >= np.array(SIZES))
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise ValueError(f"factor code {codes[row, column]} of {FACTOR_NAMES[column]} (row {row}) is out of "
                         f"range 0..{SIZES[column] - 1}")
    return codes.astype(np.int64, copy=False)


def flat_index(codes: np.ndarray) -> np.ndarray:
    """(N, 7) codes -> (N,) row-major image index into MPI3D's 1,036,800 images."""
    return np.ravel_multi_index(tuple(check_codes(codes).T), SIZES).astype(np.int64)


def codes_of(flat: np.ndarray) -> np.ndarray:
    """(N,) row-major image indices -> (N, 7) int64 codes; inverse of ``flat_index``."""
    flat = np.asarray(flat)
    if flat.size and (flat.min() < 0 or flat.max() >= NUM_IMAGES):
        raise ValueError(f"image indices must lie in 0..{NUM_IMAGES - 1}")
    return np.stack(np.unravel_index(flat.astype(np.int64), SIZES), axis=-1).astype(np.int64)


def _value_code(factor: str, value: Value) -> int:
    values = FACTORS[factor]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if 0 <= value < len(values):
            return int(value)
    elif isinstance(value, str) and value in values:
        return values.index(value)
    shown = f"0..{len(values) - 1}" if factor.endswith("_axis") else ", ".join(values) + f" (or 0..{len(values) - 1})"
    raise ValueError(f"{value!r} is not a value of {factor}; valid values: {shown}")


Spec = Mapping[str, "Value | Sequence[Value]"]  # factor name -> a value or a list of values (any of them)


def allowed(spec: Spec) -> tuple[np.ndarray, ...]:
    """Per factor, in MPI3D's order, the sorted codes ``spec`` allows: the values it names (by name or
    index; a list means any of them), every code of the factors it leaves out."""
    unknown = [name for name in spec if name not in FACTORS]
    if unknown:
        raise ValueError(f"unknown factor(s) {', '.join(map(repr, unknown))}; valid factors: {', '.join(FACTOR_NAMES)}")
    axes = []
    for name, size in zip(FACTOR_NAMES, SIZES):
        chosen = spec.get(name)
        if chosen is None:
            axes.append(np.arange(size))
            continue
        values = [chosen] if isinstance(chosen, (str, int, np.integer)) else list(chosen)
        if not values:
            raise ValueError(f"{name}: an empty list of values allows no image; name at least one value")
        axes.append(np.unique([_value_code(name, v) for v in values]))
    return tuple(axes)


def count(*specs: Spec) -> int:
    """How many factor tuples every one of ``specs`` allows (the size of their intersection), without
    enumerating them: each spec allows a product of per-factor sets, and so does their intersection."""
    per_spec = [allowed(spec) for spec in specs] or [allowed({})]
    return math.prod(len(reduce(np.intersect1d, axes)) for axes in zip(*per_spec))


def select(spec: Spec) -> np.ndarray:
    """The (N, 7) int64 codes of every factor tuple ``spec`` allows, in row-major (flat-index) order.

    ``spec`` maps a factor name to a value (by name or index) or to a list of values meaning any of
    them; factors it leaves out are free. ``select({"object_color": "red", "object_shape": "cone"})``
    gives the 2 * 3 * 3 * 40 * 40 = 28,800 red cones.
    """
    grid = np.meshgrid(*allowed(spec), indexing="ij")
    return np.stack([g.reshape(-1) for g in grid], axis=-1).astype(np.int64)


class FactorSource(ABC):
    """Images for MPI3D factor tuples: ``images`` maps (N, 7) int codes to (N, 3, S, S) uint8.

    S is 64 for MPI3D and the rendered scenes; a study resizes to its own image size.
    """

    name: str
    factor_names: tuple[str, ...] = FACTOR_NAMES
    factor_values: tuple[tuple[str, ...], ...] = tuple(FACTORS.values())

    @abstractmethod
    def images(self, codes: np.ndarray) -> torch.Tensor:
        """(N, 7) int codes in ``factor_names`` order -> (N, 3, S, S) uint8, row i showing codes[i]."""


# A factor source is made by a factory (data_root) -> FactorSource; sources that render ignore the root.
FactorSourceFactory = Callable[[str | None], FactorSource]
FACTOR_SOURCES: Registry[FactorSourceFactory] = Registry("factor source")


"""Montage of a factor source: one row per factor, varying it alone from one base tuple.

Each row is labelled with the factor's name and each tile with the value; the two 40-step axes show
8 evenly spaced values. The base is the normal object of paper 000 §5.1's Figure 1 (a red cone),
large so that the shapes read at 64 x 64, seen from the center camera.

    python scripts/scene_montage.py --out docs/scenes_montage.png
    python scripts/scene_montage.py --source mpi3d_real --data-root ~/data --out mpi3d_montage.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from adcore.data.factors import FACTORS, select  # noqa: E402
from adcore.data.sources import factor_source  # noqa: E402

BASE = {"object_color": "red", "object_shape": "cone", "object_size": "large", "camera_height": "center",
        "background_color": "purple", "horizontal_axis": 10, "vertical_axis": 15}
AXIS_STEPS = 8  # tiles shown for a 40-step axis


def rows() -> list[tuple[str, list[str], np.ndarray]]:
    """Per factor: its name, the values shown and their codes (n, 7), the other factors at BASE."""
    out = []
    for factor, values in FACTORS.items():
        shown = [values[i] for i in np.linspace(0, len(values) - 1, AXIS_STEPS).round().astype(int)] \
            if len(values) > AXIS_STEPS else list(values)
        codes = np.concatenate([select({**BASE, factor: value}) for value in shown])
        out.append((factor, shown, codes))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--source", default="scenes", help="a registered factor source (default: scenes)")
    parser.add_argument("--data-root", default=None, help="data root of sources read from files (MPI3D)")
    args = parser.parse_args()
    source = factor_source(args.source, args.data_root)
    table = rows()
    width = max(len(shown) for _, shown, _ in table)
    fig, axes = plt.subplots(len(table), width, figsize=(1.35 * width + 1.6, 1.55 * len(table)), squeeze=False)
    for r, (factor, shown, codes) in enumerate(table):
        images = source.images(codes).permute(0, 2, 3, 1).numpy()  # (n, S, S, 3)
        for c in range(width):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(shown):
                ax.axis("off")
                continue
            ax.imshow(images[c], interpolation="nearest")
            ax.set_title(shown[c], fontsize=9, pad=2)
        axes[r, 0].set_ylabel(factor, fontsize=10, rotation=0, ha="right", va="center", labelpad=8)
    base = ", ".join(f"{k}={v}" for k, v in BASE.items())
    fig.suptitle(f"{source.name}: each row varies one factor from {base}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

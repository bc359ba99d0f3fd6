"""The figure registry and what every figure shares: PNG and SVG side by side, a caption with the budget."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pandas as pd

from adcore.registry import Registry

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tune.study import Study

FigureFn = Callable[["Study", pd.DataFrame, Path], "Path | None"]
FIGURES: Registry[FigureFn] = Registry("figure")


def pyplot():
    """matplotlib's pyplot on the file-only backend (no display on workers or CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finished(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "ok"] if "status" in frame else frame


def save(fig: "Figure", folder: Path, stem: str, caption: str = "") -> Path:
    """Write ``stem.png`` and ``stem.svg`` with the caption (the budget) under the axes."""
    if caption:
        fig.text(0.01, 0.005, caption, fontsize=7, color="dimgray", ha="left", va="bottom", wrap=True)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
    else:
        fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "svg"):
        fig.savefig(folder / f"{stem}.{suffix}", dpi=150)
    pyplot().close(fig)
    return folder / f"{stem}.png"

"""A study's figures, drawn from ``trials.csv`` alone so they can be rebuilt without training.

Every grid study gets its per-row figure (``rows``) and every search its search plot (``search``);
a study asks for more by name under ``figures:``. Adding a figure is one module here with one
``@FIGURES.register("name")`` function ``(study, frame, folder) -> written PNG or None``.
"""
from dashboards.figures import alpha, baseline_gain, minor_mode, rows, search, steps  # noqa: F401  (registration)
from dashboards.figures.base import FIGURES, FigureFn, draw, save

__all__ = ["FIGURES", "FigureFn", "draw", "save"]

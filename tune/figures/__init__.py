"""A study's figures, drawn from ``trials.csv`` alone so they can be rebuilt without training.

Every grid study gets its per-row figure and every search its search plot (``tune/aggregate.py``);
a study asks for more by name under ``figures:``. Adding a figure is one module here with one
``@FIGURES.register("name")`` function ``(study, frame, folder) -> written PNG or None``.
"""
from tune.figures.base import FIGURES, FigureFn, save

from tune.figures import alpha, baseline_gain, minor_mode, steps  # noqa: E402,F401  (registration)

__all__ = ["FIGURES", "FigureFn", "save"]

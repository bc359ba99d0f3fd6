"""A study's figures, drawn from ``trials.csv`` alone so they can be rebuilt without training.

Every grid study gets its per-row figure (``rows``), and where its table has them the paired
differences to ``table.compare_to`` and the critical-difference diagram; every search gets its search
plot (``search``) and a search over several objectives its Pareto front (``pareto``); a study asks for more by name under ``figures:``. Adding a figure is one module here with one
``@FIGURES.register("name")`` function ``(study, frame, folder) -> written PNG or None``. A figure that can
set the run beside others (the alpha curve marks what search runs chose) also registers in COMPARISONS
under the same name; it sees only the runs named on the command line (``aggregate.py RUN --compare OTHER``).
"""
from dashboards.figures import alpha, baseline_gain, colour_robustness, interventions, minor_mode, pareto  # noqa: F401
from dashboards.figures import rows, search, significance, steps  # noqa: F401
from dashboards.figures.base import COMPARISONS, FIGURES, Compared, FigureFn, draw, save

__all__ = ["COMPARISONS", "FIGURES", "Compared", "FigureFn", "draw", "save"]

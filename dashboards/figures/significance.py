"""The statistics under a grid table as figures: each row's paired difference to ``table.compare_to``
over units (folds, seeds averaged within each) with its intervals (``paired_differences``), and
Demšar's critical-difference diagram of the rows' mean ranks, with Nemenyi's groups only where
Friedman's test rejects (``critical_difference``). Both are drawn by default where the table has them."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboards.figures.base import FIGURES, save
from dashboards.metrics import metric_label
from dashboards.significance import significance
from studyspec.schema import Study


@FIGURES.register("paired_differences")
def paired_differences_figure(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    from dashboards.stat_plots import interval_plot

    result = significance(study, frame)
    if result is None or not result.pooled:
        return None
    fig = interval_plot(result.pooled, result.unit_text, metric_label(result.metric, study.table.percent))
    return save(fig, folder, f"paired_{result.metric}_vs_{result.reference}")


@FIGURES.register("critical_difference")
def critical_difference_figure(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    from dashboards.stat_plots import cd_diagram

    result = significance(study, frame)
    if result is None or result.ranks is None or result.ranks.n < 1:
        return None
    fig = cd_diagram(result.ranks, metric_label(result.metric, study.table.percent))
    return save(fig, folder, f"critical_difference_{result.metric}", tight=False)

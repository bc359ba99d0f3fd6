"""A run's results cells as the study's grid labels: trials.csv holds each grid value as the trial
config has it (a list or mapping as JSON), tables and figures group by its label (``value_label``)."""
from __future__ import annotations

import json
from typing import Any

import pandas as pd

from studyspec.schema import Study, value_label


def _label_of_cell(cell: Any) -> Any:
    """A trials.csv cell as its grid value's label: a JSON list or mapping is read first."""
    if isinstance(cell, str) and cell[:1] in "[{":
        try:
            return value_label(json.loads(cell))
        except ValueError:
            return cell
    return cell


def labelled(study: Study, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each grid axis's values as ``Study.labels`` gives them. An axis of lists (a set of factor
    values) is also a config key, so the row holds the list itself, which trials.csv writes as JSON."""
    axes = [axis for axis in study.grid if axis in frame]
    return frame.assign(**{axis: frame[axis].map(_label_of_cell) for axis in axes}) if axes else frame

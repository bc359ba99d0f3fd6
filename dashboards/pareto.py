"""A search's trials as the table and figures read them: the searched trials apart from the repeats of
the best, the trials the validation metric chose, and the Pareto front of a search over several
objectives (validation metric against cost), all from trials.csv."""
from __future__ import annotations

import numpy as np
import pandas as pd

from adcore.row import Status
from studyspec.schema import ARM_AXIS, Study

REPEAT_OF = "repeat_of"  # the label of a repeat of the best (tune/repeats.py): the searched trial it repeats


def searched(frame: pd.DataFrame) -> pd.DataFrame:
    """The trials the searcher proposed (not the repeats of the best)."""
    return frame[frame[REPEAT_OF].isna()] if REPEAT_OF in frame else frame


def repeats(frame: pd.DataFrame) -> pd.DataFrame:
    """The repeats of each arm's best on further seeds (``search.repeat_best``)."""
    return frame[frame[REPEAT_OF].notna()] if REPEAT_OF in frame else frame.iloc[:0]


def arm_of(study: Study, frame: pd.DataFrame) -> pd.Series:
    """Each trial's arm as a string ('' when the search is not over arms)."""
    if study.search is not None and study.search.arms and ARM_AXIS in frame:
        return frame[ARM_AXIS].astype(str)
    return pd.Series("", index=frame.index)


def chosen(study: Study, frame: pd.DataFrame) -> list[str]:
    """The trial ids the validation metric chose: the best finished searched trial of each arm (ties: the
    lower id), as the repeats of the best name them where they ran."""
    again = repeats(frame)
    named = sorted({str(v) for v in again[REPEAT_OF] if str(v) != "-"}) if len(again) else []
    if named:
        return named
    ok = searched(frame)
    ok = ok[(ok["status"] == Status.OK) & ok[study.selection_metric].notna()]
    if ok.empty:
        return []
    ranked = ok.assign(_arm=arm_of(study, ok)).sort_values(
        [study.selection_metric, "trial_id"], ascending=[study.selection_mode == "min", True], kind="stable")
    return sorted(ranked.groupby("_arm", sort=False).head(1)["trial_id"].astype(str))


def pareto_front(study: Study, frame: pd.DataFrame) -> pd.Series:
    """Whether each finished searched trial is on the Pareto front of the study's objectives: no other
    trial is at least as good in every objective and better in one. Rows not finished are False."""
    objectives = study.objectives
    ok = (frame["status"] == Status.OK) & frame[[m for m, _ in objectives]].notna().all(axis=1)
    if REPEAT_OF in frame:
        ok &= frame[REPEAT_OF].isna()
    # (trials, objectives), every objective turned into "larger is better"
    values = np.column_stack([frame[m].to_numpy(float) * (1 if mode == "max" else -1) for m, mode in objectives])
    candidates = np.flatnonzero(ok.to_numpy())
    front = pd.Series(False, index=frame.index)
    for i in candidates:
        others = values[candidates]
        dominated = ((others >= values[i]).all(axis=1) & (others > values[i]).any(axis=1)).any()
        front.iloc[i] = not dominated
    return front

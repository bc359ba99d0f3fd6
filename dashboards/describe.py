"""Words about a run that tables and figures share: the budget its rows ran at, a column's common value."""
from __future__ import annotations

from typing import Any

import pandas as pd


def common_value(frame: pd.DataFrame, column: str) -> Any:
    """The column's one value, values joined by '/' where rows differ, '–' where it is missing."""
    values = frame[column].dropna().unique() if column in frame else []
    return values[0] if len(values) == 1 else ("/".join(map(str, values)) if len(values) else "–")


def budget_text(frame: pd.DataFrame, searched: set[str] = frozenset()) -> str:
    """The budget the rows ran at, in words (values that differ between rows are joined by /)."""
    c = lambda column: "searched" if column in searched else common_value(frame, column)  # noqa: E731
    optimizer = str(c("optim.optimizer")) if "optim.optimizer" in frame else "sgd"
    if optimizer == "adam":
        step = f"Adam lr {c('optim.lr')} (L2 {c('optim.weight_decay')}"
    else:
        step = (f"{optimizer.upper()} lr {c('optim.lr')} (momentum {c('optim.momentum')}, "
                f"weight decay {c('optim.weight_decay')}")
    return (f"{c('data.dataset')} {c('data.benchmark')}, OE corpus {c('data.oe_corpus')}; backbone "
            f"{c('model.backbone')}; {c('data.image_size')} px; {c('data.n_normal')} normal + {c('data.n_oe')} OE "
            f"training images, {c('data.n_val')} validation images per side, {c('data.n_test')} test images; "
            f"{c('optim.epochs')} epochs of batch {c('optim.batch_size')}, {step}, x{c('optim.lr_gamma')} at "
            f"{c('optim.lr_milestones')} of training)")


def short_budget(frame: pd.DataFrame) -> str:
    """A figure caption's budget: what sets the level of the numbers, in one line."""
    c = lambda column: common_value(frame, column)  # noqa: E731
    return (f"budget: {c('data.dataset')}, {c('model.backbone')}, {c('data.image_size')} px, "
            f"{c('data.n_normal')} normals, {c('optim.epochs')} epochs of {c('optim.batch_size')}")

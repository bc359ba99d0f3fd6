"""The shipped studies at a glance: each file of studies/, what it reproduces and how many trials its
embedded default runs. The README's study table is this module's output, checked by tests/test_docs.py:

    python -m studyspec.catalog
"""
from __future__ import annotations

from pathlib import Path

import yaml

from studyspec.schema import Study

STUDIES = Path(__file__).resolve().parents[1] / "studies"


def trials(study: Study) -> str:
    """'70 = 7 arm × 5 data.fold × 2 seed', '12 searched by Optuna tpe', or with the repeats of each arm's
    best '30 searched by Optuna tpe + 9 repeats of the best'."""
    if study.search:
        again = study.trials - study.search.num_samples
        return (f"{study.search.num_samples} searched by Optuna {study.search.algorithm}"
                + (f" + {again} repeats of the best" if again else ""))
    axes = [f"{len(values)} {axis}" for axis, values in study.grid.items() if len(values) > 1]
    return f"{study.trials} = {' × '.join(axes)}" if len(axes) > 1 else str(study.trials)


def table(folder: Path = STUDIES) -> str:
    """The markdown table of every study file in ``folder``."""
    lines = ["| study | reproduces | trials (embedded default) |", "|---|---|---|"]
    for path in sorted(folder.glob("*.yaml")):
        study = Study.model_validate(yaml.safe_load(path.read_text()))
        about = (study.reproduces or study.description).replace("|", "\\|")
        lines.append(f"| `{path.stem}` | {about} | {trials(study)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())

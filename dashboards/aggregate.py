"""A run's table, figures and HTML report from its results files, without training anything:

    python dashboards/aggregate.py results/<study>/<run-id>

writes ``table.json`` (the table as data) and from it ``table.md``, ``table.csv``, ``table.tex``,
the figures in ``figures/`` and ``report.html`` into the run directory, and prints table.md.
tune/run_study.py calls the same function at the end of every study.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from dashboards.figures import draw
from dashboards.spec import SavedStudy
from dashboards.table_formats import write_all
from dashboards.tables import build_table


def aggregate(run_dir: str | Path) -> str:
    """Write the table files and figures of a run; return table.md's text."""
    path = Path(run_dir).resolve()
    study = SavedStudy.from_file(path / "study.yaml")
    frame = study.labelled(pd.read_csv(path / "trials.csv"))
    meta = json.loads((path / "run.json").read_text()) if (path / "run.json").exists() else {}
    markdown = write_all(build_table(study, frame, meta), path)
    draw(study, frame, path / "figures")
    return markdown


def main(argv: list[str] | None = None, prog: str = "python dashboards/aggregate.py") -> int:
    import argparse

    from dashboards.report import write_report

    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="results/<study>/<run-id> of a finished (or interrupted) run")
    args = parser.parse_args(argv)
    print(aggregate(args.run_dir))
    print(f"report: {write_report(args.run_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

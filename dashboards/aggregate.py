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

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboards.figures import draw  # noqa: E402
from dashboards.spec import labelled  # noqa: E402
from dashboards.table_formats import write_all  # noqa: E402
from dashboards.tables import build_table  # noqa: E402
from studyspec.schema import Study  # noqa: E402


def aggregate(run_dir: str | Path) -> str:
    """Write the table files and figures of a run; return table.md's text."""
    path = Path(run_dir).resolve()
    study = Study.read(path / "study.yaml")
    frame = labelled(study, pd.read_csv(path / "trials.csv"))
    meta = json.loads((path / "run.json").read_text()) if (path / "run.json").exists() else {}
    markdown = write_all(build_table(study, frame, meta), path)
    draw(study, frame, path / "figures")
    return markdown


def main(argv: list[str] | None = None) -> int:
    import argparse

    from dashboards.report import write_report

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="results/<study>/<run-id> of a finished (or interrupted) run")
    args = parser.parse_args(argv)
    print(aggregate(args.run_dir))
    print(f"report: {write_report(args.run_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

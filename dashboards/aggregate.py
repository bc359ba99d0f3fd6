"""A run's table, figures and HTML report from its results files, without training anything:

    python dashboards/aggregate.py results/<study>/<run-id>          # or results/<study>: its newest run
    python dashboards/aggregate.py results/alpha_sweep/<grid-run> --compare results/alpha_sweep/<search-run>

writes ``table.json`` (the table as data) and from it ``table.md``, ``table.csv``, ``table.tex``,
the figures in ``figures/`` and ``report.html`` into the run directory, and prints table.md.
``--compare`` names other runs that a comparing figure sets beside this one (the alpha curve marks
the alpha each named search selected); no figure looks for other runs by itself.
tune/run_study.py calls the same function at the end of every study. Exit status: 0 written,
2 the run directory (or a compared one) is missing or unreadable.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from pydantic import ValidationError

from dashboards.figures import Compared, draw
from dashboards.run import Run, find_run, read_trials
from dashboards.spec import labelled
from dashboards.table_formats import write_all
from dashboards.tables import build_table
from studyspec.layout import FIGURES_DIR, RUN_JSON, STUDY_YAML
from studyspec.schema import Study


def aggregate(run_dir: str | Path, compare: Sequence[str | Path] = ()) -> str:
    """Write the table files and figures of a run (beside the ``compare`` runs); return table.md's text."""
    path = find_run(run_dir)
    study = Study.read(path / STUDY_YAML)
    frame = labelled(study, read_trials(path))
    meta = json.loads((path / RUN_JSON).read_text())
    markdown = write_all(build_table(study, frame, meta), path)
    compared = [Compared(run.run_id, run.study, run.trials) for run in map(Run.load, compare)]
    draw(study, frame, path / FIGURES_DIR, compared)
    return markdown


def main(argv: list[str] | None = None, prog: str = "python dashboards/aggregate.py") -> int:
    import argparse

    from dashboards.report import write_report

    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="results/<study>/<run-id> of a finished (or interrupted) run, or "
                                        "results/<study> for its newest run")
    parser.add_argument("--compare", action="append", default=[], metavar="RUN",
                        help="another run a comparing figure sets beside this one (repeatable)")
    args = parser.parse_args(argv)
    try:
        print(aggregate(args.run_dir, args.compare))
        print(f"report: {write_report(args.run_dir)}")
    except (FileNotFoundError, ValidationError) as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Send a study run's MLflow records that the tracking server did not take (it was down, restarting
or slow) from the run's journal, ``<run>/tracking/``; sending twice changes nothing.

    python tune/sync_tracking.py results/ablation_table4/20261123-043702
    python tune/sync_tracking.py results/ablation_table4            # its newest run

The study does this itself when a trial ends, at its end and on --resume; this command is for a
server that came back after the study ended. Exit status: 0 MLflow has everything, 1 it still
lacks some (the server is not answering: run it again later), 2 no such run.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from dashboards.run import find_run
from tune.results import RunDir
from tune.tracking import Tracking, http_defaults


def sync(run: RunDir) -> dict[str, int]:
    """Send every journal of the run; record the MLflow ids in run.json once the parent run exists."""
    meta = run.read_meta()
    if "run_path" not in meta.get("tracking", {}):
        raise FileNotFoundError(f"{run.path}: run.json names no tracking journal (a run made before journals)")
    tracking = Tracking(**{key: meta["tracking"][key] for key in ("uri", "experiment", "run_path", "artifact_root")})
    counts = tracking.sync()
    meta["tracking"].update(tracking.ids())
    run.write_meta(meta)
    return counts


def main(argv: list[str] | None = None, prog: str = "python tune/sync_tracking.py") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="results/<study>/<run-id>, or results/<study> for its newest run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    http_defaults()
    try:
        run = RunDir(find_run(args.run))
        counts = sync(run)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    uri = json.loads(run.run_json.read_text())["tracking"]["uri"]
    print(f"{run.path}: {counts['synced']} runs complete in MLflow at {uri}, {counts['behind']} still behind")
    return 0 if counts["behind"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""What the platform costs on top of the trials: a study's wall time against the sum of its trials'
own times divided by the number of workers, measured from one run.

    python benchmarks/study_overhead.py                                  # Table 4, folds 0-1: 14 trials
    python benchmarks/study_overhead.py studies/adib_search.yaml --smoke
    python benchmarks/study_overhead.py --run-dir results/ablation_table4/<run-id>   # a finished run

Prints, for the Tuner's fit and for the whole run_study call (Ray and MLflow start-up, tables; not imports):
    efficiency   = sum(trial total_s) / workers / wall            (target >= 0.9 on 2 workers)
    overhead     = (wall x workers - sum(trial total_s)) / trials (target < 2 s per trial)
where a trial's total_s is adcore's own time for it (data, model, training, evaluation), so
everything else (Ray scheduling, actor start, MLflow logging, checkpoints through Tune, idle
workers at the end) counts as overhead. It then splits the overhead into the start-up paid once
and what each further trial costs on a reused worker (between trials, and inside the trainable).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import pandas as pd

from adcore.row import Status
from tune.results import RunDir
from tune.run_study import main as run_study


def report(run: RunDir, command_wall: float | None) -> str:
    meta = json.loads(run.run_json.read_text())
    frame = pd.read_csv(run.trials_csv)
    done = frame[frame["status"] == Status.OK]
    workers, n, busy = meta["workers"], len(done), done["total_s"].sum()
    lines = [f"{run.path}: {n} finished trials of {len(frame)}, {workers} workers; "
             f"sum of trial times {busy:.1f} s (ideal wall {busy / workers:.1f} s)",
             f"{'':<22}{'wall s':>9}{'efficiency':>12}{'overhead s/trial':>18}"]
    for name, wall in (("Tuner.fit", meta["wall_s"]), ("whole run_study call", command_wall)):
        if wall:
            lines.append(f"{name:<22}{wall:>9.1f}{busy / workers / wall:>12.3f}{(wall * workers - busy) / n:>18.2f}")
    # Where the overhead goes: once per worker (its start), and per trial (between two trials on
    # the same reused worker process, and inside the trainable around run_trial).
    inside = (done["wall_s"] - done["total_s"]).mean()
    if "fit_started_at" in meta and "worker_pid" in done:  # runs made before these were recorded lack them
        startup = done["started_at"].min() - meta["fit_started_at"]
        ordered = done.sort_values("started_at")
        workers_of = ordered.groupby(["ray_node_id", "worker_pid"])["started_at"]
        gap = (workers_of.shift(-1) - ordered["ended_at"]).dropna().mean()
        lines += [f"start-up until the first trial runs (Ray actors, imports): {startup:.1f} s, once",
                  f"per trial on a reused worker: {gap:.2f} s between trials + {inside:.2f} s inside the trainable "
                  f"(MLflow, checkpoint hand-off) = {gap + inside:.2f} s"]
    else:
        lines.append(f"inside the trainable (MLflow, checkpoint hand-off): {inside:.2f} s per trial")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", nargs="?", default=str(ROOT / "studies" / "ablation_table4.yaml"))
    parser.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                        help="passed to run_study (default: --set grid.data.fold=[0,1])")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--run-dir", type=Path, help="report on a finished run instead of running one")
    args = parser.parse_args(argv)
    if args.run_dir:
        print(report(RunDir(args.run_dir.resolve()), None))
        return 0
    sets = args.set if args.set is not None else ["grid.data.fold=[0,1]"]
    out = Path(tempfile.mkdtemp(prefix="study-overhead-"))
    started = time.perf_counter()
    code = run_study([args.study, "--out", str(out), *(f"--set={s}" for s in sets), *(["--smoke"] if args.smoke else [])])
    wall = time.perf_counter() - started
    if code != 0:
        return code
    (run,) = [RunDir(p) for p in out.glob("*/*") if (p / "run.json").exists()]
    print("\n" + report(run, wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())

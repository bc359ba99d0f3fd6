"""Run a study's grid without Ray, MLflow or Optuna: one process per trial, the same run directory.

For machines that have torch but not the orchestration stack (the lent GPU machine). The study file
is loaded and expanded exactly as tune/run_study.py does it (overlays, --set, every trial config and
its data checked before anything runs); each trial is `python -m adcore.run` in a process of its
own, --jobs at a time; and the run directory it writes, results/<study>/<run-id>/ (study.yaml,
run.json, points/, rows/, epochs/, trials/, trials.csv, then the table, figures and report.html), is
the one tune/ writes, so dashboards/ read it alike: here, or copied to another machine
(`python dashboards/aggregate.py RUN`, `python dashboards/compare.py RUN_A RUN_B`).

    python scripts/adcore_grid.py studies/ablation_table4.yaml --jobs 4 --set runtime.device=cuda
    python scripts/adcore_grid.py studies/ablation_table4.yaml --budget paper_cifar10 --presets a2,a7 --folds 0-4
    python scripts/adcore_grid.py studies/ablation_table4.yaml --resume            # the newest run, what is left

A search study needs Optuna and Ray Tune (tune/run_study.py); a scheduler is not applied here (every
trial runs its epochs; the saved study says so). Exit status: 0 at least one trial of the run
finished, 1 none did (every trial failed) or the run was interrupted, 2 the study or an option is invalid.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

from adcore.row import Status
from studyspec.layout import read_jsonl
from studyspec.schema import Study
from tune.data_check import check_study_data
from tune.grid import GridPoint, expand, trial_row, unended_trial_row
from tune.progress import StudyClock, trial_line
from tune.results import RunDir, atomic_write, git_commit, write_trials_csv
from tune.resume import remaining
from tune.study import StudyError, load_study
from tune.trial_store import TrialStore

RUNNER = "scripts/adcore_grid.py"
AXES = {"presets": "arm", "folds": "data.fold", "seeds": "seed"}  # shorthand option -> the grid axis it sets


def parse_range(text: str) -> list[int]:
    """'0-2,5' -> [0, 1, 2, 5]; anything else is an argparse error naming the expected form."""
    values: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            values += list(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of integers or ranges, e.g. 0-4 or 0,2,5") from None
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} names no value, e.g. 0-4 or 0,2,5")
    return values


def parse_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names no preset, e.g. a2,a7")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python scripts/adcore_grid.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", help="the study YAML (studies/*.yaml): its grid, base config and table")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="as tune/run_study.py: a trial config key (optim.lr=0.01), a grid axis narrowed "
                             "(data.fold=0) or a study key (grid.seed=[0,1,2]); repeatable")
    parser.add_argument("--smoke", action="store_true", help="the study's tiniest budget and grid")
    parser.add_argument("--budget", metavar="NAME", help="apply a named budget of the study (e.g. paper)")
    parser.add_argument("--presets", type=parse_names, metavar="A,B", help="the arm axis: these presets, e.g. a2,a7")
    parser.add_argument("--folds", type=parse_range, metavar="RANGES", help="the data.fold axis, e.g. 0-4 or 0,2,5")
    parser.add_argument("--seeds", type=parse_range, metavar="RANGES", help="the seed axis, e.g. 0-2")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="trials at once, each in its own process (default 1; on a GPU, several share it)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results root (default: ./results)")
    parser.add_argument("--resume", nargs="?", const="latest", metavar="RUN_ID",
                        help="run what is left of a run of this study (default: the newest): trials without a "
                             "finished row, from their checkpoints")
    parser.add_argument("--no-table", action="store_true", help="write the rows and trials.csv only; the table, "
                        "figures and report later with python dashboards/aggregate.py RUN")
    parser.add_argument("--dry-run", action="store_true", help="check the study and its data, list the trials, exit")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"argument --jobs: must be at least 1, got {args.jobs}")
    args.command = shlex.join(["python", RUNNER, *(sys.argv[1:] if argv is None else argv)])
    return args


def load(args: argparse.Namespace) -> tuple[Study, RunDir | None, list[str]]:
    """The study as this runner runs it, the run to resume (if any), and notes on what was changed."""
    if args.resume is not None:
        if args.set or args.smoke or args.budget or args.presets or args.folds or args.seeds:
            raise StudyError("--resume continues a run with the study it saved; leave out --set, --smoke, --budget, "
                             "--presets, --folds and --seeds")
        run = RunDir.find(args.out, load_study(args.study).name, None if args.resume == "latest" else args.resume)
        return load_study(run.study_yaml), run, []
    sets = list(args.set) + [f"grid.{AXES[option]}=[{','.join(map(str, getattr(args, option)))}]"
                             for option in AXES if getattr(args, option) is not None]
    study = load_study(args.study, sets, args.smoke, args.budget)
    if study.search is not None:
        raise StudyError(f"{args.study}: a search needs Optuna and Ray Tune; run it with tune/run_study.py "
                         "(this runner runs grids)")
    notes = []
    if study.scheduler.name != "fifo":  # recorded in the saved study, so its table says so
        study = load_study(args.study, [*sets, "scheduler.name=fifo"], args.smoke, args.budget)
        notes.append("no scheduler without Ray Tune: every trial runs all its epochs (scheduler.name=fifo)")
    return study, None, notes


class Processes:
    """The trials' processes now running, so that Ctrl-C can stop them and leave their trials unended."""

    def __init__(self) -> None:
        self.running: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def start(self, command: list[str]) -> subprocess.Popen:
        with self.lock:
            if self.stopping.is_set():
                raise KeyboardInterrupt
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            self.running.add(process)
        return process

    def done(self, process: subprocess.Popen) -> None:
        with self.lock:
            self.running.discard(process)

    def stop(self) -> None:
        with self.lock:
            self.stopping.set()
            for process in self.running:
                process.terminate()


def run_trial_process(run: RunDir, point: GridPoint, commit: str, processes: Processes) -> dict[str, Any] | None:
    """One trial as `python -m adcore.run` in its own process; its row, completed as tune/ completes rows
    (None when Ctrl-C stopped it: it stays unended). A process that ends without a row (killed, out of
    memory) leaves an ``error`` row: --resume runs it again from its checkpoint."""
    from adcore.train import load_checkpoint

    store = TrialStore(run.path, point.key)
    store.record(point.key, {})
    config, work = store.path / "config.json", store.path / "work"
    atomic_write(config, json.dumps(point.config))
    work.mkdir(exist_ok=True)
    checkpoint = load_checkpoint(work)
    command = [sys.executable, "-m", "adcore.run", "--quiet", "--config", str(config), "--checkpoint-dir", str(work),
               "--epochs-file", str(run.epochs_dir / f"{point.key}.jsonl")]
    started = time.time()
    process = processes.start(command)
    store.log_attempt({"at": started, "resumed_from_epoch": checkpoint["epoch"] if checkpoint else 0,
                       "unreadable": [], "worker_pid": process.pid,
                       "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", "")})
    stdout, stderr = process.communicate()
    processes.done(process)
    if processes.stopping.is_set():
        return None
    printed = stdout.strip().splitlines()
    if printed:
        row = trial_row(run, {"point": point.key}, json.loads(printed[-1]), commit)
        shutil.rmtree(work, ignore_errors=True)  # the row is final: no start of this trial needs its checkpoint
    else:
        message = (stderr.strip().splitlines() or [f"the trial's process ended with status {process.returncode}"])[-1]
        row = unended_trial_row(run, {"point": point.key}, last_epoch(run, point.key), Status.ERROR, commit,
                                message[-2000:])
    run.write_row(row)
    return row


def last_epoch(run: RunDir, key: str) -> dict[str, Any]:
    """The last epoch a trial reported (its epochs file), for the row of a trial that returned none."""
    return (read_jsonl(run.epochs_dir / f"{key}.jsonl") or [{}])[-1]


def run_grid(args: argparse.Namespace, study: Study, points: list[GridPoint], run: RunDir, resuming: bool) -> bool:
    """Run the points, printing a line per ended trial; False if interrupted (Ctrl-C)."""
    meta = run.read_meta() if resuming else {"run_id": run.run_id, "study": study.name, "git_commit": git_commit(),
                                              "runner": RUNNER, "started_at": time.time(), "wall_s": 0.0}
    if not resuming:
        run.study_yaml.write_text(study.to_yaml())
    started = time.time()
    meta.update(workers=args.jobs, fit_started_at=started)
    meta.setdefault("sessions", []).append({"command": args.command, "fit_started_at": started})
    run.write_meta(meta)
    run.write_points(point.as_dict() for point in points)
    run.epochs_dir.mkdir(exist_ok=True)
    clock, processes = StudyClock(len(points)), Processes()
    print(f"{'resuming' if resuming else 'running'} {study.name}: {len(points)} of {study.trials} trials, "
          f"{args.jobs} at a time, without Ray; results in {run.path}", flush=True)
    pool = ThreadPoolExecutor(args.jobs)
    futures = [pool.submit(run_trial_process, run, point, meta["git_commit"], processes) for point in points]
    try:
        for future in as_completed(futures):
            row = future.result()
            print(trial_line(clock, row["trial_id"], row["status"], row, ("test_ap", study.selection_metric), row["epochs_run"],
                             row["wall_s"]) + (f"  {row['message'][:200]}" if row["status"] != Status.OK else ""),
                  flush=True)
        return True
    except KeyboardInterrupt:
        processes.stop()
        pool.shutdown(wait=False, cancel_futures=True)
        print("interrupted: the trials that ended have their rows", flush=True)
        return False
    finally:
        pool.shutdown(wait=True)
        meta["wall_s"] = meta.get("wall_s", 0.0) + time.time() - started
        run.write_meta(meta)


def finish(args: argparse.Namespace, study: Study, run: RunDir, complete: bool) -> int:
    """trials.csv, then the table, figures and report where dashboards/' libraries are installed."""
    ended = {row["trial_id"] for row in run.rows()}
    unfinished = [unended_trial_row(run, {"point": point["key"]}, {}, Status.UNFINISHED, run.read_meta()["git_commit"])
                  for point in map(run.read_point, sorted(p.stem for p in run.points_dir.glob("*.json")))
                  if point["key"] not in ended]
    frame = write_trials_csv(run, unfinished)
    try:
        from dashboards.aggregate import aggregate
        from dashboards.report import write_report
    except ImportError as error:
        print(f"no table here ({error}); on a machine with the dashboards' libraries: "
              f"python dashboards/aggregate.py {run.path}", flush=True)
    else:
        if not args.no_table:
            print(f"\n{aggregate(run.path)}\nreport:  {write_report(run.path)}")
    print(f"results: {run.trials_csv}")
    if not complete or unfinished:
        print(f"interrupted: continue with\n  python {RUNNER} {args.study} --out {args.out} --resume {run.run_id}")
        return 1
    if not (frame["status"] == Status.OK).any():
        print("no trial finished: every row says why (status, message)", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        study, run, notes = load(args)
        check_study_data(study, str(args.study))
        points = expand(study, where=str(args.study))
    except (StudyError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}", flush=True)
    if args.dry_run:
        print(f"{len(points)} trials of {study.name}: " + " ".join(point.key for point in points))
        return 0
    resuming = run is not None
    todo = remaining(study, points, run).points
    run = run or RunDir.create(args.out.resolve(), study.name)
    complete = run_grid(args, study, todo, run, resuming) if todo else True
    return finish(args, study, run, complete)


if __name__ == "__main__":
    sys.exit(main())

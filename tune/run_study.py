"""Run a study: every trial on Ray Tune, searched by Optuna where the study asks, tracked in
MLflow, aggregated into the paper-style table; the trial its validation metric selects keeps its
trained detector (runtime.keep_model, tune/models.py).

    adstudy run ablation_table4                       # a shipped study by name, or a YAML file
    adstudy run studies/ablation_table4.yaml --set data.fold=0 --set optim.epochs=5
    adstudy run adib_search --smoke
    adstudy run ablation_table4 --dry-run
    adstudy run ablation_table4 --resume              # the newest run
    RAY_ADDRESS=10.0.0.1:6379 adstudy run ablation_table4 --budget paper

(``python tune/run_study.py`` takes the same arguments.)

Results go to <out>/<study>/<run-id>/ (trials.csv, table.md/.csv/.tex, figures/, tune/ state);
MLflow to sqlite:///<out>/mlflow.db unless --tracking-uri (or MLFLOW_TRACKING_URI) names one.
Exit status: 0 the study finished, 1 it was interrupted (resume it) or no trial succeeded,
2 the study file or an option is invalid, 3 it lost its Ray cluster (or found none at --address):
the trials that ended are saved; resume it once Ray is back.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adcore.config import flatten
from adcore.row import Status
from studyspec.schema import Study
from tune.data_check import check_study_data
from tune.grid import GridPoint, expand, trial_id, unended_trial_row
from tune.models import finish_models
from tune.mps import gpu_sharing, mps_problem
from tune.ray_watch import LOST_RAY, RayWatch, unreachable
from tune.results import RunDir, git_commit, write_trials_csv
from tune.resume import Remaining, done_rows, remaining
from tune.shipped import resolve
from tune.space import resolve_space
from tune.study import StudyError, load_study
from tune.tracking import STUDY, Tracking, default_tracking_uri, http_defaults, is_local
from tune.trial_store import TRIALS_DIR, TrialStore

ROOT = Path(__file__).resolve().parents[1]  # where this driver's packages are: its Ray workers import them there

if TYPE_CHECKING:
    import pandas as pd

MLFLOW_STATUS = {Status.OK: "FINISHED", Status.FAILED: "FAILED", Status.ERROR: "FAILED", Status.STOPPED_EARLY: "KILLED",
                 Status.UNFINISHED: "KILLED"}


def parse_args(argv: list[str] | None, prog: str = "python tune/run_study.py") -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", nargs="?", help="a study YAML file, or the name of a shipped study (adstudy studies)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a trial config key (optim.lr=0.01), narrow a grid axis (data.fold=0) or "
                             "change a study key (scheduler.name=asha, grid.seed=[0,1,2]); repeatable")
    parser.add_argument("--smoke", action="store_true", help="the tiniest budget and grid: a whole study in about a minute")
    parser.add_argument("--budget", metavar="NAME", help="apply a named budget of the study (e.g. paper)")
    parser.add_argument("--dry-run", action="store_true", help="validate, print the trials and exit")
    parser.add_argument("--resume", nargs="?", const="latest", metavar="RUN_ID",
                        help="continue a run of this study (default: the newest) where it stopped")
    parser.add_argument("--address", default=os.environ.get("RAY_ADDRESS"),
                        help="join this Ray cluster (default: $RAY_ADDRESS, else start a local Ray)")
    parser.add_argument("--num-cpus", type=float, help="local Ray only: CPUs to offer (default: all cores)")
    parser.add_argument("--num-gpus", type=float, help="local Ray only: GPUs to offer (may be logical)")
    parser.add_argument("--node-ip-address", help="local Ray only: the address its node announces (e.g. 127.0.0.1)")
    parser.add_argument("--ray-dashboard", nargs="?", const=8265, type=int, metavar="PORT",
                        help="local Ray only: serve Ray's dashboard on 127.0.0.1:PORT (default 8265) while the study runs")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results root (default: ./results)")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                        help="MLflow tracking URI (default: sqlite:///<out>/mlflow.db)")
    parser.add_argument("--optuna-storage", default=os.environ.get("OPTUNA_STORAGE"), metavar="URL",
                        help="a search's Optuna storage, e.g. postgresql+psycopg://user:password@host:5432/optuna "
                             "(default: $OPTUNA_STORAGE, else optuna.db in the run directory); the study is named "
                             "<study>/<run-id>")
    args = parser.parse_args(argv)
    if _is_study_file(args.resume) and not _is_study_file(args.study):  # --resume studies/x.yaml [RUN_ID]
        args.study, args.resume = args.resume, args.study or "latest"
    if args.study is None:
        parser.error(f"the study is missing, e.g. {prog} studies/ablation_table4.yaml --resume")
    args.command = shlex.join([*prog.split(), *(sys.argv[1:] if argv is None else argv)])
    args.prog = prog
    return args


def _is_study_file(value: str | None) -> bool:
    return value is not None and value.endswith((".yaml", ".yml"))


def main(argv: list[str] | None = None, prog: str = "python tune/run_study.py") -> int:
    args = parse_args(argv, prog)
    try:
        args.study = resolve(args.study)
        study, run = _load(args)
        check_study_data(study, str(args.study))  # the data, before anything heavy is imported
        points = expand(study, where=str(args.study))
        space = resolve_space(study, points, str(args.study)) if study.search else {}
        _check_scheduler(study, points, str(args.study))
        problem = mps_problem(study.resources.gpu, study.resources.mps, local=args.address is None)
        if problem is not None:
            raise StudyError(f"{args.study}: resources.mps: {problem}")
        if study.search:  # where its Optuna study lives: a resumed run keeps its own
            from tune.optuna_study import storage_entry

            args.optuna = storage_entry(args.optuna_storage, run.read_meta().get("optuna") if run else None, run)
    except (StudyError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2
    if args.dry_run:
        print(plan(study, points, space))
        return 0
    return _run(args, study, points, space, run)


def _load(args: argparse.Namespace) -> tuple[Study, RunDir | None]:
    """The study to run, and the run directory when resuming (whose saved study wins)."""
    if args.resume is None:
        return load_study(args.study, args.set, args.smoke, args.budget), None
    if args.set or args.smoke or args.budget:
        raise StudyError("--resume continues a run with the study it saved; leave out --set, --smoke and --budget")
    name = load_study(args.study).name
    run = RunDir.find(args.out, name, None if args.resume == "latest" else args.resume)
    if not run.study_yaml.exists():
        raise StudyError(f"{run.path}: the run was stopped before it saved its study.yaml; start a new run instead")
    return load_study(run.study_yaml), run


def _check_scheduler(study: Study, points: list[GridPoint], where: str) -> None:
    """A scheduler can only stop a trial after its grace period, which must fit in the epochs."""
    epochs = max(point.trial.optim.epochs for point in points)
    if study.scheduler.name != "fifo" and study.scheduler.grace_period > epochs:
        raise StudyError(f"{where}: scheduler.grace_period ({study.scheduler.grace_period}) is longer than "
                         f"optim.epochs ({epochs}); lower it or use scheduler.name=fifo")


def plan(study: Study, points: list[GridPoint], space: dict[str, dict[str, Any]]) -> str:
    """What --dry-run prints: the trial count, how it is made up, and every trial."""
    resources = f"{study.resources.cpu:g} cpu, {study.resources.gpu:g} gpu per trial"
    at_once = f"{study.concurrency} at a time" if study.concurrency else "as many at a time as resources allow"
    lines = [f"study {study.name}" + (f": {study.reproduces}" if study.reproduces else "")]
    if study.search:
        search = study.search
        options = "".join(f", {key}={value}" for key, value in search.options.items())
        goals = ", ".join(f"{metric} ({mode})" for metric, mode in study.objectives)
        lines.append(f"{search.num_samples} trials searched by Optuna {search.algorithm} (seed {search.seed}{options}) "
                     f"on {goals}; {resources}, {at_once}; scheduler {study.scheduler.name}")
        lines += [f"  {key}: " + (f"{spec['type']} {spec['choices']}" if "choices" in spec else
                                  f"{spec['type']} [{spec['low']:g}, {spec['high']:g}]")
                  + (f" (arms {', '.join(spec['arms'])})" if "arms" in spec else "") for key, spec in space.items()]
        if search.repeat_best:
            lines.append(f"then the best trial of each arm (by {study.selection_metric}) on {search.repeat_best} more "
                         f"seeds: {search.repeat_best * max(1, len(search.arms))} trials")
    else:
        shape = " x ".join(f"{axis} ({len(values)})" for axis, values in study.grid.items()) or "one trial"
        lines.append(f"{len(points)} trials = {shape}; {resources}, {at_once}; scheduler {study.scheduler.name} "
                     f"on {study.selection_metric}")
    for point in points:
        lines.append(f"  {point.key:<24} " + " ".join(f"{k}={v}" for k, v in point.labels.items()))
    if study.applied:
        lines.append("applied: " + " ".join(study.applied))
    return "\n".join(lines)


def _environment() -> None:
    """Settings that must be in place before Ray starts (measured on this Ray version)."""
    # Tune's experiment state is never read back (tune/resume.py): let Tune save it as rarely as its
    # default allows (at most 5 % of the driver's time), since each save writes every trial.
    os.environ.pop("TUNE_GLOBAL_CHECKPOINT_S", None)
    os.environ["RAY_CHDIR_TO_TRIAL_DIR"] = "0"  # trials run in our working directory, not Ray's temp dir
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # with verbose=0: no Tune tables; our Progress prints one line a trial
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")  # that is the 1 s
    os.environ.setdefault("RAY_AUTH_MODE", "token")  # Ray's ports listen on all interfaces: its token protects them
    http_defaults()  # an unreachable MLflow fails a send at once; the journal keeps what it did not take
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))  # local workers import tune/ and adcore/


def _start_tracking(args: argparse.Namespace, study: Study, run: RunDir, meta: dict[str, Any]) -> Tracking:
    """The MLflow parent run, journaled and sent by the driver before any trial starts (a new
    SQLite store must be created by one process); on --resume, everything not yet in MLflow."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # after mlflow's import, which sets INFO
    if "tracking" in meta:
        tracking = Tracking(**{key: meta["tracking"][key] for key in ("uri", "experiment", "run_path", "artifact_root")})
        tracking.journal(STUDY).set_status("RUNNING")
    else:
        out = args.out.resolve()
        uri = args.tracking_uri or default_tracking_uri(out)
        tracking = Tracking(uri, study.name, str(run.path), str(out / "mlartifacts") if is_local(uri) else None)
        params = {"study.name": study.name, "study.trials": study.trials,
                  "study.scheduler": study.scheduler.name, "study.metric": study.metric,
                  "study.applied": " ".join(study.applied),
                  **{f"study.grid.{axis}": values for axis, values in study.grid.items()},
                  **{f"base.{key}": value for key, value in flatten(study.base).items()}}
        tracking.journal(STUDY).start(run.run_id, params, {
            "study": study.name, "study_run": run.run_id, "git_commit": meta["git_commit"],
            "reproduces": study.reproduces or "", "results_dir": str(run.path)})
    counts = tracking.sync()
    if counts["behind"]:
        print(f"MLflow at {tracking.uri} is not answering: the study runs on and keeps what it would log in "
              f"{tracking.folder} until it answers", flush=True)
    return tracking


def _tracking_meta(tracking: Tracking) -> dict[str, Any]:
    """run.json's tracking entry: where the journals send to, and the MLflow ids once known."""
    return {"uri": tracking.uri, "experiment": tracking.experiment, "run_path": tracking.run_path,
            "artifact_root": tracking.artifact_root, **tracking.ids()}


def _run(args: argparse.Namespace, study: Study, points: list[GridPoint], space: dict[str, dict[str, Any]],
         run: RunDir | None) -> int:
    if args.address and (problem := unreachable(args.address)):  # ray.init would wait minutes, saying little
        print(f"no Ray cluster at --address {args.address}: {problem}; start it (ray start --head) or fix the "
              "address (or RAY_ADDRESS)", file=sys.stderr)
        return LOST_RAY
    _environment()
    from tune.trainable import TrialContext

    resuming = run is not None
    todo = remaining(study, points, run)
    run = run or RunDir.create(args.out.resolve(), study.name)
    meta = run.read_meta() if resuming else {"run_id": run.run_id, "study": study.name, "git_commit": git_commit(),
                                              "started_at": time.time(), "wall_s": 0.0}
    if study.search:
        meta["optuna"] = {"study": f"{study.name}/{run.run_id}", **meta.get("optuna", {}), **args.optuna}
    if not resuming:
        run.study_yaml.write_text(study.to_yaml())
        run.write_meta(meta)  # a run that has run.json can be resumed, however early its driver dies
    tracking = _start_tracking(args, study, run, meta)  # before any trial starts
    meta["tracking"] = _tracking_meta(tracking)
    run.write_meta(meta)
    context = TrialContext(study.name, str(run.path), meta["git_commit"], tracking)
    unfinished: list[dict[str, Any]] = []
    if todo.empty:
        print(f"{study.name}: every trial of {run.path} has ended; writing its results", flush=True)
    else:
        unfinished = _fit(args, study, todo, space, run, meta, context, resuming)
    return _finish(args, study, run, meta, tracking, unfinished)


def _fit(args: argparse.Namespace, study: Study, todo: Remaining, space: dict[str, dict[str, Any]],
         run: RunDir, meta: dict[str, Any], context: Any, resuming: bool) -> list[dict[str, Any]]:
    """Start or join Ray (with MPS where trials share a GPU), run the Tuner over what is left, and leave
    Ray again; return the rows of this session's trials that have not ended (an interrupted study)."""
    import ray

    address = args.address or "local"
    quiet = {"logging_level": logging.WARNING, "logging_config": ray.LoggingConfig(log_level="WARNING")}
    with gpu_sharing(study.resources.gpu, study.resources.mps, local=address == "local") as sharing:
        if sharing:
            print(f"{study.name}: {sharing}", flush=True)
        if address == "local":  # the workers inherit MPS's pipe directory from this process's environment
            dashboard = {"include_dashboard": args.ray_dashboard is not None, "dashboard_host": "127.0.0.1",
                         "dashboard_port": args.ray_dashboard or 8265}
            started_ray = ray.init(address="local", num_cpus=args.num_cpus, num_gpus=args.num_gpus,
                                   _node_ip_address=args.node_ip_address, **dashboard, **quiet)
            if args.ray_dashboard is not None:
                print(f"Ray dashboard: http://{started_ray.dashboard_url} (token: ~/.ray/auth_token)", flush=True)
        else:
            ray.init(address=address, **quiet)
        return _tune(args, study, todo, space, run, meta, context, resuming, address)


def _tune(args: argparse.Namespace, study: Study, todo: Remaining, space: dict[str, dict[str, Any]],
          run: RunDir, meta: dict[str, Any], context: Any, resuming: bool, address: str) -> list[dict[str, Any]]:
    """The Tuner over what is left, on the Ray this driver has joined; leaves Ray at the end."""
    import ray

    from tune.optuna_study import storage_url
    from tune.tuner import session_tuners

    watch = RayWatch.of_this_driver(lambda what: _lost_ray(args, study, run, address, what)).start()
    try:
        storage = storage_url(run, meta["optuna"], args.optuna_storage) if study.search else None
        tuners = session_tuners(study, todo, space, context, run, len(meta.get("sessions", [])), storage)
        meta["workers"] = _workers(study)
        left = todo.num_samples + len(todo.repeats) if study.search else len(todo.points)
        print(f"{'resuming' if resuming else 'running'} {study.name}: {left} of {study.trials} trials, up to "
              f"{meta['workers']} at a time ({study.resources.cpu:g} cpu, {study.resources.gpu:g} gpu each) "
              f"on Ray at {address}; results in {run.path}", flush=True)
        started = meta["fit_started_at"] = time.time()
        meta.setdefault("sessions", []).append({"command": args.command, "fit_started_at": started})
        run.write_meta(meta)  # the command of each start and resume, kept if the driver is killed
        unfinished = _unfinished(run, [result for tuner in tuners for result in tuner.fit()], meta["git_commit"])
        meta["wall_s"] = meta.get("wall_s", 0.0) + time.time() - started
        return unfinished
    finally:
        watch.stop()  # before Ray is shut down on purpose
        ray.shutdown()


def _lost_ray(args: argparse.Namespace, study: Study, run: RunDir, address: str, what: str) -> None:
    """What a driver without its Ray leaves (tune/ray_watch.py then ends it with LOST_RAY): trials.csv from
    the rows of the trials that ended, and one message saying what went and how to go on."""
    ended = len(write_trials_csv(run))
    meta = run.read_meta()
    meta.setdefault("sessions", [{}])[-1]["lost_ray"] = what  # said here too, for a driver whose stderr is lost
    run.write_meta(meta)
    where = "the local Ray it started" if address == "local" else f"the Ray cluster at {address}"
    print(f"{study.name}: lost {where}: {what}. {ended} of {study.trials} trials had ended; their rows are in "
          f"{run.trials_csv}, and trials still running stopped with Ray. Once Ray is back, continue with\n"
          f"  python tune/run_study.py {args.study} --out {args.out} --resume {run.run_id}", file=sys.stderr,
          flush=True)


def _finish(args: argparse.Namespace, study: Study, run: RunDir, meta: dict[str, Any], tracking: Tracking,
            unfinished: list[dict[str, Any]]) -> int:
    """trials.csv, table, figures and report, MLflow statuses and artifacts; print where everything is.
    Whether the study is complete is read from its rows, whichever session ran each trial."""
    from dashboards.aggregate import aggregate
    from tune.trainable import work_root

    total = study.trials
    frame = write_trials_csv(run, unfinished)
    rows = frame.to_dict("records")
    complete = len(done_rows(run)) >= total
    run.write_meta(meta)
    table = aggregate(run.path)
    report = _write_report(run)
    kept = finish_models(run, study, rows, tracking, complete)  # before the last send: their records go with it
    _settle_tracking(tracking, rows, complete, frame, run, session=len(meta.get("sessions", [])))
    meta["tracking"] = _tracking_meta(tracking)
    run.write_meta(meta)
    if complete:
        _prune_checkpoints(run)
        shutil.rmtree(work_root(str(run.path)), ignore_errors=True)  # this node's leftovers of killed attempts
    print(f"\n{table}")
    print(f"results: {run.trials_csv}\ntable:   {run.path / 'table.md'} (.json, .csv, .tex), figures in {run.figures}")
    if report:
        print(f"report:  {report}")
    print(f"mlflow:  experiment {study.name!r}, parent run {tracking.ids()['parent_run_id']} in {tracking.uri}")
    if kept:
        print(f"models:  {len(kept)} kept detector(s) in {run.path / 'models'} (adstudy score {run.path} IMAGES)")
    if tracking.uri.startswith("sqlite:"):
        print(f"         mlflow ui --backend-store-uri {tracking.uri}")
    if not complete:
        print(f"interrupted: {sum(r['status'] != Status.UNFINISHED for r in rows)} of {total} trials ended; continue with\n"
              f"  {args.prog} {args.study} --out {args.out} --resume {run.run_id}", flush=True)
        return 1
    return 0 if any(row["status"] == Status.OK for row in rows) else 1


def _settle_tracking(tracking: Tracking, rows: list[dict[str, Any]], complete: bool, frame: "pd.DataFrame",
                     run: RunDir, session: int) -> None:
    """Every child run gets its trial's final status (a trial whose worker died, or that a scheduler
    stopped, could not set its own), the parent run its summary, artifacts and status; then all of it
    is sent. What MLflow does not take stays journaled for tune/sync_tracking.py."""
    statuses = {row["trial_id"]: MLFLOW_STATUS.get(row["status"], "KILLED") for row in rows
                if isinstance(row.get("trial_id"), str)}
    for journal in tracking.journals():
        if journal.name != STUDY and journal.status() != statuses.get(journal.name, "KILLED"):
            journal.set_status(statuses.get(journal.name, "KILLED"))
    study_run = tracking.journal(STUDY)
    study_run.log_metrics(_summary_metrics(frame), step=session)  # each session's end has its own step
    study_run.log_artifacts(run.path / name for name in ("table.json", "table.md", "table.csv", "table.tex",
                                                          "trials.csv", "study.yaml", "figures", "report.html"))
    study_run.set_status("FINISHED" if complete else "KILLED")
    counts = tracking.sync()
    if counts["behind"]:
        print(f"MLflow at {tracking.uri} did not take everything: {counts['behind']} runs have records kept in "
              f"{tracking.folder}; send them when it answers with\n  adstudy sync {run.path}",
              flush=True)


def _unfinished(run: RunDir, grid: Any, git_commit: str) -> list[dict[str, Any]]:
    """Rows for the trials of this session's ResultGrid that have not ended (an interrupted study):
    their config and the last metrics they reported. Every ended trial has its row file already."""
    return [unended_trial_row(run, result.config, result.metrics or {}, Status.UNFINISHED, git_commit)
            for result in grid if not run.row_file(trial_id(result.config)).exists()]


def _write_report(run: RunDir) -> Path | None:
    """dashboards/report.py's HTML report; a failure is logged and costs none of the results."""
    try:
        from dashboards.report import write_report

        return write_report(run.path)
    except Exception:  # noqa: BLE001 - rows, table and MLflow runs are written whatever the report does
        logging.getLogger(__name__).exception("the HTML report failed; rebuild it with python dashboards/report.py %s",
                                              run.path)
        return None


def _workers(study: Study) -> int:
    """Trials that fit at once in the cluster's resources (and the study's concurrency)."""
    import ray

    available = ray.cluster_resources()
    fits = [math.floor(available.get("CPU", 0) / study.resources.cpu + 1e-9)]
    if study.resources.gpu:
        fits.append(math.floor(available.get("GPU", 0) / study.resources.gpu + 1e-9))
    return max(1, min(fits + ([study.concurrency] if study.concurrency else [])))


def _summary_metrics(trials: "pd.DataFrame") -> dict[str, float]:
    """Parent-run metrics: mean test metrics over finished trials, per arm where there are arms."""
    frame = trials[trials["status"] == Status.OK]
    metrics: dict[str, float] = {"trials_ok": float(len(frame)), "trials": float(len(trials))}
    for metric in ("test_ap", "test_auroc"):
        if metric in frame:
            metrics[f"{metric}_mean"] = float(frame[metric].mean())
            if "arm" in frame:
                metrics.update({f"{arm}.{metric}_mean": float(v) for arm, v in frame.groupby("arm")[metric].mean().items()})
    return metrics


def _prune_checkpoints(run: RunDir) -> None:
    """A finished study needs no checkpoints (each is tens of MB); its rows hold the results."""
    for trial in (run.path / TRIALS_DIR).glob("*"):
        TrialStore(run.path, trial.name).prune()


if __name__ == "__main__":
    sys.exit(main())

"""How the driver's cost grows with a study's size: studies of 100, 1,000 and 5,000 trials of a
trivial trainable (no model: it writes its row and reports once) on a simulated 4-node cluster,
and MLflow's logging throughput on SQLite and on the PostgreSQL tracking server.

    python benchmarks/study_scale.py                          # 100, 1000, 5000 trials; 4 nodes
    python benchmarks/study_scale.py --sizes 100,1000 --mlflow-runs 100

Per size it prints: per-trial wall time of Tuner.fit and the driver's CPU time per trial (what
the driver spends on each trial: Tune's bookkeeping, our callbacks), the driver's peak memory
(RSS), and the time to write trials.csv and the table, figures and report at the end. A per-trial
cost that grows with the size is what grows faster than linearly over the study. The cluster is
`ray.cluster_utils.Cluster` (one head and three nodes of one CPU each) in a temp dir of its own.
The MLflow part has 4 processes (as 4 nodes would) log runs through the trial journal
(tune/tracking.py): one child run with params and per-epoch metrics each, timed from first to
last, on a SQLite store and on `dashboards/serve.py tracking-server` (PostgreSQL of its own).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chaos import TrackingServer  # this script's folder is first on sys.path

EPOCHS = 10  # per-epoch metric steps per MLflow run


def trivial(config: dict[str, Any], context: Any) -> None:
    """A trial without a model: its row (the fixed keys and made-up metrics) and one report."""
    from ray import tune

    from adcore.row import Status, empty_row
    from tune.grid import trial_config, trial_id, trial_point, trial_row
    from tune.results import RunDir
    from tune.trial_store import TrialStore

    run = RunDir(Path(context.run_path))
    key, point = trial_id(config), trial_point(run, config)
    TrialStore(run.path, key).log_attempt({"resumed_from_epoch": 0, "unreadable": []})
    row = {**empty_row(trial_config(point, config), Status.OK), "val_ap": 0.5, "test_ap": 0.5, "epochs_run": 1}
    run.write_row(trial_row(run, config, row, context.git_commit))
    tune.report({"val_ap": 0.5, "epoch": 1, "status": Status.OK.value})


def scale_run(size: int, nodes: int, folder: Path) -> dict[str, float]:
    """One study of ``size`` trivial trials on a ``nodes``-node cluster; the driver's costs."""
    from tune.run_study import _environment

    _environment()  # before Ray's import, which reads RAY_AUTH_MODE (the cluster's token auth) once
    import ray
    from ray.cluster_utils import Cluster

    from adcore.row import Status
    from dashboards.aggregate import aggregate
    from tune.resume import remaining
    from tune.results import RunDir, write_trials_csv
    from tune.run_study import _write_report
    from tune.study import load_study
    from tune.grid import expand
    from tune.tracking import Tracking
    from tune.trainable import TrialContext
    from tune.tuner import build_tuner

    study_file = folder / f"scale_{size}.yaml"
    study_file.write_text(f"name: scale_{size}\nbase: {{optim: {{epochs: 1}}}}\n"
                          f"grid: {{arm: [a2], seed: [{', '.join(map(str, range(size)))}]}}\n")
    study = load_study(study_file)
    points = expand(study)
    run = RunDir.create(folder / "results", study.name)
    run.study_yaml.write_text(study.to_yaml())
    run.write_meta({"run_id": run.run_id, "study": study.name, "git_commit": "bench", "started_at": time.time(),
                    "wall_s": 0.0, "workers": nodes, "sessions": [{"command": "study_scale"}]})
    tracking = Tracking(f"sqlite:///{folder / 'mlflow.db'}", study.name, str(run.path))
    context = TrialContext(study.name, str(run.path), "bench", tracking)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, logging_level="ERROR")
    try:
        from benchmarks.study_scale import trivial as function  # by reference: Ray's workers import it

        tuner = build_tuner(study, remaining(study, points, None), {}, context, run, function=function)
        cpu, wall = time.process_time(), time.perf_counter()
        tuner.fit()
        fit_wall, fit_cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        ray.shutdown()
        cluster.shutdown()
    started = time.perf_counter()
    frame = write_trials_csv(run)
    csv_s = time.perf_counter() - started
    started = time.perf_counter()
    aggregate(run.path)
    _write_report(run)
    report_s = time.perf_counter() - started
    assert len(frame) == size and (frame["status"] == Status.OK).all(), f"{len(frame)} rows for {size} trials"
    return {"size": size, "fit_s": fit_wall, "wall_per_trial_s": fit_wall / size, "driver_cpu_per_trial_s": fit_cpu / size,
            "driver_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "csv_s": csv_s,
            "report_s": report_s}


def _one_size(size: int, nodes: int, folder: str, queue: Any) -> None:
    Path(folder).mkdir(parents=True)
    log = os.open(Path(folder) / "driver.log", os.O_WRONLY | os.O_CREAT)
    os.dup2(log, 1)  # one progress line per trial goes to the log, not between the results
    os.dup2(log, 2)
    queue.put(scale_run(size, nodes, Path(folder)))


def _log_runs(uri: str, run_path: str, worker: int, runs: int, start: Any) -> None:
    from tune.tracking import Tracking

    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # MLflow prints a "View run" line per run it ends
    tracking = Tracking(uri, "mlflow_throughput", run_path)
    start.wait()
    for index in range(runs):
        journal = tracking.journal(f"w{worker}-{index:04d}")
        journal.start(journal.name, {f"param_{i}": i for i in range(40)}, {"tune.trial_id": journal.name})
        for epoch in range(1, EPOCHS + 1):
            journal.log_metrics({"val_ap": 0.5, "val_auroc": 0.5, "train_loss": 1.0, "lr": 0.1, "epoch_s": 1.0},
                                step=epoch)
            journal.send(wait=True)
        journal.set_status("FINISHED")
        if not journal.send(wait=True):
            raise RuntimeError(f"MLflow at {uri} did not take run {journal.name}")


def mlflow_throughput(uri: str, folder: Path, runs: int, processes: int = 4) -> dict[str, float]:
    """``processes`` writers log ``runs`` child runs in all (params, EPOCHS sends of 5 metrics, status)."""
    from tune.tracking import STUDY, Tracking

    run_path = folder / f"run-{abs(hash(uri)) % 10**8}"
    parent = Tracking(uri, "mlflow_throughput", str(run_path)).journal(STUDY)
    parent.start("throughput", {}, {})
    if not parent.send(wait=True):
        raise RuntimeError(f"MLflow at {uri} is not answering")
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_log_runs, args=(uri, str(run_path), worker, runs // processes, start))
               for worker in range(processes)]
    for worker in workers:
        worker.start()
    time.sleep(5)  # imports
    started = time.perf_counter()
    start.set()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    done = processes * (runs // processes)
    return {"runs": done, "seconds": seconds, "runs_per_s": done / seconds, "sends_per_s": done * (EPOCHS + 2) / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--mlflow-runs", type=int, default=200, help="child runs per store (0: skip)")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="study-scale-", dir="/tmp"))
    os.chmod(folder, 0o755)
    os.environ.setdefault("RAY_TMPDIR", str(folder / "ray"))
    print(f"study_scale in {folder}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"{'trials':>7}{'fit s':>9}{'wall/trial s':>14}{'driver cpu/trial s':>20}{'driver RSS GiB':>16}"
          f"{'trials.csv s':>14}{'report s':>10}", flush=True)
    context = multiprocessing.get_context("spawn")
    for size in map(int, args.sizes.split(",")):
        queue = context.Queue()
        process = context.Process(target=_one_size, args=(size, args.nodes, str(folder / f"n{size}"), queue))
        process.start()  # a fresh driver process per size: its peak memory is that size's
        process.join()
        if queue.empty():
            raise RuntimeError(f"the {size}-trial study failed; see {folder / f'n{size}' / 'driver.log'}")
        result = queue.get()
        print(f"{size:>7}{result['fit_s']:>9.1f}{result['wall_per_trial_s']:>14.3f}"
              f"{result['driver_cpu_per_trial_s']:>20.4f}{result['driver_rss_gib']:>16.2f}{result['csv_s']:>14.2f}"
              f"{result['report_s']:>10.1f}", flush=True)
    if args.mlflow_runs:
        sqlite = mlflow_throughput(f"sqlite:///{folder / 'throughput.db'}", folder, args.mlflow_runs)
        server = TrackingServer(folder / "pg", postgres=True)
        (folder / "pg").mkdir()
        os.chmod(folder / "pg", 0o755)
        server.start()
        try:
            postgres = mlflow_throughput(server.uri, folder, args.mlflow_runs)
        finally:
            server.stop()
        for name, result in (("SQLite file", sqlite), ("PostgreSQL server", postgres)):
            print(f"MLflow on {name}: {result['runs']} runs from 4 processes in {result['seconds']:.1f} s: "
                  f"{result['runs_per_s']:.1f} runs/s, {result['sends_per_s']:.1f} sends/s "
                  f"(each run: 40 params, {EPOCHS} epochs of 5 metrics, its status)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

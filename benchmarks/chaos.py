"""The chaos drill: a study on a local multi-node Ray cluster that loses nothing while its parts fail.

    python -m benchmarks.chaos                      # grid of 40 trials and a search of 40, 4 nodes
    python -m benchmarks.chaos --trials 12 --driver-kills 2 --seed 3

For a grid study and for an Optuna search, a seeded chaos loop SIGKILLs the driver several times
at random moments (some right as Tune writes its experiment state) and resumes it with
``--resume`` each time, SIGKILLs random trial workers (Tune retries them), stops the MLflow
tracking server for a while and starts it again, and truncates one trial's newest checkpoint
while the driver is down. At the end it checks the run directory and MLflow and prints: kills
survived, rows lost, duplicate rows, duplicate MLflow runs and metric steps, trials re-run from
scratch though a valid checkpoint existed, how the trial with the truncated checkpoint resumed, and
(for the search) where its Optuna storage disagrees with the rows.
``drill()`` is also the test suite's short version (tests/tune/test_chaos.py).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]

import yaml

from adcore.row import Status
from testing.local_cluster import LocalCluster
from testing.processes import free_port, kill_session, wait_for
from tune.results import RunDir
from tune.trial_store import TRIALS_DIR, TrialStore

RUNNER = ROOT / "tune" / "run_study.py"
SERVE = ROOT / "dashboards" / "serve.py"
BUDGET = {"data": {"image_size": 16, "n_normal": 48, "n_oe": 48, "n_val": 16, "n_test": 48},
          "optim": {"epochs": 4, "batch_size": 16}, "runtime": {"device": "cpu"}}


@dataclass
class Counts:
    """What the drill did and what it found."""

    study: str
    trials: int = 0
    driver_kills: int = 0
    kills_during_state_write: int = 0
    unreadable_states_left: int = 0  # experiment-state files a kill left that do not parse
    worker_kills: int = 0
    outage_s: float = 0.0
    rows_lost: int = 0
    duplicate_rows: int = 0
    duplicate_runs: int = 0
    duplicate_steps: int = 0
    missing_steps: int = 0
    from_scratch: int = 0  # starts at an older epoch than the newest valid checkpoint on disk
    truncated: tuple[str, int] | None = None  # (trial id, epoch) whose checkpoint was cut in half
    truncated_resumed_from: int | None = None
    warned: bool = False
    storage_disagreements: list[str] = field(default_factory=list)  # a search's Optuna storage against its rows
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        resumed = ("none truncated" if self.truncated is None else
                   f"trial {self.truncated[0]}: epoch {self.truncated[1]} truncated -> resumed from epoch "
                   f"{self.truncated_resumed_from} {'with' if self.warned else 'WITHOUT'} a warning")
        return [f"{self.study}: {self.trials} trials; kills survived: driver {self.driver_kills} "
                f"({self.kills_during_state_write} as Tune wrote its state, {self.unreadable_states_left} left it "
                f"unreadable), workers {self.worker_kills}; tracking server down {self.outage_s:.0f} s",
                f"  rows lost {self.rows_lost}, duplicate rows {self.duplicate_rows}, duplicate MLflow runs "
                f"{self.duplicate_runs}, duplicate metric steps {self.duplicate_steps} (missing {self.missing_steps}), "
                f"trials re-run from scratch though a valid checkpoint existed {self.from_scratch}",
                f"  corrupted checkpoint: {resumed}",
                *([f"  Optuna storage against the rows: {len(self.storage_disagreements)} disagreements"]
                  if self.study.endswith("search") else []),
                *[f"  storage: {problem}" for problem in self.storage_disagreements],
                *[f"  note: {note}" for note in self.notes]]

    @property
    def clean(self) -> bool:
        truncated_ok = self.truncated is None or (self.truncated_resumed_from == self.truncated[1] - 1 and self.warned)
        return not (self.rows_lost or self.duplicate_rows or self.duplicate_runs or self.duplicate_steps
                    or self.missing_steps or self.from_scratch or self.storage_disagreements) and truncated_ok


class TrackingServer:
    """``dashboards/serve.py tracking-server`` in ``folder`` (artifacts there), its backend store a
    SQLite file there or, with ``postgres=True``, a PostgreSQL server of its own in ``folder/postgres``;
    stopped (SIGTERM) and started again at will."""

    def __init__(self, folder: Path, postgres: bool = False) -> None:
        self.folder, self.port = folder, free_port()
        self.postgres_port = free_port() if postgres else None
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.down_s = 0.0

    def start(self, timeout: float = 300) -> None:
        store = (["--postgres-port", str(self.postgres_port)] if self.postgres_port else
                 ["--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}"])
        self.process = subprocess.Popen([sys.executable, str(SERVE), "tracking-server", str(self.folder), "--port",
                                         str(self.port), *store], start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=(self.folder / "server.log").open("a"))
        try:
            self._wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self, timeout: float) -> None:
        import urllib.request

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the tracking server ended; see {self.folder / 'server.log'}")
            try:
                return urllib.request.urlopen(f"{self.uri}/health", timeout=2).status == 200
            except OSError:
                return False

        wait_for(healthy, timeout, "the MLflow tracking server", every=0.5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # serve.py ends the MLflow server and its workers
            self.process.wait(timeout=120)  # a loaded 2-core machine takes its time


def study_file(folder: Path, kind: str, trials: int, seed: int) -> Path:
    name = f"chaos_{kind}"
    study: dict[str, Any] = {"name": name, "base": BUDGET, "max_failures": 6}
    if kind == "grid":
        folds = min(10, trials)
        seeds = -(-trials // folds)
        study["grid"] = {"arm": ["a2"], "data.fold": list(range(folds)), "seed": list(range(seeds))}
    else:
        study["grid"] = {"arm": ["a2"]}
        study["search"] = {"num_samples": trials, "seed": seed, "algorithm": "random",
                           "space": {"optim.lr": {"low": 0.01, "high": 0.3}}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def newest_valid(run: RunDir) -> dict[str, int]:
    """trial id -> the newest epoch whose checkpoint loads, for every trial without a final row."""
    from adcore.train import load_checkpoint

    done = {path.stem for path in run.rows_dir.glob("*.json")}
    found = {}
    for folder in sorted((run.path / TRIALS_DIR).glob("*")):
        if folder.name in done:
            continue
        for epoch, path in TrialStore(run.path, folder.name).checkpoints():
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    (Path(tmp) / "checkpoint.pt").write_bytes(path.read_bytes())
                    load_checkpoint(Path(tmp))
                except Exception:  # noqa: BLE001 - a truncated file
                    continue
            found[folder.name] = epoch
            break
    return found


def on_disk(run: RunDir) -> tuple[float, dict[str, int]]:
    """(when, newest valid checkpoint per unfinished trial): a start of a trial logged after ``when``
    must resume from at least that epoch. ``when`` is the end of the scan, which takes seconds: a
    trial that starts during it logs its start before it writes the checkpoint the scan may see."""
    newest = newest_valid(run)
    return time.time(), newest


def attempts(run: RunDir) -> dict[str, list[dict[str, Any]]]:
    return {path.name: TrialStore(run.path, path.name).attempts() for path in (run.path / TRIALS_DIR).glob("*")}


def state_write_kill(run: RunDir, driver: subprocess.Popen, limit_s: float) -> bool:
    """SIGKILL the driver the moment Tune's experiment-state file changes; False if it did not in time."""
    def mtimes() -> dict[str, float]:
        return {p.name: p.stat().st_mtime for p in run.tune_dir.glob("experiment_state-*.json")} \
            if run.tune_dir.is_dir() else {}

    before, deadline = mtimes(), time.monotonic() + limit_s
    while time.monotonic() < deadline and driver.poll() is None:
        now = mtimes()
        if now != before and now:
            kill_session(driver.pid)
            return True
        time.sleep(0.002)
    return False


def drill(folder: Path, kind: str = "grid", trials: int = 40, nodes: int = 4, driver_kills: int = 4,
          worker_kills: int = 3, seed: int = 0, outage: bool = True, truncate: bool = True,
          log: Callable[[str], None] = print, cluster: LocalCluster | None = None) -> Counts:
    """Run one chaos drill (a grid or a search study) and return its counts: on a new cluster of
    ``nodes`` nodes of 1 CPU, or on ``cluster`` (the tests' own, left running; nothing else may run
    trials on it meanwhile, as the drill kills trial workers at random)."""
    rng = random.Random(f"{kind}-{seed}")
    counts = Counts(f"chaos_{kind}", trials=trials)
    folder.mkdir(parents=True, exist_ok=True)
    study, out = study_file(folder, kind, trials, seed), folder / "results"
    own = cluster is None
    cluster, server = cluster or LocalCluster(), TrackingServer(folder)
    driver_log = (folder / f"driver-{kind}.log").open("a")
    seen_rows: dict[str, str] = {}  # trial id -> started_at of every row seen during the drill
    expected: list[tuple[float, dict[str, int]]] = []  # (when, newest valid checkpoint per trial) at each kill
    try:
        if own:
            cluster.head(num_cpus=1)
            for _ in range(nodes - 1):
                cluster.worker(num_cpus=1)
        server.start()
        args = [str(study), "--out", str(out), "--address", cluster.address, "--tracking-uri", server.uri]
        run: RunDir | None = None
        outage_at = rng.randint(0, max(0, driver_kills - 1)) if outage else -1
        # the first kill truncates a checkpoint (its kill is at once, while a trial keeps two, and early, while
        # many trials are left); a trial that ended in between leaves nothing to cut, and the drill kills once
        # more for it. Half the other kills (at least one) wait for Tune's next state write; one that sees
        # none in time is owed to the next.
        truncate_at = 0 if truncate else -1
        writes_owed = max(1, (driver_kills - (1 if truncate else 0)) // 2)
        kills_left, workers_left = driver_kills, worker_kills
        session = 0
        while True:
            command = [sys.executable, str(RUNNER), *args, *(["--resume", run.run_id] if run else [])]
            driver = subprocess.Popen(command, cwd=ROOT, env=cluster.env, stdout=driver_log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
            if run is None:
                run = RunDir(wait_for(lambda: next((p for p in (out / counts.study).glob("*")
                                                    if (p / "run.json").exists()), None), 300, "the run directory"))
            if kills_left == 0:
                while driver.poll() is None:
                    observe(run, seen_rows)
                    time.sleep(1)
                if driver.returncode != 0:
                    raise RuntimeError(f"the last resume ended with {driver.returncode}; see {driver_log.name}")
                break
            # let some trials end (and, before the truncation, one trial keep two checkpoints); kill a
            # worker once a session while there are kills left; stop the tracking server in its session
            target = len(seen_rows) + rng.randint(1, max(1, trials // (driver_kills + 2)))
            kill_worker, started = workers_left > 0, time.monotonic()
            while driver.poll() is None and time.monotonic() - started < 900 and (
                    len(seen_rows) < target or kill_worker or (session == truncate_at and not _two_checkpoints(run))):
                observe(run, seen_rows)
                if kill_worker and rng.random() < 0.2 and (workers := cluster.trial_workers()):
                    expected.append(on_disk(run))
                    victim = rng.choice(workers)
                    try:
                        os.kill(victim, signal.SIGKILL)
                        workers_left, kill_worker = workers_left - 1, False
                        counts.worker_kills += 1
                        log(f"  killed trial worker {victim}")
                    except ProcessLookupError:
                        pass
                if session == outage_at and server.process is not None and server.process.poll() is None \
                        and seen_rows:
                    server.down_s = time.monotonic()
                    server.stop()
                    log("  stopped the tracking server")
                time.sleep(0.3)
            if driver.poll() is not None:
                raise RuntimeError(f"the driver ended before it was killed (rc {driver.returncode}); make the study "
                                   f"longer; see {driver_log.name}")
            at_write = writes_owed > 0 and session != truncate_at and state_write_kill(run, driver, limit_s=30)
            if not at_write:
                if session != truncate_at:
                    time.sleep(rng.uniform(0, 2.0))
                kill_session(driver.pid)
            counts.driver_kills += 1
            counts.kills_during_state_write += at_write
            writes_owed -= at_write
            counts.unreadable_states_left += _state_unreadable(run)
            kills_left -= 1
            log(f"  killed the driver ({'as Tune wrote its state' if at_write else 'at a random moment'}); "
                f"{len(seen_rows)} rows so far")
            wait_for(lambda: not cluster.trial_workers(), 60, "the dead driver's trial actors to end", every=0.5)
            observe(run, seen_rows)
            if session == truncate_at:
                counts.truncated = _truncate(run, rng)
                if counts.truncated:
                    log(f"  truncated trial {counts.truncated[0]}'s checkpoint of epoch {counts.truncated[1]}")
                else:  # the trial ended meanwhile: one more kill tries again
                    truncate_at += 1
                    kills_left += 1
            expected.append(on_disk(run))
            if server.down_s and server.process is not None and server.process.poll() is not None:
                server.start()
                counts.outage_s = time.monotonic() - server.down_s
                log(f"  started the tracking server again after {counts.outage_s:.0f} s")
            session += 1
        if server.process is None or server.process.poll() is not None:
            server.start()
        assert run is not None
        _check(run, counts, seen_rows, expected, server.uri, kind, trials)
        counts.warned = "is unreadable" in (folder / f"driver-{kind}.log").read_text()
    finally:
        driver_log.close()
        server.stop()
        if own:
            cluster.stop()
    return counts


def observe(run: RunDir, seen: dict[str, str]) -> None:
    """Add each trial that has ended (its row file) to ``seen``: trial id -> its start, what the final
    trials.csv must still hold (rows lost)."""
    for path in run.rows_dir.glob("*.json") if run.rows_dir.is_dir() else []:
        if path.stem not in seen:
            try:
                row = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if Status(row["status"]).done:
                seen[path.stem] = str(row.get("started_at"))


def _state_unreadable(run: RunDir) -> int:
    states = sorted(run.tune_dir.glob("experiment_state-*.json"))
    if not states:
        return 0
    try:
        json.loads(states[-1].read_text())
        return 0
    except ValueError:
        return 1


def _two_checkpoints(run: RunDir) -> list[str]:
    """Trials without a row that keep two checkpoints."""
    done = {path.stem for path in run.rows_dir.glob("*.json")} if run.rows_dir.is_dir() else set()
    return [folder.name for folder in sorted((run.path / TRIALS_DIR).glob("*"))
            if folder.name not in done and len(TrialStore(run.path, folder.name).checkpoints()) >= 2]


def _truncate(run: RunDir, rng: random.Random) -> tuple[str, int] | None:
    """Cut the newest checkpoint of an unfinished trial with two of them in half."""
    candidates = _two_checkpoints(run)
    if not candidates:
        return None
    trial = rng.choice(candidates)
    epoch, path = TrialStore(run.path, trial).checkpoints()[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return trial, epoch


def rows_lost(run: RunDir, seen: dict[str, str]) -> int:
    """Trials seen ended during the study (``observe``) whose row the final trials.csv lacks or holds
    from another start."""
    import pandas as pd

    final = {row["trial_id"]: row for row in pd.read_csv(run.trials_csv).to_dict("records")}
    return sum(1 for trial, started in seen.items() if trial not in final or str(final[trial]["started_at"]) != started)


def from_scratch(run: RunDir, expected: list[tuple[float, dict[str, int]]]) -> list[str]:
    """One line per trial whose first start after a scan (``on_disk``) resumed from an older epoch
    than the newest valid checkpoint that scan found."""
    starts, found = attempts(run), []
    for when, newest in expected:
        for trial, epoch in newest.items():
            later = [a for a in starts.get(trial, []) if a["at"] > when]
            if later and later[0]["resumed_from_epoch"] < epoch:
                found.append(f"{trial} started at epoch {later[0]['resumed_from_epoch']} though epoch {epoch} was on disk")
    return found


def _check(run: RunDir, counts: Counts, seen: dict[str, str], expected: list[tuple[float, dict[str, int]]],
           uri: str, kind: str, trials: int) -> None:
    import pandas as pd
    from mlflow import MlflowClient

    frame = pd.read_csv(run.trials_csv)
    final = {row["trial_id"]: row for row in frame.to_dict("records")}
    counts.rows_lost = rows_lost(run, seen)
    counts.duplicate_rows = len(frame) - frame["trial_id"].nunique() + abs(len(frame) - trials)
    if kind == "search":
        counts.duplicate_rows += len(frame) - frame["optim.lr"].nunique()  # a proposal run twice
        counts.storage_disagreements = _storage_disagreements(run)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(counts.study)
    runs = client.search_runs([experiment.experiment_id], max_results=5000)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    per_trial: dict[str, int] = {}
    for child in children:
        per_trial[child.data.tags.get("tune.trial_id", "")] = per_trial.get(child.data.tags.get("tune.trial_id", ""), 0) + 1
    counts.duplicate_runs = sum(n - 1 for n in per_trial.values()) + (len(runs) - len(children) - 1)
    if set(per_trial) != set(final):
        counts.notes.append(f"MLflow children {len(per_trial)} for {len(final)} trials")
    for child in children:
        trial = final.get(child.data.tags.get("tune.trial_id"))
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "val_ap")]
        counts.duplicate_steps += len(steps) - len(set(steps))
        if trial is not None and trial["status"] == Status.OK:
            counts.missing_steps += len(set(range(1, int(trial["epochs_run"]) + 1)) - set(steps))
    restarts = from_scratch(run, expected)
    counts.from_scratch = len(restarts)
    counts.notes += restarts
    if counts.truncated:
        trial, epoch = counts.truncated
        hit = [a for a in attempts(run).get(trial, []) if epoch in a.get("unreadable", [])]
        counts.truncated_resumed_from = hit[0]["resumed_from_epoch"] if hit else None


def _storage_disagreements(run: RunDir) -> list[str]:
    """Where the search's Optuna storage disagrees with the run's rows (tune/optuna_study.py)."""
    import optuna

    from studyspec.layout import optuna_storage
    from tune.optuna_study import disagreements

    entry = run.read_meta()["optuna"]
    study = optuna.load_study(study_name=entry["study"], storage=optuna_storage(run.path, entry))
    problems = disagreements(study, run, [("val_ap", "max")])
    ids = [trial.user_attrs.get("trial_id") for trial in study.trials if trial.user_attrs.get("status") != Status.ERROR]
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} trial ids twice in the storage")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--driver-kills", type=int, default=4)
    parser.add_argument("--worker-kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default="grid,search")
    parser.add_argument("--folder", type=Path, help="where the drill's studies run (default: a new temp folder)")
    args = parser.parse_args(argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="chaos-", dir="/tmp"))
    os.chmod(folder, 0o755)
    print(f"chaos drill in {folder}", flush=True)
    results = []
    for kind in args.kinds.split(","):
        started = time.monotonic()
        counts = drill(folder / kind, kind, args.trials, args.nodes, args.driver_kills, args.worker_kills, args.seed,
                       log=lambda line: print(line, flush=True))
        results.append(counts)
        print("\n".join(counts.lines()) + f"\n  ({time.monotonic() - started:.0f} s)", flush=True)
    return 0 if all(counts.clean for counts in results) else 1


if __name__ == "__main__":
    sys.exit(main())

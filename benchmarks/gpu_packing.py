"""Trials per hour on one device at 1, 2, 4, 8 concurrent trials, measured side by side in one run.

Each level runs ``rounds * jobs`` identical-budget trials (one preset and fold of a study's grid, seeds
0, 1, ...) through ``scripts/adcore_grid.py --jobs <jobs>``: one process per trial, as Ray's fractional GPUs
(``resources_per_trial: {gpu: 1 / jobs}``) pack trials onto a node. Process start, data loading and
evaluation count, as they do in a study. Prints trials per hour per level and its ratio to one trial
at a time; the fraction that measured best is what a study's GPU budget should ask for on that device.
On a CPU-only machine it measures CPU packing instead (pass ``--set runtime.threads=1`` so that
the processes do not each take every core). ``--mps`` runs the trials under NVIDIA's MPS (started and
stopped here, ``tune/mps.py``), as a study with ``resources.mps`` does. ``benchmarks/gpu_suite.py``
measures packing in one process and as processes, with and without MPS, in one device window.

    python benchmarks/gpu_packing.py --device cuda --jobs 1,2,4,8 --rounds 2 [--mps] \\
        --set data.image_size=32 --set optim.epochs=2
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import torch

from adcore.row import Status
from tune.mps import MpsDaemon

GRID = ROOT / "scripts" / "adcore_grid.py"


def run_level(jobs: int, trials: int, args: argparse.Namespace, out: Path, env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, finished trials) of ``trials`` trials run ``jobs`` at a time."""
    overrides = [f"runtime.device={args.device}", *args.set]
    command = [sys.executable, str(GRID), args.study, "--presets", args.preset, "--folds", str(args.fold),
               "--seeds", f"0-{trials - 1}", "--jobs", str(jobs), "--out", str(out), "--no-table",
               *[arg for item in overrides for arg in ("--set", item)]]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})
    wall = time.perf_counter() - started
    rows = [json.loads(path.read_text()) for path in out.glob("*/*/rows/*.json")]
    if not rows:
        raise SystemExit(f"scripts/adcore_grid.py ran no trial at --jobs {jobs}: {done.stderr.strip()[-1000:]}")
    failed = [row for row in rows if row["status"] != Status.OK]
    if failed:
        raise SystemExit(f"{len(failed)} of {len(rows)} trials failed at --jobs {jobs}: {failed[0]['message'][-300:]}")
    return wall, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--jobs", default="1,2,4,8", help="concurrent trials per level, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="trials per level = rounds * jobs")
    parser.add_argument("--study", default="studies/ablation_table4.yaml", help="the study whose grid and budget run")
    parser.add_argument("--preset", default="a7")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="trial config overrides")
    parser.add_argument("--mps", action="store_true", help="run the trials under MPS (nvidia-cuda-mps-control)")
    args = parser.parse_args()
    levels = [int(jobs) for jobs in args.jobs.split(",")]
    if min(levels) < 1 or args.rounds < 1:
        raise SystemExit("--jobs takes positive integers and --rounds a positive integer")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here; run with --device cpu")
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, torch threads {torch.get_num_threads()}"
    print(f"{args.study}, preset {args.preset}, fold {args.fold}, overrides {args.set}; {where}, "
          f"torch {torch.__version__}")
    per_hour = {}
    with tempfile.TemporaryDirectory(prefix="gpu_packing-") as scratch, \
            (MpsDaemon(Path(scratch) / "mps") if args.mps else contextlib.nullcontext()) as daemon:
        env = daemon.env if daemon is not None else {}
        for jobs in levels:
            wall, finished = run_level(jobs, args.rounds * jobs, args, Path(scratch) / f"jobs_{jobs}", env)
            per_hour[jobs] = 3600 * finished / wall
            print(f"--jobs {jobs}: {finished:3d} trials in {wall:7.1f} s -> {per_hour[jobs]:8.1f} trials/h"
                  f"  ({per_hour[jobs] / per_hour[levels[0]]:.2f}x --jobs {levels[0]}; "
                  f"fraction per trial {1 / jobs:.3g})", flush=True)
    best = max(per_hour, key=per_hour.get)
    print(f"best: --jobs {best} ({per_hour[best]:.1f} trials/h), i.e. a fraction of {1 / best:.3g} device per trial")


if __name__ == "__main__":
    main()

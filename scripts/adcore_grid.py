"""Run presets x folds x seeds of adcore trials in parallel processes, without Ray.

For machines that have torch but not the orchestration stack (the lent GPU machine): each trial is
`python -m adcore.run` in its own process; rows go to a JSONL file and a mean +- std table of AP
and AUROC per preset is printed. Studies with search, scheduling and tracking use tune/.

    python scripts/adcore_grid.py --presets a1,a2,a7 --folds 0-9 --jobs 4 --out rows.jsonl \
        --set optim.epochs=10 --set data.n_normal=null
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def parse_range(text: str) -> list[int]:
    """'0-2,5' -> [0, 1, 2, 5]"""
    values: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        values += list(range(int(low), int(high or low) + 1))
    return values


def run_one(preset: str, fold: int, seed: int, overrides: list[str]) -> dict:
    command = [sys.executable, "-m", "adcore.run", "--quiet", "--preset", preset, "--data.fold", str(fold),
               "--seed", str(seed)] + [arg for item in overrides for arg in ("--set", item)]
    done = subprocess.run(command, capture_output=True, text=True)
    printed = done.stdout.strip().splitlines()
    if not printed:  # no row: the configuration was refused, or the process died
        return {"preset": preset, "data.fold": fold, "seed": seed, "status": "failed", "message": done.stderr.strip()[-500:]}
    return {"preset": preset, **json.loads(printed[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="a1,a2,a3,a4,a5,a6,a7")
    parser.add_argument("--folds", default="0-9")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, default=Path("grid_rows.jsonl"))
    args = parser.parse_args()
    grid = list(itertools.product(args.presets.split(","), parse_range(args.folds), parse_range(args.seeds)))
    started = time.perf_counter()
    rows = []
    with ThreadPoolExecutor(args.jobs) as pool, args.out.open("w") as out:
        futures = [pool.submit(run_one, p, f, s, args.set) for p, f, s in grid]
        for index, future in enumerate(futures, 1):
            row = future.result()
            rows.append(row)
            out.write(json.dumps(row) + "\n")
            out.flush()
            status = f"AP {row['test_ap']:.3f}" if row["status"] == "ok" else row["message"][-200:]
            print(f"[{index}/{len(grid)}] {row['preset']} fold {row['data.fold']} seed {row['seed']}: {status}", flush=True)
    print(f"\n{len(grid)} trials in {time.perf_counter() - started:.0f} s; mean +- std over folds and seeds (%)")
    for preset in args.presets.split(","):
        ok = [r for r in rows if r["preset"] == preset and r["status"] == "ok"]
        if not ok:
            print(f"{preset:6s} no finished trial")
            continue
        line = f"{preset:6s}"
        for key in ("test_ap", "test_auroc"):
            values = [100 * r[key] for r in ok]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            line += f"  {key} {statistics.mean(values):5.1f} +- {spread:4.1f}"
        print(f"{line}  (n={len(ok)}, {statistics.mean(r['total_s'] for r in ok):.0f} s per trial)")


if __name__ == "__main__":
    main()

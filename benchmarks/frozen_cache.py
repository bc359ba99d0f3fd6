"""The shared frozen-prefix cache (``model.train_stages``), measured side by side in one run.

A study's trials are run in this process one after another, twice: with the cache (a fresh cache
directory, so the first trial of each unit computes the prefix's outputs and the others of the unit
read them) and without it (``runtime.prefix_cache=false``: the frozen stages run on every batch,
as they would in a network without the cache). Both runs train the same stages at the same budget
and give the same metrics; the ratio is what sharing the frozen prefix saves.

    python benchmarks/frozen_cache.py                                   # Table 4's study at its default
    python benchmarks/frozen_cache.py --arms a2,a3,a5,a6,a7 --folds 0,2 --threads 2
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import torch

from adcore import build_config, run_trial
from adcore.config import set_dotted
from adcore.presets import preset
from tune.study import load_study


def run(configs: list, cache_dir: str, cached: bool) -> tuple[float, list[dict]]:
    rows, started = [], time.perf_counter()
    for cfg in configs:
        layer = {"runtime": {"prefix_cache": cached, "cache_dir": cache_dir}}
        rows.append(run_trial(build_config(cfg, layer)))
        print(f"  {'cached' if cached else 'no cache'} {rows[-1]['method.name']} fold {rows[-1]['data.fold']}: "
              f"{rows[-1]['total_s']:.1f} s, test AP {rows[-1]['test_ap']}", flush=True)
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default="studies/ablation_table4.yaml", help="its base config is the budget")
    parser.add_argument("--arms", default="a2,a3,a4,a6,a7", help="presets sharing the pretrained prefix")
    parser.add_argument("--folds", default="0,2")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    study = load_study(ROOT / args.study)
    if not study.base.get("model", {}).get("train_stages"):
        raise SystemExit(f"{args.study} trains every stage (no model.train_stages): nothing to cache")
    configs = []
    for arm in args.arms.split(","):
        for fold in map(int, args.folds.split(",")):
            configs.append(set_dotted(build_config(study.base, preset(arm)).model_dump(mode="json"), "data.fold", fold))
    with tempfile.TemporaryDirectory() as cache_dir:
        with_cache, cached_rows = run(configs, cache_dir, cached=True)
    with tempfile.TemporaryDirectory() as cache_dir:
        without, plain_rows = run(configs, cache_dir, cached=False)
    same = all(abs(a["test_ap"] - b["test_ap"]) < 1e-5 for a, b in zip(cached_rows, plain_rows))
    print(f"\n{len(configs)} trials of {study.name} ({args.arms} x folds {args.folds}), "
          f"model.train_stages={study.base['model']['train_stages']}, {args.threads} thread(s):")
    print(f"  with the shared frozen-prefix cache: {with_cache:7.1f} s")
    print(f"  without it (frozen stages per batch): {without:7.1f} s")
    print(f"  ratio without / with: {without / with_cache:.2f}x (target >= 3x); same metrics: {same}")


if __name__ == "__main__":
    main()

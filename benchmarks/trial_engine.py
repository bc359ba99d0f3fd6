"""Trial-engine throughput, measured side by side in one run.

1. bare bound: the engine's own step (``step_loss_fn``: autocast on CUDA, runtime.compile,
   runtime.channels_last; the engine's optimizer) on pre-made, pre-normalised tensors of the same
   batch size (no data work, no bookkeeping);
2. this engine: ``adcore.train.fit`` as a trial runs it (batched uint8 crop/flip/normalise on the
   training device, validation scoring after every epoch, test scoring after the last), twice:
   with every image set resident on the training device and the draws made there
   (``runtime.data_on_device=true``, the default) and as before it (evaluation images on the host,
   draws on the host), alternately ``--repeats`` times; both must end with the same metrics;
3. a plain loop: torchvision Dataset of PIL images + PIL transforms + DataLoader for normal and
   OE batches, evaluating on the test set through a DataLoader after every epoch, as the
   authors' code does.

Prints training images per second of (1) and (2), (2) as a fraction of (1), the resident engine's
whole-fit time against the host one's, and the wall-time ratio (3) / (2) for the whole fit. Usage:

    python benchmarks/trial_engine.py --device cuda|cpu [--study studies/ablation_table4.yaml] [--preset a7] \
        [--epochs N] [--threads 1] [--repeats 3] [--set runtime.compile=reduce-overhead] \
        [--set runtime.channels_last=true]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torchvision.transforms as T
import yaml
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from adcore import build_config
from adcore.methods import TrainBatch
from adcore.presets import preset
from adcore.train import fit, make_optimizer, step_loss_fn
from adcore.trial import evaluation, prepare_trial

STUDIES = Path(__file__).resolve().parent.parent / "studies"


class PILImages(Dataset):
    """What a torchvision-style pipeline holds: PIL images, transformed one sample at a time."""

    def __init__(self, images: torch.Tensor, transform: T.Compose) -> None:
        grey = images.shape[1] == 1
        self.images = [Image.fromarray(img[0].numpy() if grey else img.permute(1, 2, 0).numpy()) for img in images]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(self.images[index].convert("RGB"))


def build(cfg, device):
    parts = prepare_trial(cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"device": device.type})}))
    return parts.generator, parts.bench, parts.backbone, parts.method, parts.ctx, parts.regularizer


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_bound(cfg, device, steps: int) -> float:
    """Seconds for the engine's training step, repeated on ready tensors (after one warm-up step,
    which is where torch.compile compiles; the engine pays that inside its first epoch)."""
    _, bench, _, method, ctx, regularizer = build(cfg, device)
    batch = cfg.optim.batch_size
    layout = torch.channels_last if ctx.channels_last else torch.contiguous_format
    index = torch.arange(batch, device=device)
    ready = TrainBatch(normal=ctx.transform.eval(ctx.normal[index]).contiguous(memory_format=layout),
                       oe=ctx.transform.eval(ctx.oe[index % len(ctx.oe)]).contiguous(memory_format=layout),
                       normal_index=index, oe_index=index % len(ctx.oe))
    params = method.trainable_parameters()
    optimizer = make_optimizer([{"params": params}], cfg.optim, device)
    step_loss = step_loss_fn(method, regularizer, ctx)
    method.train()

    def step() -> None:
        loss = step_loss(ready)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
        optimizer.step()
        regularizer.after_step(cfg.optim.lr)

    step()
    sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return time.perf_counter() - started


def engine(cfg, device) -> tuple[float, float, int, dict[str, float]]:
    """(training seconds, whole-fit seconds including evaluation, training steps, final metrics) of
    adcore's loop."""
    generator, bench, _, method, ctx, regularizer = build(cfg, device)
    steps = cfg.optim.epochs * method.epoch_steps(max(1, len(ctx.normal) // cfg.optim.batch_size))
    sync(device)
    started = time.perf_counter()
    history = fit(method, regularizer, ctx, cfg.optim, generator, evaluation(method, ctx, bench))
    sync(device)
    final = {key: value for key, value in history[-1].items() if key.startswith(("val_", "test_", "train_loss"))}
    return sum(h["train_s"] for h in history), time.perf_counter() - started, steps, final


def plain_loop(cfg, device, workers: int) -> float:
    """Whole-fit seconds of the DataLoader + PIL pipeline, test evaluation after every epoch. It runs the
    frozen prefix of ``model.train_stages`` on every batch, as a loop without the prefix cache does."""
    cfg = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"prefix_cache": False})})
    _, bench, backbone, method, _, regularizer = build(cfg, device)
    size, normalise = cfg.data.image_size, T.Normalize(backbone.input_mean, backbone.input_std)
    augment = [T.RandomCrop(size, padding=4), T.RandomHorizontalFlip()] if cfg.data.augment else []
    train_tf = T.Compose([*augment, T.ToTensor(), normalise])
    test_tf = T.Compose([T.ToTensor(), normalise])
    batch = cfg.optim.batch_size
    normal_loader = DataLoader(PILImages(bench.train_normal, train_tf), batch_size=batch, shuffle=True,
                               drop_last=True, num_workers=workers, pin_memory=device.type == "cuda")
    oe_loader = DataLoader(PILImages(bench.oe, train_tf), batch_size=batch, shuffle=True, drop_last=True,
                           num_workers=workers, pin_memory=device.type == "cuda")
    test_loader = DataLoader(PILImages(bench.test_images, test_tf), batch_size=cfg.runtime.eval_batch_size,
                             num_workers=workers)
    optimizer = make_optimizer([{"params": method.trainable_parameters()}], cfg.optim, device)
    sync(device)
    started = time.perf_counter()
    for _ in range(cfg.optim.epochs):
        method.train()
        oe_iter = iter(oe_loader)
        for x in normal_loader:
            try:
                x_oe = next(oe_iter)
            except StopIteration:
                oe_iter = iter(oe_loader)
                x_oe = next(oe_iter)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss = method.loss(TrainBatch(normal=x.to(device), oe=x_oe.to(device), oe_index=torch.arange(len(x_oe)),
                                              normal_index=torch.arange(len(x))))
            loss = loss.float() + regularizer.penalty()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        method.eval()
        with torch.no_grad():
            scores = torch.cat([method.score(x.to(device)).float().cpu() for x in test_loader])
        assert len(scores) == len(bench.test_images)
    sync(device)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--study", default=str(STUDIES / "ablation_table4.yaml"),
                        help="the study file whose base config the trial starts from (default: Table 4's default)")
    parser.add_argument("--preset", default="a7")
    parser.add_argument("--epochs", type=int, default=None, help="default: the study's")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the plain loop")
    parser.add_argument("--repeats", type=int, default=3, help="alternate runs of the resident and host engines")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from adcore.run import parse_value
    from adcore.config import set_dotted

    overrides = {"runtime": {"device": args.device}}
    if args.epochs is not None:
        overrides["optim"] = {"epochs": args.epochs}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides = set_dotted(overrides, key, parse_value(value))
    base = yaml.safe_load(Path(args.study).read_text()).get("base", {})
    cfg = build_config(base, preset(args.preset), overrides)
    device = torch.device(args.device)
    print(f"{Path(args.study).name} base + preset {args.preset}; budget: {cfg.data.n_normal} normal + {cfg.data.n_oe} OE images at {cfg.data.image_size}px, "
          f"{cfg.optim.epochs} epochs of batch {cfg.optim.batch_size}+{cfg.optim.batch_size}, "
          f"test {cfg.data.n_test}; device {device}, {args.threads} thread(s), torch {torch.__version__}")
    print(f"runtime.compile={cfg.runtime.compile}, runtime.channels_last={cfg.runtime.channels_last}, "
          f"bf16 autocast for training: {device.type == 'cuda'}")
    def runtime(on_device: bool):
        return cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"data_on_device": on_device})})

    runs: dict[bool, list[tuple[float, float, int, dict[str, float]]]] = {True: [], False: []}
    engine(runtime(True), device)  # warm-up, not counted: the first fit in a process pays one-time costs
    for _ in range(args.repeats):
        for on_device in (False, True):
            runs[on_device].append(engine(runtime(on_device), device))
    resident, host = (min(runs[flag], key=lambda run: run[1]) for flag in (True, False))
    same = all(run[3] == host[3] for run in runs[True] + runs[False])
    engine_train, engine_total, steps, _ = resident
    bare = bare_bound(cfg, device, steps)
    plain = plain_loop(cfg, device, args.workers)
    images = steps * cfg.optim.batch_size  # normal images; OE batches come on top where the method uses OE
    print(f"bare model bound (training):      {bare:8.2f} s  {images / bare:9.0f} training images/s")
    print(f"this engine (training):           {engine_train:8.2f} s  {images / engine_train:9.0f} training images/s"
          f"  -> {bare / engine_train:.2f} of the bound")
    print(f"this engine (whole fit, evals):   {engine_total:8.2f} s  (fastest of {args.repeats}, data on the device)")
    print(f"  host draws and evaluation data: {host[1]:8.2f} s  -> resident is {host[1] / engine_total:.2f}x as fast; "
          f"the same metrics in all {2 * args.repeats} runs: {same} (test_ap {resident[3].get('test_ap', 0):.4f})")
    print(f"plain DataLoader+PIL (whole fit): {plain:8.2f} s  -> engine is {plain / engine_total:.2f}x faster")
    if not same:
        raise SystemExit("the resident and host engines ended with different metrics")


if __name__ == "__main__":
    main()

"""The training loop every method shares: SGD with a step schedule, seeded batches, a report
callback per epoch, atomic checkpoints after each epoch and exact resume from them.

A step never waits for the device: the epoch's batch positions go to the device once, each step's
loss is written into a device tensor, and whether a loss became NaN or infinite is read once per
epoch (and when a step raises), not with a host sync per step. ``FitContext.compile`` compiles the
loss (the forward pass and the regularizer's penalty) with torch.compile; ``channels_last`` feeds
channels-last batches (the trial converts the network).
"""
from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import torch

from adcore.config import OptimConfig
from adcore.context import FitContext
from adcore.methods import Detector, TrainBatch
from adcore.objectives import Regularizer

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
Report = Callable[[dict[str, Any]], None]
Evaluate = Callable[[bool], dict[str, float]]  # evaluate(final) -> metrics


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the trial stops instead of training on garbage."""


def save_checkpoint(directory: Path, payload: dict[str, Any]) -> None:
    """Write atomically: a killed process leaves the previous checkpoint, never half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{CHECKPOINT_FILE}.{os.getpid()}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, directory / CHECKPOINT_FILE)


def load_checkpoint(directory: Path | None) -> dict[str, Any] | None:
    path = None if directory is None else directory / CHECKPOINT_FILE
    if path is None or not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def make_optimizer(groups: list[dict[str, Any]], optim: OptimConfig,
                   device: torch.device | None = None) -> torch.optim.Optimizer:
    """SGD or Adam; on CUDA the fused kernels (one launch for all parameters), elsewhere the foreach
    ones, which compute what the per-parameter loop computes, bit for bit."""
    kernels = {"fused": True} if device is not None and device.type == "cuda" else {"foreach": True}
    if optim.optimizer == "adam":
        return torch.optim.Adam(groups, lr=optim.lr, weight_decay=optim.weight_decay, **kernels)
    return torch.optim.SGD(groups, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay, **kernels)


COMPILE_MODES = {"default": None, "reduce-overhead": "reduce-overhead", "max-autotune": "max-autotune"}


def step_loss_fn(method: Detector, regularizer: Regularizer, ctx: FitContext) -> Callable[[TrainBatch], torch.Tensor]:
    """batch -> the step's float32 loss (the method's loss under the context's autocast, plus the
    regularizer's penalty), compiled when ``ctx.compile`` is not "off"."""

    def step_loss(batch: TrainBatch) -> torch.Tensor:
        with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=ctx.autocast):
            loss = method.loss(batch)
        return loss.float() + regularizer.penalty()

    if ctx.compile == "off":
        return step_loss
    import torch._inductor.config as inductor_config

    # random ops inside the compiled loss draw from torch's generator as eager does, so a seed gives
    # the same augmentations and the checkpointed RNG state resumes exactly
    inductor_config.fallback_random = True
    return torch.compile(step_loss, mode=COMPILE_MODES[ctx.compile], dynamic=False)


def _first_nonfinite(losses: torch.Tensor, epoch: int) -> NonFiniteLossError | None:
    """The error for the first NaN or infinite loss among an epoch's step losses, if there is one."""
    bad = (~torch.isfinite(losses)).nonzero()
    if not len(bad):
        return None
    step = int(bad[0])
    return NonFiniteLossError(f"the loss became {losses[step].item()} at epoch {epoch + 1}, step {step + 1}; "
                              "lower optim.lr or set optim.grad_clip")


def _milestones(optim: OptimConfig) -> list[int]:
    return sorted({max(1, round(fraction * optim.epochs)) for fraction in optim.lr_milestones})


def _epoch_order(n: int, steps: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    """One seeded permutation of range(n) per pass over the normals; several back to back only when a
    method's epoch is longer than one pass (PANDA counts minibatches, not passes)."""
    passes = math.ceil(steps * batch / n) if steps > max(1, n // batch) else 1
    return torch.cat([torch.randperm(n, generator=generator) for _ in range(passes)])


def fit(method: Detector, regularizer: Regularizer, ctx: FitContext, optim: OptimConfig,
        generator: torch.Generator, evaluate: Evaluate, report: Report | None = None,
        checkpoint_dir: Path | None = None) -> list[dict[str, Any]]:
    """Train for optim.epochs (resuming from checkpoint_dir if it holds a checkpoint) and return
    the per-epoch history; the last entry carries the final evaluation, test metrics included."""
    # one explicit group, which may be empty: a frozen baseline (no trainable parameters) still runs
    params = method.trainable_parameters()
    optimizer = make_optimizer([{"params": params}], optim, ctx.device)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, _milestones(optim), gamma=optim.lr_gamma)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    state = load_checkpoint(checkpoint_dir)
    if state is not None:
        method.load_state_dict(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, history = state["epoch"], state["history"]
        log.info("resumed from %s after epoch %d", checkpoint_dir, start_epoch)

    n_normal, n_oe, batch = len(ctx.normal), len(ctx.oe), optim.batch_size
    # drop the last partial batch: batch statistics need > 1 image; a method that trains nothing only evaluates
    steps = method.epoch_steps(max(1, n_normal // batch)) if method.trains else 0
    step_loss = step_loss_fn(method, regularizer, ctx)
    layout = torch.channels_last if ctx.channels_last else torch.contiguous_format
    for epoch in range(start_epoch, optim.epochs):
        started = time.perf_counter()
        method.train()
        # the epoch's positions, drawn on the CPU generator (a seed gives the same batches anywhere), go to
        # the device in one copy: a blocking copy per step would wait for the device every step
        order = _epoch_order(n_normal, steps, batch, generator)[: steps * batch]
        order_on_device = order.to(ctx.device, non_blocking=True)
        oe_on_device = None
        if method.uses_oe:  # an epoch is as long as the normal data; OE cycles
            oe_order = torch.randperm(n_oe, generator=generator)[torch.arange(steps * batch) % n_oe]
            oe_on_device = oe_order.to(ctx.device, non_blocking=True)
        losses = torch.zeros(steps, device=ctx.device)  # read once, after the epoch
        try:
            for step in range(steps):
                index = order_on_device[step * batch : (step + 1) * batch]
                normal = ctx.transform.train(ctx.normal[index], generator)
                train_batch = TrainBatch(normal=normal.contiguous(memory_format=layout), normal_index=index)
                if oe_on_device is not None:
                    oe_index = oe_on_device[step * batch : (step + 1) * batch]
                    oe = ctx.transform.train(ctx.oe[oe_index], generator)
                    train_batch.oe, train_batch.oe_index = oe.contiguous(memory_format=layout), oe_index
                loss = step_loss(train_batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if optim.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, optim.grad_clip)
                optimizer.step()
                regularizer.after_step(optimizer.param_groups[0]["lr"])
                losses[step] = loss.detach()
        except Exception as error:  # a diverged loss can break a step in other ways; say what happened first
            nonfinite = _first_nonfinite(losses[:step].cpu(), epoch)
            if nonfinite is not None:
                raise nonfinite from error
            raise
        losses = losses.cpu()  # the epoch's one wait for the device
        nonfinite = _first_nonfinite(losses, epoch)
        if nonfinite is not None:
            raise nonfinite
        lr = optimizer.param_groups[0]["lr"]
        if steps:  # a method that trains nothing (a frozen baseline) has no schedule to advance
            scheduler.step()
        train_s = time.perf_counter() - started
        final = epoch + 1 == optim.epochs
        train_loss = losses.sum().item() / steps if steps else 0.0
        metrics = {"epoch": epoch + 1, "train_loss": train_loss, "lr": lr, **evaluate(final)}
        metrics.update(train_s=train_s, epoch_s=time.perf_counter() - started)
        history.append(metrics)
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, {
                "epoch": epoch + 1, "history": history, "method": method.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(), "torch_rng": torch.get_rng_state()})
        log.info("epoch %d/%d loss %.4f val_ap %.3f (%.1f s)", epoch + 1, optim.epochs,
                 metrics["train_loss"], metrics.get("val_ap", math.nan), metrics["epoch_s"])
        if report is not None:
            report(dict(metrics))
    return history

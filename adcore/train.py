"""The training loop every method shares: SGD with a step schedule, seeded batches, a report
callback per epoch, atomic checkpoints after each epoch and exact resume from them.

A step never waits for the device: the batch positions and augmentations are drawn by a generator
on the training device (``runtime.data_on_device``; else on the host, one copy per epoch), each
step's loss is written into a device tensor, and whether a loss became NaN or infinite is read once
per epoch (and when a step raises), not with a host sync per step. ``FitContext.compile`` compiles
the loss (the forward pass and the regularizer's penalty) with torch.compile; ``cuda_graph`` replays
the whole step as one CUDA graph (``TrainStep``); ``channels_last`` feeds channels-last batches (the
trial converts the network).
"""
from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Generator

import torch

from adcore.config import OptimConfig
from adcore.context import FitContext
from adcore.methods import Detector, TrainBatch
from adcore.objectives import Regularizer

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
STEP, EPOCH = "step", "epoch"  # what fit_steps yields after a training step and after an epoch's evaluation
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
                   device: torch.device | None = None, capturable: bool = False) -> torch.optim.Optimizer:
    """SGD or Adam; on CUDA the fused kernels (one launch for all parameters), elsewhere the foreach
    ones, which compute what the per-parameter loop computes, bit for bit. ``capturable``: Adam keeps
    its step count on the device, so its step can be captured in a CUDA graph (SGD needs nothing)."""
    cuda = device is not None and device.type == "cuda"
    kernels = {"fused": True} if cuda else {"foreach": True}
    if optim.optimizer == "adam":
        return torch.optim.Adam(groups, lr=optim.lr, weight_decay=optim.weight_decay,
                                capturable=capturable and cuda, **kernels)
    return torch.optim.SGD(groups, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay, **kernels)


COMPILE_MODES = {"default": None, "reduce-overhead": "reduce-overhead", "max-autotune": "max-autotune"}


def step_loss_fn(method: Detector, regularizer: Regularizer, ctx: FitContext) -> Callable[[TrainBatch], torch.Tensor]:
    """batch -> the step's float32 loss (the method's loss under the context's autocast, plus the
    regularizer's penalty), compiled when ``ctx.compile`` is not "off"."""

    def step_loss(batch: TrainBatch) -> torch.Tensor:
        # a CUDA graph must not keep autocast's cast copies of the weights from outside its capture
        with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=ctx.autocast, cache_enabled=not ctx.cuda_graph):
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
    """One seeded permutation of range(n) per pass over the normals, drawn on the generator's device;
    several back to back only when a method's epoch is longer than one pass (PANDA counts minibatches,
    not passes)."""
    passes = math.ceil(steps * batch / n) if steps > max(1, n // batch) else 1
    return torch.cat([torch.randperm(n, generator=generator, device=generator.device) for _ in range(passes)])


class TrainStep:
    """One SGD step on a batch: the loss, its gradient, the clip, the optimizer, the regularizer's
    own step. Returns the step's loss on the device, without waiting for it.

    With ``ctx.cuda_graph`` (CUDA, and a method and regularizer that declare ``graph_safe``) the step
    after ``WARMUP`` eager ones is captured whole in one CUDA graph and replayed: one launch per step
    instead of hundreds. The batch is copied into the graph's fixed input tensors first; the gradients
    live in the graph's memory and are overwritten by each replay (never set to None outside it). The
    learning rate and the proximal step's lr are baked into the captured kernels, so the step is
    captured again whenever the lr changes (at the schedule's milestones). Eager steps before the
    capture are real training steps, so the graph changes no result (up to kernel nondeterminism).
    """

    WARMUP = 3  # eager steps before the capture: optimizer state, cuBLAS/cuDNN workspaces exist by then

    def __init__(self, method: Detector, regularizer: Regularizer, ctx: FitContext, optim: OptimConfig,
                 optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter]) -> None:
        self.method, self.regularizer, self.optim, self.optimizer, self.params = method, regularizer, optim, optimizer, params
        self.step_loss = step_loss_fn(method, regularizer, ctx)
        self.graphed = ctx.cuda_graph and ctx.device.type == "cuda" and method.graph_safe and regularizer.graph_safe
        if ctx.cuda_graph and ctx.device.type == "cuda" and not self.graphed:
            log.info("runtime.cuda_graph: %s with regularizer %s does not declare a graph-safe step; training eagerly",
                     type(method).__name__, type(regularizer).__name__)
        self.eager_steps = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.graph_lr: float | None = None
        self.inputs: TrainBatch | None = None  # the graph's fixed input tensors
        self.output: torch.Tensor | None = None  # the graph's loss

    def _step(self, batch: TrainBatch, new_grads: bool = True) -> torch.Tensor:
        loss = self.step_loss(batch)
        if new_grads:  # inside a graph the captured backward writes the gradients in place
            self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.optim.grad_clip)
        self.optimizer.step()
        self.regularizer.after_step(self.optimizer.param_groups[0]["lr"])
        return loss.detach()

    def _capture(self, batch: TrainBatch) -> None:
        if self.inputs is None:
            self.inputs = TrainBatch(**{key: None if value is None else value.clone()
                                        for key, value in vars(batch).items()})
        self.graph = None  # the previous graph's memory goes back before the new capture
        self.optimizer.zero_grad(set_to_none=True)  # the graph allocates the gradients it writes
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.output = self._step(self.inputs, new_grads=False)
        self.graph, self.graph_lr = graph, self.optimizer.param_groups[0]["lr"]

    def __call__(self, batch: TrainBatch) -> torch.Tensor:
        if not self.graphed or self.eager_steps < self.WARMUP:
            self.eager_steps += 1
            return self._step(batch)
        if self.graph is None or self.graph_lr != self.optimizer.param_groups[0]["lr"]:
            self._capture(batch)
        assert self.inputs is not None and self.graph is not None and self.output is not None
        for key, value in vars(batch).items():
            if value is not None:
                getattr(self.inputs, key).copy_(value)
        self.graph.replay()
        return self.output  # overwritten by the next replay: the caller copies it (into the epoch's losses)


def fit(method: Detector, regularizer: Regularizer, ctx: FitContext, optim: OptimConfig,
        generator: torch.Generator, evaluate: Evaluate, report: Report | None = None,
        checkpoint_dir: Path | None = None) -> list[dict[str, Any]]:
    """Train for optim.epochs (resuming from checkpoint_dir if it holds a checkpoint) and return
    the per-epoch history; the last entry carries the final evaluation, test metrics included."""
    steps = fit_steps(method, regularizer, ctx, optim, generator, evaluate, report, checkpoint_dir)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def fit_steps(method: Detector, regularizer: Regularizer, ctx: FitContext, optim: OptimConfig,
              generator: torch.Generator, evaluate: Evaluate, report: Report | None = None,
              checkpoint_dir: Path | None = None) -> Generator[str, None, list[dict[str, Any]]]:
    """``fit`` one step at a time: yields ``STEP`` after every training step and ``EPOCH`` after every
    epoch's evaluation, and returns the history. Several trials in one process (``adcore.pack``) take turns
    through it; ``fit`` runs it to the end.

    ``generator`` orders the batches and draws the augmentations, on its own device: one on the
    training device draws there, so no step copies anything from the host."""
    # one explicit group, which may be empty: a frozen baseline (no trainable parameters) still runs
    params = method.trainable_parameters()
    optimizer = make_optimizer([{"params": params}], optim, ctx.device, capturable=ctx.cuda_graph)
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
    train_step = TrainStep(method, regularizer, ctx, optim, optimizer, params)
    layout = torch.channels_last if ctx.channels_last else torch.contiguous_format
    for epoch in range(start_epoch, optim.epochs):
        started = time.perf_counter()
        method.train()
        # the epoch's positions, drawn by the generator where it lives (on the device: no copy; on the host: one
        # copy per epoch, never a blocking copy per step, which would wait for the device every step)
        order = _epoch_order(n_normal, steps, batch, generator)[: steps * batch].to(ctx.device, non_blocking=True)
        oe_order = None
        if method.uses_oe:  # an epoch is as long as the normal data; OE cycles
            cycle = torch.arange(steps * batch, device=generator.device) % n_oe
            oe_order = torch.randperm(n_oe, generator=generator, device=generator.device)[cycle]
            oe_order = oe_order.to(ctx.device, non_blocking=True)
        losses = torch.zeros(steps, device=ctx.device)  # read once, after the epoch
        step = 0
        try:
            for step in range(steps):
                index = order[step * batch : (step + 1) * batch]
                normal = ctx.transform.train(ctx.normal[index], generator)
                train_batch = TrainBatch(normal=normal.contiguous(memory_format=layout), normal_index=index)
                if oe_order is not None:
                    oe_index = oe_order[step * batch : (step + 1) * batch]
                    oe = ctx.transform.train(ctx.oe[oe_index], generator)
                    train_batch.oe, train_batch.oe_index = oe.contiguous(memory_format=layout), oe_index
                losses[step] = train_step(train_batch)
                yield STEP
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
        yield EPOCH
    return history

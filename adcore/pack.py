"""Several trials in one process, taking turns one training step at a time: ``run_packed(cfgs) -> rows``.

A small network at 32-64 px keeps a few percent of a GPU busy; trials packed into one process fill
it without a process (and a CUDA context) per trial. On CUDA each trial issues its work on its own
stream, so the kernels of different trials run side by side; the host issues one step of each trial
in turn (``adcore.train.fit_steps``), and no step waits for the device.

Every trial keeps what it would have alone: its own seed, generator, model, optimizer and data, and
its own copy of the global random states (python, numpy, torch on the host and on CUDA), swapped in
for each of its turns. So a packed trial computes exactly what it computes alone: bit for bit on the
CPU, and on CUDA up to the nondeterminism of GPU kernels (``benchmarks/gpu_suite.py`` measures it).
One row per trial, ``failed`` with its message where an error a retry cannot fix ends that trial
alone; the others go on. Packed trials do not checkpoint: a pack is rerun whole.
"""
from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, Generator, Iterator, Sequence

import numpy as np
import torch

from adcore.config import TrialConfig
from adcore.row import empty_row
from adcore.train import Report, fit_steps
from adcore.trial import FAILURES, TrialParts, evaluation, prepare_trial, record_failure, summary


@dataclass
class GlobalRandomState:
    """The process-wide random states a trial draws from besides its own generator."""

    python: Any = None
    numpy: Any = None
    torch_cpu: torch.Tensor | None = None
    torch_cuda: torch.Tensor | None = None

    def save(self, cuda: bool) -> None:
        self.python, self.numpy, self.torch_cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
        self.torch_cuda = torch.cuda.get_rng_state() if cuda else None

    def restore(self) -> None:
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.set_rng_state(self.torch_cpu)
        if self.torch_cuda is not None:
            torch.cuda.set_rng_state(self.torch_cuda)


@dataclass
class PackedTrial:
    cfg: TrialConfig
    row: dict[str, Any]
    started: float
    parts: TrialParts | None = None
    steps: Generator[str, None, list[dict[str, Any]]] | None = None
    setup_s: float = 0.0
    random_state: GlobalRandomState = field(default_factory=GlobalRandomState)
    stream: Any = None  # torch.cuda.Stream on CUDA

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """This trial's random states (and CUDA stream) for the duration of one of its turns."""
        self.random_state.restore()
        cuda = self.stream is not None
        with torch.cuda.stream(self.stream) if cuda else contextlib.nullcontext():
            yield
        self.random_state.save(cuda)


def _start(cfg: TrialConfig, report: Report | None) -> PackedTrial:
    trial = PackedTrial(cfg, empty_row(cfg, "ok"), time.perf_counter())
    try:
        trial.parts = prepare_trial(cfg)
    except FAILURES as error:
        record_failure(trial.row, error)
        return trial
    parts = trial.parts
    trial.setup_s = time.perf_counter() - trial.started
    cuda = parts.device.type == "cuda"
    if cuda:
        trial.stream = torch.cuda.Stream(parts.device)
        trial.stream.wait_stream(torch.cuda.current_stream(parts.device))  # the data prepared on the default stream
    trial.random_state.save(cuda)  # as prepare_trial left them: what fit() would start from alone
    trial.steps = fit_steps(parts.method, parts.regularizer, parts.ctx, cfg.optim, parts.generator,
                            evaluation(parts.method, parts.ctx, parts.bench, cfg.probe), report)
    return trial


def _finish(trial: PackedTrial, history: list[dict[str, Any]] | None, error: Exception | None) -> None:
    if error is not None:
        record_failure(trial.row, error)
    else:
        assert trial.parts is not None and history is not None
        trial.row.update(summary(trial.cfg, trial.parts, history, trial.setup_s))
    if trial.stream is not None:
        trial.stream.synchronize()  # nothing of this trial is still running when its memory goes back
    trial.parts = trial.steps = None
    trial.row["total_s"] = time.perf_counter() - trial.started


class Pack:
    """Trials prepared side by side in this process; ``turn()`` runs one step (or one epoch's end) of
    each trial still running. ``run_packed`` turns until every trial has its row; a benchmark may turn
    for a while and count what the turns did."""

    def __init__(self, cfgs: Sequence[TrialConfig | dict[str, Any]],
                 reports: Sequence[Report | None] | None = None) -> None:
        cfgs = [cfg if isinstance(cfg, TrialConfig) else TrialConfig.model_validate(cfg) for cfg in cfgs]
        reports = list(reports) if reports is not None else [None] * len(cfgs)
        if len(reports) != len(cfgs):
            raise ValueError(f"run_packed: {len(cfgs)} configs but {len(reports)} report callbacks")
        self.trials = [_start(cfg, report) for cfg, report in zip(cfgs, reports)]
        self.running = [trial for trial in self.trials if trial.steps is not None]

    def turn(self) -> list[str]:
        """One turn of each running trial; what each yielded (``adcore.train.STEP`` or ``EPOCH``), or
        ``done`` for a trial that ended in this turn."""
        did = []
        for trial in list(self.running):
            assert trial.steps is not None
            history, error = None, None
            with trial.turn():
                try:
                    did.append(next(trial.steps))
                    continue
                except StopIteration as done:
                    history = done.value
                except FAILURES as failure:
                    error = failure
            did.append("done")
            self.running.remove(trial)
            _finish(trial, history, error)
        return did

    def rows(self) -> list[dict[str, Any]]:
        return [trial.row for trial in self.trials]


def run_packed(cfgs: Sequence[TrialConfig | dict[str, Any]],
               reports: Sequence[Report | None] | None = None) -> list[dict[str, Any]]:
    """Run the trials side by side in this process and return their rows, in the order given."""
    pack = Pack(cfgs, reports)
    while pack.running:
        pack.turn()
    return pack.rows()

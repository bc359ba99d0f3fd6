"""NVIDIA's Multi-Process Service for trials that share a GPU (``resources.gpu`` below 1).

Processes that share a GPU without MPS take turns on it (time slicing): the kernels of two trials
never run at once, so small networks leave most of the GPU idle. Under MPS one server holds the GPU
and runs the kernels of every client process side by side. The driver starts the control daemon
(``nvidia-cuda-mps-control -d``) in a directory of its own before Ray starts its workers, which find
it through ``CUDA_MPS_PIPE_DIRECTORY`` inherited from the driver, and stops it (``quit``) when the
study ends. Nothing here imports Ray: ``benchmarks/gpu_suite.py`` starts the same daemon on a machine
without it. The GPU's compute mode is never changed (MPS runs in the default mode).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Literal

CONTROL = "nvidia-cuda-mps-control"
MpsMode = Literal["auto", "on", "off"]


class MpsError(RuntimeError):
    """MPS was asked for (``resources.mps: on``) and could not be started; the message says why."""


class MpsDaemon:
    """One MPS control daemon in a private pipe and log directory."""

    def __init__(self, directory: Path | None = None, control: str = CONTROL) -> None:
        self.directory = Path(directory or tempfile.mkdtemp(prefix="adstudy-mps-"))
        self.control = control
        self.started = False

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs in its environment to reach this daemon."""
        return {"CUDA_MPS_PIPE_DIRECTORY": str(self.directory / "pipe"),
                "CUDA_MPS_LOG_DIRECTORY": str(self.directory / "log")}

    def _control(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.control, *args], input=stdin, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **self.env})

    def start(self) -> None:
        if shutil.which(self.control) is None:
            raise MpsError(f"{self.control} is not on PATH (it ships with NVIDIA's driver utilities); "
                           "set resources.mps=off to let trials time-slice the GPU")
        for folder in self.env.values():
            Path(folder).mkdir(parents=True, exist_ok=True)
        done = self._control("-d")
        if done.returncode != 0:
            raise MpsError(f"{self.control} -d exited {done.returncode}: {(done.stderr or done.stdout).strip()}; "
                           "set resources.mps=off to let trials time-slice the GPU")
        self.started = True

    def stop(self) -> None:
        """Ask the daemon to quit (it ends its server once the last client has gone)."""
        if self.started:
            self._control(stdin="quit\n")
            self.started = False

    def __enter__(self) -> "MpsDaemon":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mps_problem(gpu_per_trial: float, mode: MpsMode, local: bool) -> str | None:
    """Why ``resources.mps: on`` cannot be honoured here, found before anything starts; None if it can
    (or MPS is not insisted on)."""
    if mode != "on" or not 0 < gpu_per_trial < 1:
        return None
    if not local:
        return (f"on starts MPS on this machine only; on a cluster, start {CONTROL} -d on each GPU node "
                "(docs/tune.md) and set resources.mps=off or auto")
    if shutil.which(CONTROL) is None:
        return f"on needs {CONTROL} on PATH (NVIDIA's driver utilities); set resources.mps=auto or off"
    return None


@contextlib.contextmanager
def gpu_sharing(gpu_per_trial: float, mode: MpsMode, local: bool) -> Iterator[str]:
    """Start MPS for this process and the workers it starts, where trials share a GPU, and stop it after;
    yield one line that says how trials share the GPU. ``auto`` starts MPS on a local cluster when the
    control program is there and falls back to time slicing; ``on`` insists (MpsError); ``off`` never
    starts it. A cluster that the driver joins runs MPS on its nodes itself (docs/tune.md)."""
    sharing = 0 < gpu_per_trial < 1
    problem = mps_problem(gpu_per_trial, mode, local)
    if problem is not None:
        raise MpsError(f"resources.mps: {problem}")
    if not sharing or mode == "off":
        yield "" if not sharing else "trials time-slice the GPU (resources.mps=off)"
        return
    if not local:
        yield "trials share the GPU through the cluster's own MPS, if its nodes run it"
        return
    daemon = MpsDaemon()
    try:
        daemon.start()
    except MpsError as error:
        if mode == "on":
            raise
        yield f"trials time-slice the GPU: MPS not started ({error})"
        return
    saved = {key: os.environ.get(key) for key in daemon.env}
    os.environ.update(daemon.env)
    try:
        yield f"trials share the GPU through MPS (pipe {daemon.env['CUDA_MPS_PIPE_DIRECTORY']})"
    finally:
        daemon.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

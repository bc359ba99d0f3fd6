"""What a method or regularizer may use while it is set up: the training data and the device.

It never holds test images, so nothing set up from it can see a test anomaly.

Precision: training may run under bf16 autocast (``autocast``, set on CUDA), but everything that
scores (``forward_batched``) runs in float32, the trunk included, with TF32 off. bf16 keeps 8
significant bits, so 1000 distinct logits fall into a few hundred values and AUROC / AP would be
computed on ties; and ODIN's input step (eps / std ~ 2e-4) is below the rounding step of bf16 (and
of TF32, which cuDNN uses for float32 convolutions by default) for most pixel values, so the first
convolution would erase it. A bf16 trunk with a float32 head would keep ODIN broken and round every
feature that kNN, centre and Dirichlet scores read, so the trunk is not autocast when scoring either.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from adcore.data.transforms import BatchTransform

# float32 convolutions and matmuls that TF32 (or bf16 on oneDNN) may otherwise serve, per backend
_FP32_KNOBS = ("cuda.matmul", "cudnn.conv", "cudnn.rnn", "mkldnn.matmul", "mkldnn.conv", "mkldnn.rnn")


def _knob(path: str):
    backend, op = path.split(".")
    return getattr(getattr(torch.backends, backend), op)


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Autocast off and IEEE float32 (no TF32 or reduced-precision float32) for matmuls and
    convolutions, whatever the caller had switched on; the previous settings come back after."""
    knobs = [(_knob(path), _knob(path).fp32_precision) for path in _FP32_KNOBS]
    try:
        for knob, _ in knobs:
            knob.fp32_precision = "ieee"
        with torch.autocast(device.type, enabled=False):
            yield
    finally:
        for knob, previous in knobs:
            knob.fp32_precision = previous


@dataclass
class FitContext:
    normal: torch.Tensor  # (N, C, S, S) uint8 training normals
    oe: torch.Tensor  # (M, C, S, S) uint8 OE images
    transform: BatchTransform
    device: torch.device
    eval_batch_size: int
    cache_dir: Path
    autocast: bool = False  # bf16 autocast for training (on CUDA); scoring is always float32
    normal_classes: torch.Tensor | None = None  # (N,) int64 source class of each training normal, on the CPU
    compile: str = "off"  # runtime.compile: torch.compile mode of the training step's loss, or "off"
    channels_last: bool = False  # runtime.channels_last: training batches in channels-last layout
    cuda_graph: bool = False  # runtime.cuda_graph: replay the whole training step as one CUDA graph (on CUDA)

    def full_precision(self) -> contextlib.AbstractContextManager[None]:
        """float32 throughout on this context's device (see ``full_precision``)."""
        return full_precision(self.device)

    @torch.no_grad()
    def forward_batched(self, fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> torch.Tensor:
        """fn over uint8 images in eval batches (no augmentation, no grad), in float32 (see the
        module's docstring); float32 on the device."""
        outputs = []
        with self.full_precision():
            for start in range(0, len(images), self.eval_batch_size):
                x = self.transform.eval(images[start : start + self.eval_batch_size])
                outputs.append(fn(x).float())
        return torch.cat(outputs)


"""What a method or regularizer may use while it is set up: the training data and the device.

It never holds test images, so nothing set up from it can see a test anomaly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from adcore.data.transforms import BatchTransform


@dataclass
class FitContext:
    normal: torch.Tensor  # (N, C, S, S) uint8 training normals
    oe: torch.Tensor  # (M, C, S, S) uint8 OE images
    transform: BatchTransform
    device: torch.device
    eval_batch_size: int
    cache_dir: Path
    autocast: bool = False  # bf16 autocast (on CUDA)
    normal_classes: torch.Tensor | None = None  # (N,) int64 source class of each training normal, on the CPU

    @torch.no_grad()
    def forward_batched(self, fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> torch.Tensor:
        """fn over uint8 images in eval batches (no augmentation, no grad); float32 on the device."""
        outputs = []
        for start in range(0, len(images), self.eval_batch_size):
            x = self.transform.eval(images[start : start + self.eval_batch_size])
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                outputs.append(fn(x).float())
        return torch.cat(outputs)


def default_cache_dir(configured: str | None) -> Path:
    path = configured or os.environ.get("ADCORE_CACHE") or Path.home() / ".cache" / "adcore"
    return Path(path).expanduser()

"""Batched tensor transforms: whole batches of uint8 images in, normalised floats out.

No per-sample PIL work: images stay uint8 tensors in memory (on the training device when
``runtime.data_on_device``), are resized once per trial, and each training batch is cropped, flipped
and normalised as one tensor on the training device. The crop offsets and flips are drawn by the
generator the caller passes, on that generator's device: a generator on the training device draws
them there (no host-to-device copy per step); the trial's CPU generator draws them on the host, and
on the CPU both are the same generator, so the same seed gives the same batches.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_images(images: torch.Tensor, size: int, batch: int = 4096) -> torch.Tensor:
    """(N, C, H, W) uint8 -> (N, C, size, size) uint8, bilinear with antialiasing when shrinking."""
    if images.shape[-2:] == (size, size):
        return images
    out = torch.empty((*images.shape[:2], size, size), dtype=torch.uint8)
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch].float()
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=size < images.shape[-1])
        out[start : start + batch] = chunk.round_().clamp_(0, 255).to(torch.uint8)
    return out


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey images are repeated to 3 channels; colour to grey is refused (it would lose data silently)."""
    if images.shape[1] == channels:
        return images
    if images.shape[1] == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    raise ValueError(f"cannot convert {images.shape[1]}-channel images to {channels} channels")


class FeatureTransform:
    """The identity on a frozen prefix's outputs (``model.train_stages``): cached once, they are already
    what the trained stages take, with no augmentation to apply."""

    augment = False

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def eval(self, features: torch.Tensor) -> torch.Tensor:
        return features.to(self.device, non_blocking=True).float()

    def train(self, features: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.eval(features)


class BatchTransform:
    """Normalise (and for training, augment) uint8 batches on the device they will be used on.

    mean and std are per channel in [0, 1] pixel units, as backbones declare them.
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device,
                 augment: bool = True, pad: int = 4) -> None:
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1) * 255.0
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1) * 255.0
        self.device, self.augment, self.pad = device, augment, pad

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device, non_blocking=True).float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return (x - self.mean) / self.std

    def eval(self, images: torch.Tensor) -> torch.Tensor:
        return self._normalise(images)

    def train(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random crop after zero padding by ``pad`` pixels and random horizontal flip, per image."""
        if not self.augment:
            return self._normalise(images)
        n, _, h, w = images.shape
        # drawn where the generator lives (see the module's docstring); a host draw goes to the device
        # without waiting for it
        where = generator.device
        offset_y = torch.randint(0, 2 * self.pad + 1, (n,), generator=generator, device=where)
        offset_x = torch.randint(0, 2 * self.pad + 1, (n,), generator=generator, device=where)
        flip = torch.rand(n, generator=generator, device=where) < 0.5
        x = images.to(self.device, non_blocking=True)
        x = F.pad(x, (self.pad,) * 4)  # (n, c, h + 2p, w + 2p), zero = black border
        rows = (offset_y.to(self.device, non_blocking=True)[:, None] + torch.arange(h, device=self.device))  # (n, h)
        cols = (offset_x.to(self.device, non_blocking=True)[:, None] + torch.arange(w, device=self.device))  # (n, w)
        cols = torch.where(flip.to(self.device, non_blocking=True)[:, None], cols.flip(1), cols)
        batch_index = torch.arange(n, device=self.device)[:, None, None, None]
        chan_index = torch.arange(x.shape[1], device=self.device)[None, :, None, None]
        x = x[batch_index, chan_index, rows[:, None, :, None], cols[:, None, None, :]]  # (n, c, h, w)
        return self._normalise(x)

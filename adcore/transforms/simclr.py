"""SimCLR's augmentations as batched tensor ops (Chen et al. 2020, as CSI applies them on CIFAR):
colour jitter (brightness, contrast, saturation 0.4, hue 0.1) with probability 0.8, greyscale with
probability 0.2, then a random resized crop (scale 0.08..1, aspect ratio 3/4..4/3) back to full size.

Images are floats in [0, 1], (B, 3, H, W); each image draws its own parameters from the global CPU
generator (seeded per trial, saved in checkpoints), so a seed gives the same views on any device.
Two simplifications, both per image and batched: hue is rotated in YIQ space rather than shifted in
HSV, and jitter is applied in a fixed order (brightness, contrast, saturation, hue) rather than a
random one; a crop whose sides would exceed the image is clipped to it rather than redrawn.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_GREY = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _uniform(n: int, low: float, high: float) -> torch.Tensor:
    return torch.rand(n) * (high - low) + low


def _per_image(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return values.to(x.device, x.dtype).view(-1, 1, 1, 1)


def grey(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma."""
    weights = torch.tensor(_GREY, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def rotate_hue(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Rotate each image's chroma by turns (B,) of a full circle in YIQ space."""
    to_yiq = _RGB_TO_YIQ.to(x.device, x.dtype)
    angle = 2 * math.pi * turns.to(x.device, x.dtype)
    cos, sin = angle.cos(), angle.sin()
    rotation = torch.zeros(len(x), 3, 3, device=x.device, dtype=x.dtype)
    rotation[:, 0, 0] = 1.0
    rotation[:, 1, 1], rotation[:, 1, 2], rotation[:, 2, 1], rotation[:, 2, 2] = cos, -sin, sin, cos
    matrix = torch.linalg.inv(to_yiq) @ rotation @ to_yiq  # (B, 3, 3) in RGB
    return torch.einsum("bij,bjhw->bihw", matrix, x)


def color_jitter(x: torch.Tensor, strength: float = 0.4, hue: float = 0.1, p: float = 0.8) -> torch.Tensor:
    n = len(x)
    apply = _per_image(torch.rand(n) < p, x)
    brightness, contrast, saturation = (_uniform(n, 1 - strength, 1 + strength) for _ in range(3))
    turns = _uniform(n, -hue, hue)
    y = (x * _per_image(brightness, x)).clamp(0, 1)
    mean = grey(y).mean(dim=(2, 3), keepdim=True)
    y = ((y - mean) * _per_image(contrast, x) + mean).clamp(0, 1)
    g = grey(y)
    y = ((y - g) * _per_image(saturation, x) + g).clamp(0, 1)
    y = rotate_hue(y, turns).clamp(0, 1)
    return torch.where(apply.bool(), y, x)


def random_grey(x: torch.Tensor, p: float = 0.2) -> torch.Tensor:
    apply = _per_image(torch.rand(len(x)) < p, x).bool()
    return torch.where(apply, grey(x).expand_as(x), x)


def random_resized_crop(x: torch.Tensor, scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """Crop each image to a random area fraction and aspect ratio, resized back to (H, W) bilinearly."""
    n = len(x)
    area = _uniform(n, *scale)
    aspect = torch.exp(_uniform(n, math.log(ratio[0]), math.log(ratio[1])))
    width, height = (area * aspect).sqrt().clamp(max=1.0), (area / aspect).sqrt().clamp(max=1.0)
    centre_x = (torch.rand(n) * 2 - 1) * (1 - width)  # in affine_grid's [-1, 1] coordinates
    centre_y = (torch.rand(n) * 2 - 1) * (1 - height)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = width, centre_x, height, centre_y
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_hflip(x: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    apply = _per_image(torch.rand(len(x)) < p, x).bool()
    return torch.where(apply, x.flip(-1), x)


def simclr_augment(x: torch.Tensor) -> torch.Tensor:
    """SimCLR's colour and crop augmentations of (B, 3, H, W) images in [0, 1] (the flip is separate:
    CSI flips before rotating, so that a flip cannot turn one rotation label into another)."""
    return random_resized_crop(random_grey(color_jitter(x)))

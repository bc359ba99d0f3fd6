"""Softmax-confidence scores of a classifier: MSP (Hendrycks & Gimpel 2017) and ODIN (Liang, Li &
Srikant 2018), the two scorers paper 002 compares (ODIN with T = 1000, eps = 5e-5 throughout).

Both are *normality* scores (the maximum softmax probability); detectors negate them. ODIN moves the
input by eps against the gradient of the temperature-scaled cross-entropy of the predicted class,
x' = x - eps * sign(grad_x CE(f(x) / T, argmax)), then takes max softmax(f(x') / T). eps is in pixel
units of [0, 1] images: on normalised inputs the step is divided by the normalisation std, as ODIN's
code divides its gradient by the std of each channel.

Both run in IEEE float32 whatever autocast or TF32 setting surrounds them (``full_precision``): the
step eps / std ~ 2e-4 is below the rounding step of bf16 and TF32 for most normalised pixel values,
so a reduced-precision first convolution would make ODIN temperature-scaled MSP.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from adcore.context import full_precision


def msp(logits: torch.Tensor) -> torch.Tensor:
    """(B, C) logits -> (B,) maximum softmax probability."""
    return F.softmax(logits.float(), dim=1).max(dim=1).values


def odin_inputs(logits_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, temperature: float,
                epsilon: float, std: torch.Tensor) -> torch.Tensor:
    """ODIN's perturbed inputs x' for normalised x (B, C, H, W); std (1, C, 1, 1) of the normalisation."""
    with torch.enable_grad(), full_precision(x.device):
        x = x.detach().float().requires_grad_(True)
        logits = logits_fn(x).float() / temperature
        loss = F.cross_entropy(logits, logits.argmax(dim=1))
        (grad,) = torch.autograd.grad(loss, x)  # parameters' .grad stay untouched
        return (x - epsilon * grad.sign() / std.float()).detach()


def odin(logits_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, temperature: float,
         epsilon: float, std: torch.Tensor) -> torch.Tensor:
    """(B,) ODIN normality score; with epsilon = 0 and temperature = 1 it is MSP."""
    with full_precision(x.device):
        return msp(logits_fn(odin_inputs(logits_fn, x, temperature, epsilon, std)).float() / temperature)

"""AD losses of paper 000's Table 4 and its baselines, as plain functions of network outputs.

Conventions: normal images are the negatives (label 0), OE images the positives (label 1), and
every loss is a mean over the images of the step.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def oe_bce(logits_normal: torch.Tensor, logits_oe: torch.Tensor) -> torch.Tensor:
    """Eq. (1) of paper 000: binary cross-entropy, normal -> 0, OE -> 1. Logits are (B,)."""
    logits = torch.cat([logits_normal, logits_oe])
    targets = torch.cat([torch.zeros_like(logits_normal), torch.ones_like(logits_oe)])
    return F.binary_cross_entropy_with_logits(logits, targets)


def pseudo_huber(z: torch.Tensor) -> torch.Tensor:
    """h(z) = sqrt(||z||^2 + 1) - 1 for z (B, D): the HSC's radial distance from the origin."""
    return torch.sqrt(z.pow(2).sum(dim=1) + 1.0) - 1.0


def hsc(z_normal: torch.Tensor, z_oe: torch.Tensor) -> torch.Tensor:
    """Hypersphere classifier (Ruff et al. 2020): p(normal | x) = exp(-h(z)), cross-entropy on it.

    Normal images cost h(z); OE images cost -log(1 - exp(-h(z))), written with expm1 for accuracy
    and floored so an OE image sitting exactly at the origin costs a large finite amount.
    """
    h_oe = pseudo_huber(z_oe).clamp_min(1e-6)
    return torch.cat([pseudo_huber(z_normal), -torch.log(-torch.expm1(-h_oe))]).mean()


def center_distance(z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distance of each z (B, D) to a fixed centre (D,): DSVDD's loss and score."""
    return (z - center).pow(2).sum(dim=1)


def sad(z_normal: torch.Tensor, z_oe: torch.Tensor, center: torch.Tensor, eta: float) -> torch.Tensor:
    """Deep SAD with OE as the labelled anomalies: pull normals in, push OE out by 1 / distance."""
    inverse = eta / (center_distance(z_oe, center) + 1e-6)
    return torch.cat([center_distance(z_normal, center), inverse]).mean()


def doc_compactness(z: torch.Tensor) -> torch.Tensor:
    """DOC's compactness (Perera & Patel 2019): each output's squared distance to the mean of the
    *other* outputs of the batch, divided by the output dimension. z is (B, D), B >= 2."""
    n, dim = z.shape
    if n < 2:
        raise ValueError("doc_compactness needs at least two images per batch")
    mean_of_others = (z.sum(dim=0, keepdim=True) - z) / (n - 1)
    return (z - mean_of_others).pow(2).sum(dim=1).mean() / dim


def descriptiveness(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """DOC's descriptiveness: the pretrained classifier must keep classifying a reference set."""
    return F.cross_entropy(logits, labels)

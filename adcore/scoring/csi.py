"""CSI's score (Tack et al. 2020, ``evals/ood_pre.py``) and paper 003's nearest-neighbour form of it.

Per rotation k of K: the test image's projection z_k (not normalised) dotted with the normalised
projections of the rotated training normals, maximised over them (cosine similarity times the norm
of z_k), plus the rotation head's logit for k; each term is weighted by the inverse of its mean over
the training normals (the norm of z_k, the logit for k) and the total averaged over k. A normality
score: detectors negate it. Paper 003 (Eq. 11) scores max over training images x' of
sum_k sim(z_k(x), z_k(x')) * ||z_k(x)||: the same similarity, one nearest neighbour for all k.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

CHUNK = 1024  # test images per similarity matrix


def csi_weights(train_z: torch.Tensor, train_logit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """train_z (N, K, D), train_logit (N, K) right-rotation logits -> (K,) weights of the similarity and
    of the rotation term: 1 / training mean of ||z_k|| and 1 / training mean of the logit."""
    return 1.0 / train_z.norm(dim=2).mean(dim=0), 1.0 / train_logit.mean(dim=0)


def _similarities(z: torch.Tensor, train_z: torch.Tensor) -> torch.Tensor:
    """(B, K, D) test, (N, K, D) train -> (B, K, N) z_k(x) . normalize(z_k(x'))."""
    return torch.einsum("bkd,nkd->bkn", z, F.normalize(train_z, dim=2))


def csi_normality(z: torch.Tensor, logit: torch.Tensor, train_z: torch.Tensor, weight_sim: torch.Tensor,
                  weight_logit: torch.Tensor) -> torch.Tensor:
    """z (B, K, D), logit (B, K) -> (B,) CSI's score (higher = more normal)."""
    out = []
    for start in range(0, len(z), CHUNK):
        nearest = _similarities(z[start : start + CHUNK], train_z).max(dim=2).values  # (b, K)
        out.append((nearest * weight_sim + logit[start : start + CHUNK] * weight_logit).mean(dim=1))
    return torch.cat(out)


def nearest_sum_normality(z: torch.Tensor, train_z: torch.Tensor) -> torch.Tensor:
    """Paper 003's Eq. 11: max over training images of the similarity summed over rotations, (B,)."""
    return torch.cat([_similarities(z[start : start + CHUNK], train_z).sum(dim=1).max(dim=1).values
                      for start in range(0, len(z), CHUNK)])

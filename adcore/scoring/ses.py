"""Sample-wise early stopping (PANDA-SES, paper 001 Sec. 3 and App. D), from the paper: the
authors' code does not have it.

Checkpoints psi_1..psi_T are kept at fixed intervals. Each checkpoint's score is normalised by its
typical normal score s_t: the scorer is fitted on a random 90% of the training features and s_t is
the mean score of the other 10% (scoring the training features against themselves would make
every point its own nearest neighbour). A sample's anomaly score is max_t score_t(x) / s_t: the
checkpoint that separates it best, chosen without seeing any label.
"""
from __future__ import annotations

import torch

from adcore.params import ComponentParams
from adcore.scoring.base import build_scorer

HOLDOUT = 0.1  # the paper's 90% / 10% split of the training features


def typical_score(params: ComponentParams, features: torch.Tensor, generator: torch.Generator,
                  holdout: float = HOLDOUT) -> float:
    """s_t: the mean score of a held-out fraction of the training features (N, D) under the scorer
    fitted on the rest."""
    n_holdout = max(1, round(holdout * len(features)))
    order = torch.randperm(len(features), generator=generator).to(features.device)
    held, gallery = features[order[:n_holdout]], features[order[n_holdout:]]
    return build_scorer(params).fit(gallery).score(held).mean().item()


def sample_wise_max(scores: torch.Tensor, typical: torch.Tensor) -> torch.Tensor:
    """scores (T, M) of T checkpoints, typical (T,) -> (M,): each sample's largest normalised score.

    A fully collapsed checkpoint has s_t = 0; it is floored at float32's smallest normal number so
    its normalised scores stay finite (0 for samples on the collapse point, huge for the rest)."""
    if scores.shape[0] != typical.shape[0]:
        raise ValueError(f"{scores.shape[0]} checkpoints of scores but {typical.shape[0]} typical scores")
    floor = torch.finfo(torch.float32).tiny
    return (scores / typical.to(scores.device).clamp_min(floor)[:, None]).max(dim=0).values

"""Maximum-likelihood Dirichlet fit and GEOM's Dirichlet normality score (paper 004, Sec. 4.2).

GEOM models the softmax vector y(T_i(x)) of normal images under each transformation i as
Dir(alpha_i), fits alpha_i by Minka's fixed-point iteration (2000) started from Wicker et al.'s
(2008) approximation, as the authors' ``experiments.py`` does, and scores
n(x) = sum_i (alpha_i - 1) . log y(T_i(x)), a normality score (the constant log-normalisers dropped).
The simplified score is the mean probability of the right transformation. Both are *normality*
scores: detectors negate them.

Everything is batched over the T transformations; log-probabilities are clipped at log(PROB_FLOOR)
before use so that a saturated softmax cannot put -inf into the fit.
"""
from __future__ import annotations

import math

import torch

PROB_FLOOR = 1e-12
EULER_PSI1 = -0.5772156649015329  # digamma(1)


def inverse_digamma(y: torch.Tensor, newton_steps: int = 5) -> torch.Tensor:
    """x with digamma(x) = y: Minka's initialisation, then Newton steps."""
    x = torch.where(y >= -2.22, torch.exp(y) + 0.5, -1.0 / (y - EULER_PSI1))
    for _ in range(newton_steps):
        x = x - (torch.digamma(x) - y) / torch.polygamma(1, x)
    return x


def fit_dirichlet(log_p: torch.Tensor, max_iter: int = 1000, tol: float = 1e-9) -> torch.Tensor:
    """log_p (..., N, K) log-probability vectors of N samples -> alpha (..., K), per leading index.

    Fixed point: alpha <- digamma^-1(digamma(sum alpha) + mean_n log p_n). Initial alpha: the mean
    vector times Wicker et al.'s estimate of sum alpha. Float64 throughout.
    """
    log_p = log_p.double().clamp_min(math.log(PROB_FLOOR))
    n, k = log_p.shape[-2:]
    p = log_p.exp()
    f = p.mean(dim=-2)  # (..., K)
    log_p_hat = log_p.mean(dim=-2)  # (..., K)
    # zero when every sample is the same vector (e.g. an untrained classifier): the MLE concentration is
    # then infinite; the floor starts the iteration at a large finite one instead of dividing by zero
    denominator = (n * (f * f.log()).sum(-1) - (f * log_p.sum(dim=-2)).sum(-1)).clamp_min(1e-12)
    alpha = f * (n * (k - 1) * -EULER_PSI1 / denominator)[..., None]
    for _ in range(max_iter):
        new = inverse_digamma(torch.digamma(alpha.sum(-1, keepdim=True)) + log_p_hat)
        converged = (new - alpha).pow(2).sum(-1).sqrt().max() < tol
        alpha = new
        if converged:
            break
    return alpha


def dirichlet_normality(log_p: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """log_p (B, T, K) of each image under each transformation, alpha (T, K) -> (B,) sum_t (alpha_t - 1) . log p_t."""
    log_p = log_p.double().clamp_min(math.log(PROB_FLOOR))
    return ((alpha.double() - 1.0) * log_p).sum(dim=(1, 2))


def simplified_normality(log_p: torch.Tensor) -> torch.Tensor:
    """log_p (B, T, T) -> (B,) mean over t of the probability of transformation t under transformation t."""
    return log_p.diagonal(dim1=1, dim2=2).exp().mean(dim=1)

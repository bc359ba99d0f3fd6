"""The Dirichlet maximum-likelihood fit recovers known parameters, and GEOM's scores rank samples of
the fitted distribution as more normal than vectors from elsewhere."""
from __future__ import annotations

import math

import pytest
import torch

from adcore.scoring.dirichlet import dirichlet_normality, fit_dirichlet, inverse_digamma, simplified_normality


def test_inverse_digamma_inverts_digamma() -> None:
    x = torch.tensor([0.05, 0.3, 1.0, 4.0, 50.0], dtype=torch.float64)
    assert torch.allclose(inverse_digamma(torch.digamma(x)), x, rtol=1e-8)


@pytest.mark.parametrize("alpha", [[0.5, 2.0, 5.0, 1.0], [10.0, 0.3, 0.3, 3.0, 1.5]])
def test_fit_recovers_the_parameters_of_dirichlet_samples(alpha: list[float]) -> None:
    torch.manual_seed(0)
    true = torch.tensor(alpha, dtype=torch.float64)
    samples = torch.distributions.Dirichlet(true).sample((20000,))
    estimate = fit_dirichlet(samples.log())
    assert torch.allclose(estimate, true, rtol=0.05)


def test_fit_is_batched_over_transformations() -> None:
    torch.manual_seed(1)
    alphas = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.5, 0.5]], dtype=torch.float64)
    samples = torch.stack([torch.distributions.Dirichlet(a).sample((20000,)) for a in alphas])  # (T, N, K)
    assert torch.allclose(fit_dirichlet(samples.log()), alphas, rtol=0.05)


def test_normality_ranks_in_distribution_vectors_above_others() -> None:
    torch.manual_seed(2)
    alpha = torch.tensor([[20.0, 1.0, 1.0], [1.0, 20.0, 1.0], [1.0, 1.0, 20.0]])  # transformation t -> class t
    normal = torch.stack([torch.distributions.Dirichlet(a).sample((200,)) for a in alpha], dim=1).log()  # (B, T, K)
    confused = torch.distributions.Dirichlet(torch.ones(3)).sample((200, 3)).log()
    assert dirichlet_normality(normal, alpha).mean() > dirichlet_normality(confused, alpha).mean()
    assert simplified_normality(normal).mean() > simplified_normality(confused).mean()


def test_saturated_softmax_does_not_put_infinity_into_the_fit() -> None:
    log_p = torch.log_softmax(torch.tensor([[[200.0, 0.0, 0.0]] * 50]), dim=-1)  # (1, N, K), p ~ e^-200
    alpha = fit_dirichlet(log_p + 0.01 * torch.randn_like(log_p))
    assert torch.isfinite(alpha).all()
    assert math.isfinite(dirichlet_normality(log_p[:, :1].transpose(0, 1), alpha).item())

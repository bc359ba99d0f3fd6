"""Scorers on cached features: the sign convention for every registered scorer, faiss kNN against
brute force, and PANDA-SES' normalisation and per-sample maximum."""
from __future__ import annotations

import pytest
import torch

from adcore.scoring import SCORERS, ScorerNotFittedError, build_scorer, sample_wise_max, typical_score
from adcore.scoring.knn import knn_faiss, knn_torch


@pytest.mark.parametrize("name", SCORERS.names())
def test_every_scorer_scores_far_points_higher(name: str) -> None:
    """The project's sign: training normals near the origin, a point far away is more anomalous."""
    generator = torch.Generator().manual_seed(0)
    train = torch.randn(200, 8, generator=generator) * 0.1
    near, far = torch.zeros(1, 8), torch.full((1, 8), 3.0)
    scorer = build_scorer(name).fit(train)
    scores = scorer.score(torch.cat([near, far]))
    assert scores.shape == (2,) and scores[1] > scores[0]


@pytest.mark.parametrize("name", SCORERS.names())
def test_scoring_before_fitting_is_an_error(name: str) -> None:
    with pytest.raises(ScorerNotFittedError, match="fit"):
        build_scorer(name).score(torch.zeros(1, 4))


@pytest.mark.parametrize("k", [1, 2, 5])
def test_knn_on_faiss_equals_brute_force_torch(k: int) -> None:
    generator = torch.Generator().manual_seed(k)
    gallery, queries = torch.randn(500, 64, generator=generator), torch.randn(120, 64, generator=generator)
    expected = torch.cdist(queries.double(), gallery.double()).pow(2).topk(k, dim=1, largest=False).values
    assert torch.allclose(knn_faiss(gallery, queries, k).double(), expected, rtol=1e-4, atol=1e-3)
    assert torch.allclose(knn_torch(gallery, queries, k).double(), expected, rtol=1e-5, atol=1e-4)
    faiss_scores = build_scorer({"name": "knn", "k": k}).fit(gallery).score(queries)
    torch_scores = build_scorer({"name": "knn", "k": k, "backend": "torch"}).fit(gallery).score(queries)
    assert torch.allclose(faiss_scores, torch_scores, rtol=1e-4, atol=1e-3)


def test_typical_score_is_the_mean_knn_distance_of_a_held_out_tenth() -> None:
    features = torch.randn(100, 16, generator=torch.Generator().manual_seed(1))
    order = torch.randperm(100, generator=torch.Generator().manual_seed(7))
    held, gallery = features[order[:10]], features[order[10:]]
    expected = knn_torch(gallery, held, 2).sum(dim=1).mean().item()
    typical = typical_score({"name": "knn"}, features, torch.Generator().manual_seed(7))
    assert typical == pytest.approx(expected, rel=1e-4)


def test_sample_wise_max_takes_each_samples_largest_normalised_score() -> None:
    scores = torch.tensor([[1.0, 8.0, 3.0],    # checkpoint 1, s_1 = 1
                           [4.0, 4.0, 4.0]])   # checkpoint 2, s_2 = 2
    combined = sample_wise_max(scores, torch.tensor([1.0, 2.0]))
    assert combined.tolist() == [2.0, 8.0, 3.0]  # sample 0 from checkpoint 2, samples 1 and 2 from checkpoint 1


def test_a_collapsed_checkpoint_keeps_scores_finite() -> None:
    combined = sample_wise_max(torch.tensor([[0.0, 1.0], [1.0, 2.0]]), torch.tensor([0.0, 1.0]))
    assert torch.isfinite(combined).all()


def test_scorer_parameters_without_a_name_tune_the_default_knn() -> None:
    """``--set method.scorer.backend=torch`` on a preset that names no scorer means kNN on torch."""
    from adcore.scoring import scorer_params

    params = scorer_params({"backend": "torch", "k": 3})
    assert (params.name, params.backend, params.k) == ("knn", "torch", 3)

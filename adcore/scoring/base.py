"""The scorer interface and registry: fit on the training normals' features, then score features.

A scorer never sees images, only features a detector extracted once (cached), so several scorers
are compared on one model state without re-running the network. Convention, as everywhere in the
project: a higher score means *more anomalous*.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch

from adcore.params import ComponentParams
from adcore.registry import Registry


class ScorerNotFittedError(RuntimeError):
    """score() was called before fit()."""


class Scorer:
    """fit(features of the training normals) -> self; score(features) -> (M,) anomaly scores."""

    Params: ClassVar[type[ComponentParams]]

    def __init__(self, params: ComponentParams) -> None:
        self.params = params
        self.fitted = False

    def fit(self, features: torch.Tensor) -> "Scorer":
        """features: (N, D) float32 of the training normals."""
        self._fit(features.detach().float())
        self.fitted = True
        return self

    def score(self, features: torch.Tensor) -> torch.Tensor:
        """(M, D) -> (M,) float32 on the features' device, higher = more anomalous."""
        if not self.fitted:
            raise ScorerNotFittedError(f"scorer {self.params.name}: call fit() on the training features first")
        return self._score(features.detach().float())

    def _fit(self, features: torch.Tensor) -> None:
        raise NotImplementedError

    def _score(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


SCORERS: Registry[type[Scorer]] = Registry("scorer")


DEFAULT_SCORER = "knn"  # PANDA's


def scorer_params(value: Any) -> ComponentParams:
    """A scorer given as a name or {name: ..., **params}, validated by its own Params model; a mapping
    without a name tunes the default scorer (``--set method.scorer.k=5`` means kNN with k = 5)."""
    return SCORERS.params(value, default=DEFAULT_SCORER)


def build_scorer(params: ComponentParams | str | dict[str, Any]) -> Scorer:
    params = scorer_params(params)
    return SCORERS.get(params.name)(params)

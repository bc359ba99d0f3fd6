"""Scoring on cached features for feature-based detectors (PANDA, the unadapted baseline): the main
scorer and the scorers compared with it are fitted on the training normals' features of one model
state, or of several checkpoints combined by PANDA's sample-wise early stopping.

Features are extracted once per model state; every scorer scores the same features.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field, SerializeAsAny, field_validator, model_validator

from adcore.methods.base import NotFittedError
from adcore.params import ComponentParams
from adcore.scoring import SCORERS, Scorer, build_scorer, sample_wise_max, scorer_params, typical_score


class ScoringParams(ComponentParams):
    scorer: SerializeAsAny[ComponentParams] = Field(
        {"name": "knn"}, validate_default=True,
        description="the anomaly score on the features: knn (k = 2, PANDA's), kmeans or center, with its parameters")
    compare_scorers: list[str] = Field(
        [], description="other scorers (at their defaults) fitted on the same cached features; "
        "reported as <split>_auroc_<name>")

    @field_validator("scorer", mode="before")
    @classmethod
    def _scorer(cls, value: Any) -> ComponentParams:
        return scorer_params(value)

    @field_validator("compare_scorers")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        unknown = [name for name in names if name not in SCORERS]
        if unknown:
            raise ValueError(f"unknown scorer(s) {', '.join(unknown)}; valid scorers: {', '.join(SCORERS.names())}")
        if len(set(names)) != len(names):
            raise ValueError(f"compare_scorers repeats a name: {names}")
        return names

    @model_validator(mode="after")
    def _not_the_main_scorer(self) -> "ScoringParams":
        if self.scorer.name in self.compare_scorers:
            raise ValueError(f"compare_scorers names the main scorer {self.scorer.name!r}; list other scorers")
        return self


@dataclass
class Checkpoint:
    """One model state: its training features, fitted scorers and (SES) typical normal scores."""

    step: int  # training minibatches before this state
    features: torch.Tensor  # (N, D) training normals' features
    scorers: dict[str, Scorer]
    typical: dict[str, float]  # scorer name -> s_t; empty unless sample-wise
    states: list[dict[str, torch.Tensor]] | None  # saved trained-stage weights; None: the live model


class CheckpointScoring:
    """Scores from one model state, or PANDA-SES' maximum normalised score over checkpoints.

    Features given to ``scores`` are the checkpoints' features side by side, (B, T * D).
    """

    def __init__(self, params: ScoringParams, sample_wise: bool) -> None:
        self.params_by_name = {params.scorer.name: params.scorer,
                               **{name: scorer_params(name) for name in params.compare_scorers}}
        self.main, self.compared = params.scorer.name, list(params.compare_scorers)
        self.sample_wise = sample_wise
        self.checkpoints: list[Checkpoint] = []

    def add(self, step: int, features: torch.Tensor, states: list[dict[str, torch.Tensor]] | None) -> None:
        """Fit every scorer on this state's training features; without SES it replaces the last state."""
        scorers = {name: build_scorer(params).fit(features) for name, params in self.params_by_name.items()}
        typical = {}
        if self.sample_wise:  # the split is seeded by the step, so a resumed run draws the same one
            typical = {name: typical_score(params, features, torch.Generator().manual_seed(step))
                       for name, params in self.params_by_name.items()}
        checkpoint = Checkpoint(step, features, scorers, typical, states)
        self.checkpoints = [*self.checkpoints, checkpoint] if self.sample_wise else [checkpoint]

    def _per_checkpoint(self, features: torch.Tensor, name: str) -> torch.Tensor:
        if not self.checkpoints:
            raise NotFittedError("no fitted scorers yet; prepare_scoring() fits them on the training features")
        chunks = features.chunk(len(self.checkpoints), dim=1)  # T x (B, D)
        return torch.stack([c.scorers[name].score(f) for c, f in zip(self.checkpoints, chunks)])  # (T, B)

    def scores(self, features: torch.Tensor, name: str | None = None) -> torch.Tensor:
        per = self._per_checkpoint(features, name or self.main)
        if not self.sample_wise:
            return per[0]
        typical = torch.tensor([c.typical[name or self.main] for c in self.checkpoints])
        return sample_wise_max(per, typical)

    def variant_names(self) -> list[str]:
        names = list(self.compared)
        if self.sample_wise:  # the last checkpoint alone is fixed early stopping; each step, Fig. 1's curve
            names += ["last", *(f"step{c.step}" for c in self.checkpoints)]
        return names

    def variants(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {name: self.scores(features, name) for name in self.compared}
        if self.sample_wise:
            per = self._per_checkpoint(features, self.main)
            out["last"] = per[-1]
            out.update({f"step{c.step}": scores for c, scores in zip(self.checkpoints, per)})
        return out

    def state(self) -> list[dict[str, Any]]:
        """What a resumed run needs (SES keeps its checkpoints); scorers are refitted from it."""
        if not self.sample_wise:
            return []
        return [{"step": c.step, "features": c.features, "states": c.states} for c in self.checkpoints]

    def fitted(self) -> list[dict[str, Any]]:
        """Every checkpoint's training features (and SES' stage weights): the scorers refit on them."""
        return [{"step": c.step, "features": c.features, "states": c.states} for c in self.checkpoints]

    def load_state(self, saved: list[dict[str, Any]]) -> None:
        self.checkpoints = []
        for item in saved:
            self.add(item["step"], item["features"], item["states"])


class ScoredByCheckpoints:
    """Mixed into a Detector whose ``scoring`` (a CheckpointScoring) turns its features into scores:
    the main score and the compared scorers' variants come from there."""

    scoring: CheckpointScoring

    def fitted_state(self) -> dict[str, Any]:
        """SES keeps its checkpoints in the state dict already; otherwise the one state's features."""
        return {} if self.scoring.sample_wise else {"checkpoints": self.scoring.fitted()}

    def restore(self, state: dict[str, Any], fitted: dict[str, Any]) -> None:
        super().restore(state, fitted)  # type: ignore[misc]  (a Detector's, next in the method order)
        if "checkpoints" in fitted:
            self.scoring.load_state(fitted["checkpoints"])

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.scoring.scores(features)

    def variant_names(self) -> list[str]:
        return self.scoring.variant_names()

    def score_variants(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.scoring.variants(features)

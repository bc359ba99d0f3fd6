"""The Mahalanobis distance on frozen pretrained features (Lee, Lee, Lee, Shin, NeurIPS 2018, with
one class; Rippel, Mertens, Merhof 2020 for one-class AD with ImageNet features): fit a Gaussian
N(mu, Sigma) to the training normals' pooled features and score (f - mu)^T Sigma^-1 (f - mu).

With a few hundred images and 1,280 feature dimensions the sample covariance is singular, so Sigma
is the Ledoit-Wolf shrinkage estimate (scikit-learn), as Rippel et al. use.
"""
from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from sklearn.covariance import LedoitWolf, ShrunkCovariance

from adcore.context import FitContext
from adcore.methods.base import METHODS, FrozenFeatureDetector, NotFittedError
from adcore.params import ComponentParams


class MahalanobisParams(ComponentParams):
    shrinkage: float | None = Field(None, ge=0.0, le=1.0, description="covariance shrinkage toward the scaled "
                                    "identity (trace / D) I; None: Ledoit-Wolf's estimate of it")


@METHODS.register("mahalanobis")
class Mahalanobis(FrozenFeatureDetector):
    Params = MahalanobisParams

    def fit(self, features: torch.Tensor, ctx: FitContext) -> None:
        x = features.double().cpu().numpy()  # (N, D)
        shrinkage = self.params.shrinkage
        estimate = (LedoitWolf() if shrinkage is None else ShrunkCovariance(shrinkage=shrinkage)).fit(x)
        self.mean = torch.from_numpy(estimate.location_).to(features.device)  # (D,)
        self.precision = torch.from_numpy(estimate.get_precision()).to(features.device)  # (D, D)

    def fitted_state(self) -> dict[str, Any]:
        return {"mean": self.mean, "precision": self.precision}

    def restore(self, state: dict[str, Any], fitted: dict[str, Any]) -> None:
        super().restore(state, fitted)
        self.mean, self.precision = fitted["mean"], fitted["precision"]

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise NotFittedError("mahalanobis: not fitted; prepare_scoring() fits it on the training features")
        centred = features.double() - self.mean
        return torch.einsum("bi,ij,bj->b", centred, self.precision, centred).float()

"""Deep SVDD (Ruff et al. 2018): compactness of a bias-free head's output z around a centre c that
is fixed from the initial network's outputs on the training normals; score ||z - c||^2.
Paper 000 uses it (and SAD) as the one-class baselines on the same pretrained network; paper 001
reports DSVDD at 84.8 mean AUROC on Fashion-MNIST one-vs-rest.
"""
from __future__ import annotations


import torch
from torch import nn

from adcore.context import FitContext
from adcore.methods.base import METHODS, Detector, NotFittedError, TrainBatch
from adcore.models import Backbone
from adcore.objectives.losses import center_distance
from adcore.params import ComponentParams, hparam


class DSVDDParams(ComponentParams):
    rep_dim: int = hparam(128, "width of the bias-free head's output z", low=1, high=1024)


@METHODS.register("dsvdd")
class DSVDD(Detector):
    Params = DSVDDParams
    uses_oe = False
    CENTER_EPS = 0.1  # Ruff et al.: centre coordinates near zero are moved to +-eps so z = 0 is no trivial fit

    def __init__(self, backbone: Backbone, params: ComponentParams) -> None:
        super().__init__(backbone, params)
        self.head = nn.Linear(backbone.num_features, params.rep_dim, bias=False)
        self.register_buffer("center", torch.full((params.rep_dim,), float("nan")))

    def setup(self, ctx: FitContext) -> None:
        was_training = self.training
        self.eval()
        center = ctx.forward_batched(lambda x: self.head(self.embed(x)), ctx.normal).mean(dim=0)
        self.train(was_training)
        near_zero = center.abs() < self.CENTER_EPS
        center[near_zero] = torch.where(center[near_zero] < 0, -self.CENTER_EPS, self.CENTER_EPS)
        self.center.copy_(center)

    def _z(self, x: torch.Tensor) -> torch.Tensor:
        if torch.isnan(self.center).any():
            raise NotFittedError(f"{self.params.name}: the centre is not set; call setup() first")
        return self.head(self.embed(x)).float()

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        return center_distance(self._z(batch.normal), self.center).mean()

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        return center_distance(self.head(features).float(), self.center)

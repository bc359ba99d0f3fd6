"""The unadapted baseline: kNN on frozen ImageNet features (paper 001's "Unadapted"; Bergman,
Cohen, Hoshen's kNN-AD). Nothing trains; the scorer is fitted once on the training normals'
pooled features. Published on Fashion-MNIST one-vs-rest with ResNet-152 at 224 px: 94.5 mean AUROC.
"""
from __future__ import annotations

import torch

from adcore.context import FitContext
from adcore.methods.base import METHODS, FrozenFeatureDetector
from adcore.methods.scored import CheckpointScoring, ScoredByCheckpoints, ScoringParams
from adcore.models import Backbone


class UnadaptedParams(ScoringParams):
    """The scorer on the frozen features and the scorers compared with it."""


@METHODS.register("unadapted")
class Unadapted(ScoredByCheckpoints, FrozenFeatureDetector):
    Params = UnadaptedParams

    def __init__(self, backbone: Backbone, params: UnadaptedParams) -> None:
        super().__init__(backbone, params)
        self.scoring = CheckpointScoring(params, sample_wise=False)

    def fit(self, features: torch.Tensor, ctx: FitContext) -> None:
        self.scoring.add(0, features, None)

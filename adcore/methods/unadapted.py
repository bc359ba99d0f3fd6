"""The unadapted baseline: kNN on frozen ImageNet features (paper 001's "Unadapted"; Bergman,
Cohen, Hoshen's kNN-AD). Nothing trains; the scorer is fitted once on the training normals'
pooled features. Published on Fashion-MNIST one-vs-rest with ResNet-152 at 224 px: 94.5 mean AUROC.
"""
from __future__ import annotations

from typing import Literal

from torch import nn

from adcore.context import FitContext
from adcore.methods.base import METHODS, Detector
from adcore.methods.scored import CheckpointScoring, ScoredByCheckpoints, ScoringParams
from adcore.models import Backbone


class UnadaptedParams(ScoringParams):
    name: Literal["unadapted"] = "unadapted"


@METHODS.register("unadapted")
class Unadapted(ScoredByCheckpoints, Detector):
    Params = UnadaptedParams
    uses_oe = False

    def __init__(self, backbone: Backbone, params: UnadaptedParams) -> None:
        super().__init__(backbone, params)
        backbone.requires_grad_(False)
        backbone.eval()
        self.scoring = CheckpointScoring(params, sample_wise=False)

    def train(self, mode: bool = True) -> "Unadapted":
        super().train(mode)
        self.backbone.eval()
        return self

    def epoch_steps(self, default: int) -> int:
        return 0  # an epoch only evaluates

    def trainable_parameters(self) -> list[nn.Parameter]:
        return []

    def prepare_scoring(self, ctx: FitContext) -> None:
        """The features never change: fit the scorers once."""
        if not self.scoring.checkpoints:
            self.scoring.add(0, ctx.forward_batched(self.embed, ctx.normal), None)

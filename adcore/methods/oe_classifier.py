"""The OE classifier of paper 000, eq. (1): a new Linear(features, 1) head, binary cross-entropy
with normal images as 0 and OE images as 1. With regularizer l2sp it is ADIB (a7, CIFAR-10 mAP
74.6 in Table 4); with model.adapters it is ADRA (a6, 72.9); from random init a1 (60.3).

Score: the logit, a monotone function of the paper's sigmoid score (same AP and AUROC) that does
not saturate into ties in float32.
"""
from __future__ import annotations


import torch
from torch import nn

from adcore.methods.base import METHODS, Detector, TrainBatch
from adcore.models import Backbone
from adcore.objectives.losses import oe_bce
from adcore.params import ComponentParams


class OEClassifierParams(ComponentParams):
    """Only the name: this component has no parameters."""


@METHODS.register("oe_classifier")
class OEClassifier(Detector):
    Params = OEClassifierParams
    graph_safe = True

    def __init__(self, backbone: Backbone, params: OEClassifierParams) -> None:
        super().__init__(backbone, params)
        self.head = nn.Linear(backbone.num_features, 1)

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        assert batch.oe is not None
        logits = self.score(torch.cat([batch.normal, batch.oe])).float()
        return oe_bce(logits[: len(batch.normal)], logits[len(batch.normal) :])

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features).squeeze(1)

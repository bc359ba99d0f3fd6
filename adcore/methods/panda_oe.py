"""PANDA-OE (paper 001, Sec. 3 "Outlier Exposure" and App. D): a linear head w on the features,
trained with the logistic loss to tell the normal images (0) from the OE images (1) while the last
stage of the backbone is finetuned; score w . psi(x) (the logit). The paper: ImageNet ResNet-152,
last block finetuned, SGD lr 0.1, momentum 0.9, no weight decay, gradient clipping, 75 epochs,
OE from 80M Tiny Images. Published Fashion-MNIST one-vs-rest: 91.8 mean AUROC (below unadapted
kNN's 94.5: OE from natural images does not resemble greyscale Fashion-MNIST anomalies).
"""
from __future__ import annotations

import torch
from torch import nn

from adcore.methods.base import METHODS, TrainBatch
from adcore.methods.staged import StagedDetector, StagedParams
from adcore.models import Backbone
from adcore.objectives.losses import oe_bce
from adcore.params import hparam


class PandaOEParams(StagedParams):
    finetuned_stages: int = hparam(1, "the last k stages of the backbone are finetuned (PANDA-OE: the last block)",
                                   low=1, high=9)


@METHODS.register("panda_oe")
class PandaOE(StagedDetector):
    Params = PandaOEParams

    def __init__(self, backbone: Backbone, params: PandaOEParams) -> None:
        super().__init__(backbone, params)
        self.head = nn.Linear(backbone.num_features, 1)

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        assert batch.oe is not None
        h = torch.cat([self.frozen_batch(batch.normal, batch.normal_index, "normal"),
                       self.frozen_batch(batch.oe, batch.oe_index, "oe")])
        logits = self.score_features(self.trained(h)).float()
        return oe_bce(logits[: len(batch.normal)], logits[len(batch.normal) :])

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features).squeeze(1)

"""Hypersphere classifier (HSC, Ruff et al. 2020, "Rethinking Assumptions in Deep AD") with OE:
a new Linear(features, rep_dim) head z, p(normal) = exp(-h(z)) with the pseudo-Huber h, score h(z).
Arm a3 of paper 000's Table 4 (with l2sp): CIFAR-10 mAP 68.5, STL-10 35.0.
"""
from __future__ import annotations


import torch
from torch import nn

from adcore.methods.base import METHODS, Detector, TrainBatch
from adcore.models import Backbone
from adcore.objectives.losses import hsc, pseudo_huber
from adcore.params import ComponentParams, hparam


class HSCParams(ComponentParams):
    rep_dim: int = hparam(128, "width of the head's output z", low=1, high=1024)


@METHODS.register("hsc")
class HSC(Detector):
    Params = HSCParams
    graph_safe = True

    def __init__(self, backbone: Backbone, params: HSCParams) -> None:
        super().__init__(backbone, params)
        self.head = nn.Linear(backbone.num_features, params.rep_dim)

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        assert batch.oe is not None
        z = self.head(self.embed(torch.cat([batch.normal, batch.oe]))).float()
        return hsc(z[: len(batch.normal)], z[len(batch.normal) :])

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        return pseudo_huber(self.head(features).float())

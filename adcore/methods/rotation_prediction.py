"""Rotation prediction (Gidaris et al. 2018; for one-class AD, Hendrycks et al. 2019c, "Using
Self-Supervised Learning Can Improve Model Robustness and Uncertainty"): a linear head on the
network's features learns which of the four quarter turns was applied to a normal image, and an
image is as anomalous as the turns of it are hard to tell: score = sum over k of the cross-entropy
of predicting k on the image turned by k. Paradigm (i) of paper 000's Table 1 (self-supervision
through geometric transformations); Hendrycks et al. add translation heads, left out here. Each step
trains on all four turns of its normal images; nothing uses OE.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adcore.methods.base import METHODS, Detector, TrainBatch
from adcore.models import Backbone
from adcore.params import ComponentParams

TURNS = 4


class RotationPredictionParams(ComponentParams):
    """Only the name: this component has no parameters."""


def all_turns(x: torch.Tensor) -> torch.Tensor:
    """(B, C, S, S) -> (4B, C, S, S): every image turned by 0, 1, 2 and 3 quarter turns, turn-major."""
    return torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in range(TURNS)])


@METHODS.register("rotation_prediction")
class RotationPrediction(Detector):
    Params = RotationPredictionParams
    needs_images = True  # it turns the images
    uses_oe = False

    def __init__(self, backbone: Backbone, params: RotationPredictionParams) -> None:
        super().__init__(backbone, params)
        self.head = nn.Linear(backbone.num_features, TURNS)

    def _losses(self, x: torch.Tensor) -> torch.Tensor:
        """(B,) the cross-entropy of each image's four turns, summed over the turns."""
        logits = self.head(self.backbone.forward_features(all_turns(x))).float()  # (4B, 4)
        turns = torch.arange(TURNS, device=x.device).repeat_interleave(len(x))
        return F.cross_entropy(logits, turns, reduction="none").view(TURNS, len(x)).sum(dim=0)

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        return self._losses(batch.normal).mean() / TURNS

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self._losses(x)[:, None]  # (B, 1): the score is the feature; the turns need the images

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        return features[:, 0]

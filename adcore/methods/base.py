"""One detector interface for every method: fit (through the shared training loop), then score.

A method owns its new head, its loss and its score. ``score`` is higher for more anomalous
images; it is ``score_features(embed(x))`` so features can be cached and re-scored without
running the network again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from adcore.context import FitContext
from adcore.models import Backbone
from adcore.params import ComponentParams
from adcore.registry import Registry


@dataclass
class TrainBatch:
    """One training step's images, normalised and augmented on the training device."""

    normal: torch.Tensor  # (B, 3, S, S)
    oe: torch.Tensor | None = None  # (B, 3, S, S) when the method uses OE
    oe_index: torch.Tensor | None = None  # (B,) positions of those OE images in FitContext.oe
    normal_index: torch.Tensor | None = None  # (B,) positions of the normal images in FitContext.normal


class NotFittedError(RuntimeError):
    """Scoring was asked of a detector whose fitted state (e.g. a centre) does not exist yet."""


class Detector(nn.Module):
    Params: ClassVar[type[ComponentParams]]
    uses_oe: ClassVar[bool] = True  # the training loop feeds OE batches to loss()
    uses_imagenet_head: ClassVar[bool] = False  # the backbone's pretrained classifier stays trainable

    def __init__(self, backbone: Backbone, params: ComponentParams) -> None:
        super().__init__()
        self.backbone, self.params = backbone, params

    def setup(self, ctx: FitContext) -> None:
        """Called once before training, with the initial (pretrained) network."""

    def prepare_scoring(self, ctx: FitContext) -> None:
        """Called before each evaluation, e.g. to refit a centre on the current features."""

    def epoch_steps(self, default: int) -> int:
        """Minibatches per epoch; ``default`` is one pass over the normal images. A method may train
        a fixed number of minibatches (PANDA's early stopping) or none (a frozen baseline)."""
        return default

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        raise NotImplementedError

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_features(x)

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return self.score_features(self.embed(x))

    def variant_names(self) -> list[str]:
        """Names of other scores the method derives from the same features (e.g. other scorers);
        evaluation reports each as ``<split>_auroc_<name>`` beside the main score."""
        return []

    def score_variants(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """{name: (B,) scores} for variant_names(), from features as embed() returns them."""
        return {}

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]


METHODS: Registry[type[Detector]] = Registry("method")


def build_method(params: ComponentParams, backbone: Backbone) -> Detector:
    method = METHODS.get(params.name)(backbone, params)
    if not method.uses_imagenet_head:
        head_names = backbone.head_parameter_names()
        for name, p in backbone.named_parameters():
            if name in head_names:
                p.requires_grad_(False)
    return method

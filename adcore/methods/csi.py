"""CSI, contrastive learning with shifted instances (Tack et al. 2020), the base of paper 003.

Every normal image in a batch is rotated by 0, 90, 180 and 270 degrees, and each rotation is its own
instance (a negative of the others); two SimCLR views of every instance are contrasted with NT-Xent
(tau = 0.5) on a projection head, and a linear head on the shared features classifies the rotation:
loss = NT-Xent + cross-entropy. Each view is flipped at random before the rotation (as CSI does) and
colour-jittered, greyed and crop-resized after it (``adcore.transforms.simclr``). The score is CSI's
(``adcore.scoring.csi``), weighted by the inverse training means, negated; paper 003's Eq. 11 form is
reported beside it as ``paper003``. CIFAR-10 one-vs-rest mean AUROC: CSI 94.3, paper 003 95.1.
"""
from __future__ import annotations


from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from adcore.context import FitContext
from adcore.methods.base import METHODS, Detector, NotFittedError, TrainBatch
from adcore.models import Backbone
from adcore.objectives.contrastive import nt_xent
from adcore.params import ComponentParams, hparam
from adcore.scoring.csi import csi_normality, csi_weights, nearest_sum_normality
from adcore.transforms.simclr import random_hflip, simclr_augment

ROTATIONS = 4


class CSIParams(ComponentParams):
    temperature: float = hparam(0.5, "NT-Xent temperature tau", low=0.05, high=1.0, log=True)
    projection_dim: int = Field(128, ge=1, description="width of the projection head's output z")


def rotations(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, S, S) -> all four rotations (4B, C, S, S), rotation k first for k = 0..3, and their labels."""
    rotated = torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in range(ROTATIONS)])
    return rotated, torch.arange(ROTATIONS, device=x.device).repeat_interleave(len(x))


class CSINetwork(nn.Module):
    """The feature extractor F of CSI and paper 003: backbone, projection head, rotation head."""

    def __init__(self, backbone: Backbone, projection_dim: int) -> None:
        super().__init__()
        width = backbone.num_features
        self.projection = nn.Sequential(nn.Linear(width, width), nn.ReLU(inplace=True),
                                        nn.Linear(width, projection_dim))
        self.rotation_head = nn.Linear(width, ROTATIONS)

    def heads(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.projection(features), self.rotation_head(features)


@METHODS.register("csi")
class CSI(Detector):
    Params = CSIParams
    needs_images = True
    uses_oe = False

    def __init__(self, backbone: Backbone, params: CSIParams) -> None:
        super().__init__(backbone, params)
        self.net = CSINetwork(backbone, params.projection_dim)
        self.register_buffer("mean", torch.tensor(backbone.input_mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(backbone.input_std).view(1, -1, 1, 1))
        # fitted before each evaluation, so not part of the state: (N, K, D) training projections, (K,) weights
        self.train_z: torch.Tensor | None = None
        self.weights: tuple[torch.Tensor, torch.Tensor] | None = None

    def to_pixels(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

    def to_input(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels - self.mean) / self.std

    def views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised (B, ...) images -> two augmented views of their shifted instances (8B, ...), and
        the rotation label of each."""
        pixels = self.to_pixels(x)
        out, labels = [], None
        for _ in range(2):
            rotated, labels = rotations(random_hflip(pixels))
            out.append(self.to_input(simclr_augment(rotated)))
        return torch.cat(out), labels.repeat(2)

    def csi_loss(self, x: torch.Tensor) -> torch.Tensor:
        """L_CSI of a batch of normalised images: NT-Xent over the shifted instances + rotation loss."""
        views, labels = self.views(x)
        z, logits = self.net.heads(self.backbone.forward_features(views))
        return nt_xent(z, self.params.temperature) + F.cross_entropy(logits.float(), labels)

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        return self.csi_loss(batch.normal)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, K * (D + 1)): per rotation k, the projection z_k and the rotation head's logit for k."""
        rotated, labels = rotations(x)
        z, logits = self.net.heads(self.backbone.forward_features(rotated))
        logit = logits.float().gather(1, labels[:, None])  # (4B, 1)
        features = torch.cat([z.float(), logit], dim=1).view(ROTATIONS, len(x), -1)  # (K, B, D + 1)
        return features.transpose(0, 1).flatten(1)

    def _split(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = features.view(len(features), ROTATIONS, -1)
        return features[..., :-1], features[..., -1]

    def prepare_scoring(self, ctx: FitContext) -> None:
        z, logit = self._split(ctx.forward_batched(self.embed, ctx.normal))
        self.train_z, self.weights = z, csi_weights(z, logit)

    def fitted_state(self) -> dict[str, Any]:
        if self.train_z is None or self.weights is None:
            raise NotFittedError("csi: no training features yet; prepare_scoring() extracts them")
        return {"train_z": self.train_z, "weights": list(self.weights)}

    def restore(self, state: dict[str, Any], fitted: dict[str, Any]) -> None:
        super().restore(state, fitted)
        self.train_z, self.weights = fitted["train_z"], tuple(fitted["weights"])

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        if self.train_z is None or self.weights is None:
            raise NotFittedError("csi: no training features yet; prepare_scoring() extracts them")
        z, logit = self._split(features)
        return -csi_normality(z, logit, self.train_z, *self.weights)

    def variant_names(self) -> list[str]:
        return ["paper003"]

    def score_variants(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.train_z is None:
            raise NotFittedError("csi: no training features yet; prepare_scoring() extracts them")
        z, _ = self._split(features)
        return {"paper003": -nearest_sum_normality(z, self.train_z)}

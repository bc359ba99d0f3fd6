"""GEOM (Golan & El-Yaniv, NeurIPS 2018, paper 004): classify which of 72 geometric transformations
was applied to a normal image, then score an image by how normal the classifier's softmax outputs on
its 72 transformed copies look.

Training is on the self-labelled set S_T = {(T_j(x), j)}: here an epoch is one pass over S_T (72
minibatches per minibatch of normals), each image meeting every transformation once per epoch in its
own random order, as a shuffled S_T does; the authors train ceil(200 / 72) = 3 such epochs with Adam,
batch 128, WRN-10-4. Scoring fits a Dirichlet per transformation to the training normals' softmax
vectors (``adcore.scoring.dirichlet``) and negates the Dirichlet normality score; the simplified
score (mean probability of the right transformation) is the other choice and is always reported
beside it. Published Fashion-MNIST one-vs-rest AUROC: 93.5 mean (Table 1).
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from adcore.context import FitContext
from adcore.methods.base import METHODS, Detector, NotFittedError, TrainBatch
from adcore.models import Backbone
from adcore.params import ComponentParams, hparam
from adcore.scoring.dirichlet import dirichlet_normality, fit_dirichlet, simplified_normality
from adcore.transforms.geometric import apply_indexed, geom_transforms, index_table

SCORES = ("dirichlet", "simplified")
IMAGES_PER_FORWARD = 2048  # transformed copies per forward pass when scoring (bounds activation memory)


class GEOMParams(ComponentParams):
    score: Literal["dirichlet", "simplified"] = hparam(
        "dirichlet", "dirichlet: Dirichlet normality score (the paper's); simplified: mean probability of the "
        "right transformation", choices=SCORES)
    translation: int = Field(8, ge=0, description="x and y translation in pixels (8 for 32x32 images, 16 for 64x64)")
    pad_to: int | None = Field(None, ge=8, description="zero-pad smaller images to this side first, as the authors "
                               "pad Fashion-MNIST from 28 to 32 pixels (None: no padding)")


@METHODS.register("geom")
class GEOM(Detector):
    Params = GEOMParams
    graph_safe = True
    needs_images = True
    uses_oe = False

    def __init__(self, backbone: Backbone, params: GEOMParams) -> None:
        super().__init__(backbone, params)
        self.transforms = geom_transforms(params.translation)
        n = len(self.transforms)
        self.head = nn.Linear(backbone.num_features, n)
        # the pixel value 0 after normalisation, per channel: what zero-padding pads with
        zero = -torch.tensor(backbone.input_mean) / torch.tensor(backbone.input_std)
        self.register_buffer("pad_value", zero.view(1, -1, 1, 1))
        self.register_buffer("alpha", torch.full((n, n), float("nan")))  # (T, K) Dirichlet parameters
        self.register_buffer("order", torch.empty(0, n, dtype=torch.long))  # (N, T) each image's transform order
        self.register_buffer("visits", torch.empty(0, dtype=torch.long))  # (N,) times each image was trained on
        self._tables: dict[tuple[int, str], torch.Tensor] = {}

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        side = self.params.pad_to
        if side is None or x.shape[-1] >= side:
            return x
        before = (side - x.shape[-1]) // 2
        after = side - x.shape[-1] - before
        return F.pad(x - self.pad_value, (before, after, before, after)) + self.pad_value

    def _table(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.shape[-1], str(x.device))
        if key not in self._tables:
            if x.shape[-2] != x.shape[-1] or self.params.translation >= x.shape[-1]:
                raise ValueError(f"geom needs square images larger than method.translation={self.params.translation}, "
                                 f"got {tuple(x.shape[-2:])}")
            self._tables[key] = index_table(self.transforms, x.shape[-1]).to(x.device)
        return self._tables[key]

    def setup(self, ctx: FitContext) -> None:
        n_images, n_transforms = len(ctx.normal), len(self.transforms)
        self.order = torch.rand(n_images, n_transforms).argsort(dim=1).to(ctx.device)
        self.visits = torch.zeros(n_images, dtype=torch.long, device=ctx.device)

    def epoch_steps(self, default: int) -> int:
        return default * len(self.transforms)  # one pass over S_T, 72 times the normals

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        assert batch.normal_index is not None
        index = batch.normal_index.to(self.visits.device)
        which = self.order[index, self.visits[index] % len(self.transforms)]
        self.visits.index_add_(0, index, torch.ones_like(index))
        x = self._pad(batch.normal)
        logits = self.head(self.backbone.forward_features(apply_indexed(x, self._table(x), which)))
        return F.cross_entropy(logits.float(), which)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, T * T): log-softmax over transformations of each transformed copy, [b, t, :]."""
        x = self._pad(x)
        n, table = len(self.transforms), self._table(x)
        per_forward = max(1, IMAGES_PER_FORWARD // len(x))
        out = []
        for start in range(0, n, per_forward):
            which = torch.arange(start, min(n, start + per_forward), device=x.device)  # (t,)
            copies = apply_indexed(x.repeat(len(which), 1, 1, 1), table, which.repeat_interleave(len(x)))
            features = self.backbone.forward_features(copies)
            with torch.autocast(x.device.type, enabled=False):  # the Dirichlet fit needs float32 log-probs
                log_p = F.log_softmax(self.head(features.float()), dim=1)  # (t * B, T)
            out.append(log_p.view(len(which), len(x), n).transpose(0, 1))  # (B, t, T)
        return torch.cat(out, dim=1).flatten(1)

    def prepare_scoring(self, ctx: FitContext) -> None:
        """Fit one Dirichlet per transformation to the training normals' softmax vectors (all of S)."""
        n = len(self.transforms)
        log_p = ctx.forward_batched(self.embed, ctx.normal).view(-1, n, n)  # (N, T, K)
        alpha = fit_dirichlet(log_p.transpose(0, 1)).float()
        if not torch.isfinite(alpha).all():
            raise FloatingPointError("geom: the Dirichlet fit to the training normals' softmax vectors diverged; "
                                     "train longer (optim.epochs) or use method.score=simplified")
        self.alpha.copy_(alpha)

    def _normality(self, features: torch.Tensor, score: str) -> torch.Tensor:
        n = len(self.transforms)
        log_p = features.view(-1, n, n)
        if score == "simplified":
            return simplified_normality(log_p)
        if torch.isnan(self.alpha).any():
            raise NotFittedError("geom: the Dirichlet parameters are not fitted; prepare_scoring() fits them")
        return dirichlet_normality(log_p, self.alpha)

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        return -self._normality(features, self.params.score).float()

    def variant_names(self) -> list[str]:
        return [s for s in SCORES if s != self.params.score]

    def score_variants(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: -self._normality(features, name).float() for name in self.variant_names()}

"""PANDA (Reiss, Cohen, Bergman, Hoshen: "PANDA: Adapting Pretrained Features for Anomaly
Detection", paper 001): finetune the last stages of an ImageNet network so the training normals'
features become compact around a fixed centre, then score by kNN (k = 2) to the training features.

- Centre c: the mean of the *pretrained* features of the training set, computed once before
  training and never updated (eq. 1). Loss: mean ||f(x) - c||^2 ("paper"), or that divided by the
  feature dimension as in the authors' CompactnessLoss ("code").
- Against collapse: fixed early stopping (optim.epochs x steps_per_epoch minibatches; 2.3k in the
  paper), EWC (the ``ewc`` regularizer, lambda = 1e4), or sample-wise early stopping (``ses``:
  a checkpoint at every evaluation, each scored by kNN normalised by its typical normal kNN
  distance, the maximum over checkpoints as the score; see adcore.scoring.ses).
- Optimisation in the paper: SGD lr 1e-2, momentum 0.9, weight decay 5e-5, gradient-norm clip
  1e-3, batch 32, BatchNorm in eval mode (the ``panda*`` presets).

Published on Fashion-MNIST one-vs-rest with ResNet-152 at 224 px (mean AUROC %): unadapted 94.5,
PANDA-ES 95.4, PANDA-SES 95.5, PANDA-EWC 95.6 (Tables 1 and 4).
"""
from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from adcore.context import FitContext
from adcore.methods.base import METHODS, NotFittedError, TrainBatch
from adcore.methods.scored import CheckpointScoring, ScoredByCheckpoints, ScoringParams
from adcore.methods.staged import StagedDetector, StagedParams
from adcore.models import Backbone
from adcore.params import hparam


class PandaParams(StagedParams, ScoringParams):
    loss_form: Literal["paper", "code"] = hparam(
        "paper", "paper: mean ||f(x) - c||^2 (eq. 1); code: also divided by the feature dimension "
        "(the authors' CompactnessLoss)", choices=["paper", "code"])
    ses: bool = Field(False, description="sample-wise early stopping: keep a checkpoint at every evaluation "
                      "(every epoch) and score by the maximum over checkpoints of the normalised score")
    steps_per_epoch: int | None = Field(None, ge=1, description="minibatches between evaluations (and SES "
                                        "checkpoints); None: one pass over the normals. Training lasts "
                                        "optim.epochs x this many minibatches (PANDA's early stopping: 2.3k)")


@METHODS.register("panda")
class Panda(ScoredByCheckpoints, StagedDetector):
    Params = PandaParams
    uses_oe = False

    def __init__(self, backbone: Backbone, params: PandaParams) -> None:
        super().__init__(backbone, params)
        self.register_buffer("center", torch.full((backbone.num_features,), float("nan")))
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.scoring = CheckpointScoring(params, sample_wise=params.ses)

    def setup(self, ctx: FitContext) -> None:
        """Cache the frozen stages, then fix the centre on the pretrained features."""
        super().setup(ctx)
        self.center.copy_(self.train_features(ctx).mean(dim=0))

    def epoch_steps(self, default: int) -> int:
        return self.params.steps_per_epoch or default

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        if torch.isnan(self.center).any():
            raise NotFittedError("panda: the centre is not set; call setup() first")
        features = self.trained(self.frozen_batch(batch.normal, batch.normal_index, "normal")).float()
        distances = (features - self.center).pow(2).sum(dim=1)  # (B,)
        if self.params.loss_form == "code":
            distances = distances / features.shape[1]
        self.steps_done += 1
        return distances.mean()

    def prepare_scoring(self, ctx: FitContext) -> None:
        """Fit the scorers on the training features of the current weights; with SES, keep them as a
        new checkpoint (once per training interval: a second call without training adds nothing)."""
        step = int(self.steps_done)
        if self.params.ses:
            if self.scoring.checkpoints and self.scoring.checkpoints[-1].step == step:
                return
            states = self.stage_states()
            self.scoring.add(step, self.train_features(ctx, states), states)
        else:
            self.scoring.add(step, self.train_features(ctx), None)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) features; with SES, every checkpoint's features side by side, (B, T * D)."""
        h = self.frozen(x)
        if not self.params.ses:
            return self.trained(h)
        if not self.scoring.checkpoints:
            raise NotFittedError("panda: no SES checkpoint yet; call prepare_scoring() after training")
        return torch.cat([self.trained(h, c.states) for c in self.scoring.checkpoints], dim=1)

    def get_extra_state(self) -> list[dict[str, Any]]:
        return self.scoring.state()

    def set_extra_state(self, state: list[dict[str, Any]]) -> None:
        device = self.center.device  # checkpoints are loaded onto the CPU
        self.scoring.load_state([{"step": item["step"], "features": item["features"].to(device),
                                  "states": [{k: v.to(device) for k, v in s.items()} for s in item["states"]]}
                                 for item in state])

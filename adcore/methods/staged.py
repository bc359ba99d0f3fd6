"""Detectors that finetune only the last stages of a pretrained backbone, as PANDA does (paper 001).

PANDA trains layer3 and layer4 of an ImageNet ResNet-152 and freezes the rest; ``finetuned_stages = k``
trains the last k entries of ``Backbone.stages()`` on any backbone (ResNets: 2 = layer3 + layer4;
EfficientNet-Lite0: 2 = blocks.6 + conv_head). The backbone stays in eval mode throughout, as in
PANDA's code (which never calls ``model.train()``): BatchNorm normalises with its ImageNet
statistics, which therefore never move, while its affine parameters in the trained stages still
learn. The frozen prefix's output on the training images is computed once per trial and reused
by every epoch, both for training batches and for re-extracting the training features. This split is
the method's own, in memory (``method.finetuned_stages``); ``model.train_stages`` is another mechanism,
the trial's: a frozen prefix whose output is cached on disk for methods that never see the images.
"""
from __future__ import annotations

import logging
import math
from typing import Any

import torch
from pydantic import Field, model_validator
from torch import nn
from torch.func import functional_call

from adcore.context import FitContext
from adcore.methods.base import Detector
from adcore.models import Backbone
from adcore.params import ComponentParams, hparam

log = logging.getLogger(__name__)

StageStates = list[dict[str, torch.Tensor]]  # one state dict per trained stage


class StagedParams(ComponentParams):
    finetuned_stages: int = hparam(2, "the last k stages of the backbone are finetuned, the earlier ones are frozen "
                                      "(ResNets: 2 = layer3 + layer4, PANDA's choice)", low=1, high=9)
    cache_frozen_mb: int = Field(4096, ge=0, description="largest frozen-stage output (training + OE images) "
                                 "kept in memory; above it the frozen stages run on every batch, without gradient")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "train_stages" in data:
            raise ValueError("method.train_stages is now method.finetuned_stages (this method's own split of the "
                             "backbone); model.train_stages is the frozen prefix cached on disk, which this method "
                             "does not take")
        return data


class StagedDetector(Detector):
    """A backbone split into frozen early stages and trained late stages."""

    needs_images = True  # it splits the backbone itself (method.finetuned_stages)

    def __init__(self, backbone: Backbone, params: StagedParams) -> None:
        super().__init__(backbone, params)
        stages = backbone.stages()
        k = params.finetuned_stages
        if not 1 <= k <= len(stages):
            names = ", ".join(name for name, _ in stages)
            raise ValueError(f"{params.name}: finetuned_stages={k}, but this backbone has {len(stages)} stages ({names})")
        # plain lists, not submodules: the backbone already owns these modules and their state
        self._frozen: list[nn.Module] = [module for _, module in stages[:-k]]
        self._trained: list[nn.Module] = [module for _, module in stages[-k:]]
        self.trained_stage_names = [name for name, _ in stages[-k:]]
        for module in self._frozen:
            module.requires_grad_(False)
        self.backbone.eval()
        self._cache: dict[str, torch.Tensor] = {}  # "normal" / "oe" -> (N, C, h, w) frozen-stage output

    def train(self, mode: bool = True) -> "StagedDetector":
        super().train(mode)
        self.backbone.eval()  # BatchNorm keeps its ImageNet statistics, in training too
        return self

    @torch.no_grad()
    def frozen(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> the frozen stages' output (B, C, h, w)."""
        for module in self._frozen:
            x = module(x)
        return x

    def trained(self, h: torch.Tensor, states: StageStates | None = None) -> torch.Tensor:
        """Frozen-stage output (B, C, h, w) -> pooled features (B, D), with the live weights of the
        trained stages or with a saved copy of them (``states``)."""
        for i, module in enumerate(self._trained):
            h = module(h) if states is None else functional_call(module, states[i], (h,))
        return h.mean(dim=(2, 3))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.trained(self.frozen(x))

    def stage_states(self) -> StageStates:
        """A detached copy of the trained stages' parameters and buffers."""
        return [{name: value.detach().clone() for name, value in module.state_dict().items()}
                for module in self._trained]

    def setup(self, ctx: FitContext) -> None:
        """Run the frozen stages once over the training (and OE) images, when no augmentation makes
        every pass different and the result fits in ``cache_frozen_mb``."""
        if ctx.transform.augment:
            return
        sets = {"normal": ctx.normal, **({"oe": ctx.oe} if self.uses_oe else {})}
        shape = self.frozen(ctx.transform.eval(ctx.normal[:1])).shape[1:]
        megabytes = sum(len(images) for images in sets.values()) * math.prod(shape) * 4 / 2**20
        if megabytes > self.params.cache_frozen_mb:
            log.info("frozen stages not cached: %.0f MB > cache_frozen_mb", megabytes)
            return
        self._cache = {which: ctx.forward_batched(self.frozen, images) for which, images in sets.items()}

    def frozen_batch(self, images: torch.Tensor, index: torch.Tensor | None, which: str) -> torch.Tensor:
        """The frozen stages' output for a training batch: looked up when cached, else computed."""
        cached = self._cache.get(which)
        if cached is None or index is None:
            return self.frozen(images)
        return cached[index.to(cached.device)]

    @torch.no_grad()
    def train_features(self, ctx: FitContext, states: StageStates | None = None) -> torch.Tensor:
        """Pooled features (N, D) of the training normals under the current (or saved) weights."""
        cached = self._cache.get("normal")
        if cached is None:
            return ctx.forward_batched(lambda x: self.trained(self.frozen(x), states), ctx.normal)
        out = []
        with ctx.full_precision():  # features that scorers read: float32, as forward_batched gives them
            for start in range(0, len(cached), ctx.eval_batch_size):
                out.append(self.trained(cached[start : start + ctx.eval_batch_size], states).float())
        return torch.cat(out)

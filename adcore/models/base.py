"""The surface every backbone shares, its registry, and strict loading of weights files.

Methods see a backbone only through this surface (timm's ``forward_features`` /
``forward_head``, plus ``stages()``), so a study can swap ImageNet EfficientNet-Lite0 for the
papers' ResNets without touching a method. Weights files are checked key by key and shape by
shape: a file that silently half-loads would turn a transfer experiment into a random-init one
without anyone noticing.
"""
from __future__ import annotations

import os
from typing import Callable, Mapping

import torch
from torch import Tensor, nn

from adcore.registry import Registry


class Backbone(nn.Module):
    """Every backbone has the same surface so methods never reach into internals.

    Subclasses set the attributes below and implement ``stages()`` and ``head()``;
    ``forward_features`` is defined once here as "run the stages, then average-pool", so the
    stages are by construction the whole network and a method that freezes a prefix can run
    (and cache) exactly that prefix.
    """

    num_features: int  # width of forward_features' output
    num_classes: int  # classes of the pretrained ImageNet head; 0 when there is none
    input_mean: tuple[float, float, float]  # x_norm = (x / 255 - mean) / std, per channel
    input_std: tuple[float, float, float]
    adapter_style: str  # "per_conv" (ResNets) or "per_block" (EfficientNet); see adapters.py
    frozen_stages: int = 0  # after freeze_prefix(): this many stages are frozen
    prefix_in_input: bool = False  # forward_features takes the frozen prefix's (cached) output, not images

    def stages(self) -> list[tuple[str, nn.Module]]:
        """Ordered early -> late, stem first; applied in turn they map the normalised input
        (B, 3, H, W) to the last feature map (B, num_features, h, w)."""
        raise NotImplementedError

    def head(self) -> nn.Module | None:
        """The pretrained classifier on pooled features, or None when there is none."""
        raise NotImplementedError

    def head_parameter_names(self) -> set[str]:
        """Names (as in named_parameters()) of the pretrained head's parameters, which methods
        with their own head freeze and regularizers leave out."""
        head = self.head()
        in_head = {id(p) for p in head.parameters()} if head is not None else set()
        return {name for name, p in self.named_parameters() if id(p) in in_head}

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) normalised float -> (B, num_features), globally average-pooled. With
        ``prefix_in_input`` the input is the frozen prefix's output (``prefix(images)``) instead."""
        if self.frozen_stages and not self.prefix_in_input:
            x = self.prefix(x)
        for _, stage in self.stages()[self.frozen_stages:]:
            x = stage(x)
        return x.mean(dim=(2, 3))

    def freeze_prefix(self, train_stages: int) -> None:
        """Freeze all but the last ``train_stages`` stages. Their output on an image never changes, so it
        can be computed once (``prefix``, cached by ``adcore.prefix``) and handed to ``forward_features``
        in place of the image (``prefix_in_input``); otherwise the frozen stages run on every call, in
        eval mode and without gradient."""
        stages = self.stages()
        if not 1 <= train_stages <= len(stages):
            names = ", ".join(name for name, _ in stages)
            raise ValueError(f"model.train_stages={train_stages}, but this backbone has {len(stages)} stages ({names})")
        self.frozen_stages = len(stages) - train_stages
        for _, module in stages[: self.frozen_stages]:
            module.requires_grad_(False)

    def trained_stages(self) -> list[tuple[str, nn.Module]]:
        return self.stages()[self.frozen_stages:]

    @torch.no_grad()
    def prefix(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) normalised images -> the frozen stages' output (B, C, h, w), BatchNorm with its
        pretrained statistics."""
        stages = self.stages()[: self.frozen_stages]
        was_training = [module.training for _, module in stages]
        for _, module in stages:
            module.eval()
        for _, module in stages:
            x = module(x)
        for (_, module), training in zip(stages, was_training):
            module.train(training)
        return x

    def forward_head(self, features: Tensor) -> Tensor:
        """(B, num_features) -> pretrained-head logits (B, num_classes)."""
        head = self.head()
        if head is None:
            raise NoHeadError(
                f"{type(self).__name__} has no pretrained classification head (num_classes == 0); "
                "load a weights file that contains one, or give the method its own head"
            )
        return head(features)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)


class NoHeadError(RuntimeError):
    """forward_head was called on a backbone built without a pretrained classifier."""


class WeightsMismatchError(ValueError):
    """A weights file does not fit the backbone: names or shapes differ."""

    def __init__(
        self,
        source: str,
        missing: list[str],
        unexpected: list[str],
        mismatched: list[str],
        shown: int = 5,
    ) -> None:
        self.missing, self.unexpected, self.mismatched = missing, unexpected, mismatched
        parts = []
        for label, items in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", mismatched),
        ):
            if items:
                more = f", ... ({len(items) - shown} more)" if len(items) > shown else ""
                parts.append(f"{len(items)} {label}: {', '.join(items[:shown])}{more}")
        super().__init__(f"weights from {source} do not fit the backbone; " + "; ".join(parts))


class WeightsRequiredError(ValueError):
    """pretrained=True for a backbone whose weights must come from a file the user supplies."""


# Counters, not weights: torchvision's older .pth files predate this BatchNorm buffer, and
# PyTorch itself tolerates their absence when loading.
_OPTIONAL_SUFFIXES = (".num_batches_tracked",)


def read_state_dict(path: str | os.PathLike, how_to_get: str) -> dict[str, Tensor]:
    """Load a state dict from ``path`` (CPU, tensors only); ``how_to_get`` goes into the error
    raised when the file is missing, so the message says what to do."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file {os.fspath(path)!r} does not exist; {how_to_get}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(
            f"{os.fspath(path)!r} is not a state dict (a mapping of names to tensors); "
            "if it is a training checkpoint, save its model state dict on its own"
        )
    return dict(state)


def load_strict(module: nn.Module, state: Mapping[str, Tensor], source: str) -> None:
    """Copy ``state`` into ``module``; any missing, unexpected or mis-shaped key is an error."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(_OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} (file {tuple(state[k].shape)} vs model {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or mismatched:
        raise WeightsMismatchError(source, missing, unexpected, mismatched)
    module.load_state_dict(state, strict=False)


BackboneFactory = Callable[..., Backbone]
BACKBONES: Registry[BackboneFactory] = Registry("backbone")


def create_backbone(name: str, pretrained: bool = True, weights_path: str | None = None) -> Backbone:
    """Build the backbone registered as ``name``.

    pretrained=False gives random init (the paper's "from scratch" arm a1); pretrained=True
    loads ``weights_path`` if given, else the backbone's packaged weights where it has some
    (EfficientNet-Lite0), else it is an error that says where to get the file.
    """
    factory = BACKBONES.get(name)
    if not pretrained and weights_path is not None:
        raise ValueError(
            f"backbone {name!r}: weights_path={weights_path!r} was given with pretrained=False; "
            "set pretrained=True to load it, or drop the path for random init"
        )
    return factory(pretrained=pretrained, weights_path=weights_path)

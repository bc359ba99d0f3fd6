"""The typed trial config: every field a study can vary, its default, and validation.

A trial config is merged in one strict way: defaults here, then a preset (``adcore.presets``),
then a study file or trial YAML, then ``--set`` overrides. Unknown keys and wrong types raise.
The embedded default budget (image size, image counts, epochs) is sized so one trial of any
Table-4 arm runs in about 20 s on one CPU core; the paper's budget is in ``PAPER_BUDGET``.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Literal

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from adcore.data.config import DataConfig
from adcore.data.protocols import CheckedDataConfig
from adcore.params import ComponentParams, StrictModel, hparam


class ModelConfig(StrictModel):
    backbone: str = Field("efficientnet_lite0", description="registered backbone")
    pretrained: bool = Field(True, description="start from ImageNet weights (theta_0); false: random init")
    weights_path: str | None = Field(None, description="weights file for backbones whose weights are not packaged")
    adapters: bool = Field(False, description="ADRA: freeze the backbone and learn residual 1x1 adapters (eq. 3 of paper 000)")
    train_stages: int | None = Field(
        None, ge=1, description="only the last k stages of the backbone train; the frozen prefix's output on each "
        "image is computed once and cached on disk for every trial that shares it (None: every stage trains); "
        "needs data.augment false")
    adapter_init: Literal["zero", "he"] = Field(
        "zero", description="adapters start at zero, so ADRA starts at the pretrained network (eq. 3 with V = 0); "
        "he: the authors' He initialisation (their per-conv adapters have a BatchNorm after them)")


class OptimConfig(StrictModel):
    optimizer: Literal["sgd", "adam"] = Field(
        "sgd", description="sgd (momentum, weight decay); adam (betas 0.9, 0.999; weight_decay as an L2 term in the "
        "gradient, like Keras' l2 regularizer; momentum unused), as GEOM (paper 004) and paper 003 train")
    epochs: int = hparam(2, "training epochs; an epoch is one pass over the normal images", low=1, high=100)
    batch_size: int = Field(32, ge=1, description="normal images per step; methods that use OE add as many OE images")
    lr: float = hparam(0.1, "SGD learning rate", low=1e-4, high=0.3, log=True)
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="SGD momentum")
    weight_decay: float = hparam(1e-4, "SGD weight decay", low=1e-6, high=1e-2, log=True)
    lr_milestones: list[float] = Field([0.6, 0.8], description="fractions of training after which the lr is multiplied by lr_gamma")
    lr_gamma: float = Field(0.1, gt=0.0, description="lr multiplier at each milestone")
    grad_clip: float | None = Field(None, gt=0.0, description="clip the gradient norm to this value (None: no clipping)")


class RuntimeConfig(StrictModel):
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: cuda when available, else cpu. On cuda training runs under bf16 autocast; "
        "scores are always computed in float32")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (None: torch's default)")
    cache_dir: str | None = Field(None, description="where cached Fisher matrices go (default ~/.cache/adcore or $ADCORE_CACHE)")
    eval_batch_size: int = Field(256, ge=1, description="batch size for scoring")
    compile: Literal["off", "default", "reduce-overhead", "max-autotune"] = Field(
        "off", description="torch.compile the training step's loss (forward and regularizer penalty) in this mode; "
        "reduce-overhead adds CUDA graphs on CUDA. off: eager. Scoring is never compiled")
    channels_last: bool = Field(False, description="the network and its training batches in channels-last layout")
    cuda_graph: bool = Field(
        False, description="on CUDA, capture the whole training step (loss, backward, clip, optimizer, the "
        "regularizer's step) in one CUDA graph after 3 eager steps and replay it, captured again when the lr changes; "
        "methods that do not declare a graph-safe step train eagerly. Ignored on the CPU")
    data_on_device: bool = Field(
        True, description="validation and test images (or cached prefix outputs) stay on the training device beside "
        "the training images, and the batch order and augmentations are drawn there by a generator of the trial's "
        "seed: no host-to-device copy per step or evaluation batch. false: evaluation images stay on the host and "
        "the draws are made there. On the CPU both give the same batches; on CUDA the device generator draws "
        "other (equally seeded) batches than the host's")
    prefix_cache: bool = Field(True, description="model.train_stages: compute the frozen prefix's output once and share "
                               "it through the on-disk cache (false: run the frozen stages on every batch)")
    prefix_cache_mb: int = Field(4096, ge=0, description="size limit of the on-disk cache of frozen-prefix outputs "
                                 "(model.train_stages); the files used longest ago go first")
    keep_model: Literal["best", "all", "none"] = Field(
        "best", description="which trials keep their trained detector (adcore.saved) when given a model folder: best: the "
        "one the study's validation metric selects (per arm of a grid, the best of a search); all: every finished "
        "trial; none: no trial. A single trial (python -m adcore.run --model-dir) keeps it unless none")

    @model_validator(mode="after")
    def _one_graph(self) -> "RuntimeConfig":
        if self.cuda_graph and self.compile == "reduce-overhead":
            raise ValueError("runtime.cuda_graph captures the whole step in a CUDA graph and runtime.compile="
                             "reduce-overhead captures the loss in its own: choose one (compile=default with "
                             "cuda_graph=true, or cuda_graph=false)")
        return self


class ProbeConfig(StrictModel):
    """Layer probing (paper 000, Table 1; ``adcore.probe``): after the last epoch a scorer is fitted to the
    flattened output of each named backbone stage on the training normals and scores the test images."""

    layers: dict[str, str] = Field(description="layer name -> backbone stage probed, e.g. {conv1: stem, conv2: "
                                   "block2, conv3: block3}; reported as test_auroc_<layer> and test_auroc_gain_<layer>")
    scorer: SerializeAsAny[ComponentParams] = Field(
        default_factory=lambda: {"name": "ocsvm"}, validate_default=True,
        description="the one-class model fitted to each layer's features (default: the OC-SVM, nu 0.1, gamma 'scale')")

    @field_validator("layers")
    @classmethod
    def _names(cls, layers: dict[str, str]) -> dict[str, str]:
        bad = [name for name in layers if not re.fullmatch(r"[a-z0-9_]+", name)]
        if not layers or bad:
            raise ValueError(f"probe.layers needs at least one layer named in lower-case letters, digits and _ "
                             f"(they name metrics), got {list(layers)}")
        return layers

    @field_validator("scorer", mode="before")
    @classmethod
    def _scorer(cls, value: Any) -> ComponentParams:
        from adcore.scoring import scorer_params

        return scorer_params(value)


class TrialConfig(StrictModel):
    """One trial: everything a study varies is a field here."""

    seed: int = Field(0, ge=0, description="drives python, numpy, torch and every split and subsample")
    selection_metric: Literal["val_ap", "val_auroc"] = Field(
        "val_ap", description="the validation metric whose best epoch the row records (best_<metric>, best_val_epoch); "
        "recorded, it chooses nothing (a study sets it to the metric it searches and schedules on)")
    data: CheckedDataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    method: SerializeAsAny[ComponentParams] = Field(
        default_factory=lambda: {"name": "oe_classifier"}, validate_default=True,
        description="the AD method and its parameters (see --help for each method's)")
    regularizer: SerializeAsAny[ComponentParams] = Field(
        default_factory=lambda: {"name": "none"}, validate_default=True,
        description="pull toward theta_0: none, l2sp or ewc, with its parameters")
    optim: OptimConfig = Field(default_factory=OptimConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    probe: ProbeConfig | None = Field(None, description="layer probing after the last epoch (paper 000, Table 1); "
                                      "None: no probe")

    @model_validator(mode="after")
    def _prefix_without_augmentation(self) -> "TrialConfig":
        if self.model.train_stages is not None and self.data.augment:
            raise ValueError("model.train_stages caches the frozen prefix's output on un-augmented images: "
                             "set data.augment=false")
        if self.model.train_stages is not None and self.probe is not None:
            raise ValueError("probe reads every stage's output from the images, which model.train_stages replaces "
                             "by the cached prefix's; leave one of them unset")
        return self

    @field_validator("method", mode="before")
    @classmethod
    def _method_params(cls, value: Any) -> ComponentParams:
        from adcore.methods import METHODS

        return METHODS.params(value)

    @field_validator("regularizer", mode="before")
    @classmethod
    def _regularizer_params(cls, value: Any) -> ComponentParams:
        from adcore.objectives.regularizers import REGULARIZERS

        return REGULARIZERS.params(value)


# Paper 000's budget for CIFAR-10 (for users who have the data and a GPU): 100 epochs of 64 normal
# + 64 OE images per step, lr x0.1 at epochs 60 and 80, the whole training and test sets.
PAPER_BUDGET: dict[str, Any] = {
    "data": {"image_size": 32, "n_normal": None, "n_oe": None, "n_test": None},
    "optim": {"epochs": 100, "batch_size": 64, "lr": 0.1, "lr_milestones": [0.6, 0.8]},
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested mappings merge, anything else replaces.

    Changing a component's ``name`` drops the old component's parameters, so switching
    ``method.name`` from hsc to doc does not carry hsc-only keys along.
    """
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            if "name" in value and value["name"] != merged[key].get("name"):
                merged[key] = copy.deepcopy(value)
            else:
                merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def set_dotted(config: dict[str, Any], dotted_key: str, value: Any) -> dict[str, Any]:
    """Return ``config`` with ``a.b.c = value`` applied (an override as ``--set`` gives it)."""
    override: dict[str, Any] = value
    for part in reversed(dotted_key.split(".")):
        override = {part: override}
    return deep_merge(config, override)


def build_config(*layers: dict[str, Any]) -> TrialConfig:
    """Merge config layers in order (later wins) on top of the defaults and validate."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer)
    return TrialConfig.model_validate(merged)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'data': {'fold': 0}} -> {'data.fold': 0}: the column names of a results row."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat

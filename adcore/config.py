"""The typed trial config: every field a study can vary, its default, and validation.

A trial config is merged in one strict way: defaults here, then a preset (``adcore.presets``),
then a study file or trial YAML, then ``--set`` overrides. Unknown keys and wrong types raise.
The embedded default budget (image size, image counts, epochs) is sized so one trial of any
Table-4 arm runs in about 20 s on one CPU core; the paper's budget is in ``PAPER_BUDGET``.
"""
from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from adcore.params import ComponentParams, StrictModel, hparam
from adcore.registry import UnknownNameError


class DataConfig(StrictModel):
    dataset: str = Field("fashion_mnist", description="registered image source of normal and test data")
    data_root: str | None = Field(None, description="directory with the dataset files (default: the source's packaged location or $ADCORE_DATA_ROOT)")
    benchmark: Literal["leave_one_out", "one_vs_rest", "minor_mode"] = Field(
        "leave_one_out", description="leave_one_out: class `fold` anomalous, the rest normal; one_vs_rest: class `fold` normal; minor_mode: `fold` primary + `secondary_class` at ratio `minor_ratio`")
    fold: int = Field(0, ge=0, description="the class c of the benchmark (the primary class y_a for minor_mode)")
    secondary_class: int | None = Field(None, ge=0, description="minor_mode: the secondary normal class y_b")
    minor_ratio: float = hparam(1.0, "minor_mode: ratio r of secondary to primary normal images, in [0, 1]", low=0.0, high=1.0)
    oe_corpus: str = Field("mnist5k", description="registered image source used as the outlier-exposure corpus")
    image_size: int = Field(32, ge=8, description="side length images are resized to")
    n_normal: int | None = Field(384, ge=1, description="normal training images per trial (None: all)")
    n_oe: int | None = Field(1024, ge=1, description="OE images per trial (None: the whole corpus)")
    n_val: int = Field(128, ge=2, description="validation images per side (normal and anomalous-by-protocol)")
    n_test: int | None = Field(1000, ge=2, description="test images per trial, a seeded subset (None: the whole test split)")
    val_protocol: Literal["oe_holdout", "class_holdout"] = Field(
        "oe_holdout", description="validation anomalies: held-out OE images, or (leave_one_out only) one more class held out of the normal classes; never the test anomaly class")
    augment: bool = Field(True, description="random crop (pad 4) and horizontal flip on training batches")

    @model_validator(mode="after")
    def _check_minor_mode(self) -> "DataConfig":
        if self.benchmark == "minor_mode":
            if self.secondary_class is None:
                raise ValueError("data.secondary_class is required when data.benchmark is minor_mode")
            if self.secondary_class == self.fold:
                raise ValueError("data.secondary_class must differ from data.fold")
        if self.val_protocol == "class_holdout" and self.benchmark != "leave_one_out":
            raise ValueError("data.val_protocol class_holdout needs benchmark leave_one_out (elsewhere every other class is a test anomaly)")
        return self


class ModelConfig(StrictModel):
    backbone: str = Field("efficientnet_lite0", description="registered backbone")
    pretrained: bool = Field(True, description="start from ImageNet weights (theta_0); false: random init")
    weights_path: str | None = Field(None, description="weights file for backbones whose weights are not packaged")
    adapters: bool = Field(False, description="ADRA: freeze the backbone and learn residual 1x1 adapters (eq. 3 of paper 000)")


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
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available (bf16 autocast), else cpu")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (None: torch's default)")
    cache_dir: str | None = Field(None, description="where cached Fisher matrices go (default ~/.cache/adcore or $ADCORE_CACHE)")
    eval_batch_size: int = Field(256, ge=1, description="batch size for scoring")


class TrialConfig(StrictModel):
    """One trial: everything a study varies is a field here."""

    seed: int = Field(0, ge=0, description="drives python, numpy, torch and every split and subsample")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    method: SerializeAsAny[ComponentParams] = Field(
        default_factory=lambda: {"name": "oe_classifier"}, validate_default=True,
        description="the AD method and its parameters (see --help for each method's)")
    regularizer: SerializeAsAny[ComponentParams] = Field(
        default_factory=lambda: {"name": "none"}, validate_default=True,
        description="pull toward theta_0: none, l2sp or ewc, with its parameters")
    optim: OptimConfig = Field(default_factory=OptimConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)

    @field_validator("method", mode="before")
    @classmethod
    def _method_params(cls, value: Any) -> ComponentParams:
        from adcore.methods import METHODS

        return _component(METHODS, value, "method")

    @field_validator("regularizer", mode="before")
    @classmethod
    def _regularizer_params(cls, value: Any) -> ComponentParams:
        from adcore.objectives.regularizers import REGULARIZERS

        return _component(REGULARIZERS, value, "regularizer")


def _component(registry: Any, value: Any, what: str) -> ComponentParams:
    """Validate a {name: ..., **params} mapping against the named component's own Params model."""
    if isinstance(value, ComponentParams):
        value = value.model_dump()
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or "name" not in value:
        raise ValueError(f"{what} must be a mapping with a 'name' key, e.g. {{name: ...}}")
    try:
        component = registry.get(value["name"])
    except UnknownNameError as error:  # pydantic reports ValueErrors with the key path
        raise ValueError(str(error)) from None
    return component.Params.model_validate(value)


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

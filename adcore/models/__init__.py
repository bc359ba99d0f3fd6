"""Backbones behind one surface (base.Backbone), and the ADRA residual adapters.

Each backbone module registers itself in BACKBONES when imported; they are imported here
explicitly so that ``import adcore.models`` fills the registry.
"""
from adcore.models import efficientnet_lite0, resnet26_cifar, torchvision_resnet  # noqa: F401  (registration)
from adcore.models import lenet_bias_free, wide_resnet  # noqa: F401  (registration)
from adcore.models.adapters import add_residual_adapters, freeze_for_adra
from adcore.models.base import (
    BACKBONES,
    Backbone,
    NoHeadError,
    WeightsMismatchError,
    WeightsRequiredError,
    create_backbone,
)

__all__ = [
    "BACKBONES",
    "Backbone",
    "NoHeadError",
    "WeightsMismatchError",
    "WeightsRequiredError",
    "add_residual_adapters",
    "create_backbone",
    "freeze_for_adra",
]

"""torchvision's ImageNet ResNets (18, 50, 152), loaded from the .pth files torchvision downloads.

PANDA (paper 001) transfers from ImageNet ResNet-152 and finetunes layer3 and layer4; ResNet-18
and -50 are the lighter members of the same family. Nothing here downloads: the user puts the
file torchvision would fetch (IMAGENET1K_V1, what ``pretrained=True`` meant when the papers were
written) in ``model.weights_path``; any torchvision-format state dict of the architecture loads.
"""
from __future__ import annotations

from typing import Callable

from torch import nn
from torchvision import models

from adcore.models.base import (
    BACKBONES,
    Backbone,
    WeightsRequiredError,
    load_strict,
    read_state_dict,
)

# name -> (constructor, pooled width, torchvision weights enum)
VARIANTS: dict[str, tuple[Callable[[], models.ResNet], int, type[models.WeightsEnum]]] = {
    "resnet18": (models.resnet18, 512, models.ResNet18_Weights),
    "resnet50": (models.resnet50, 2048, models.ResNet50_Weights),
    "resnet152": (models.resnet152, 2048, models.ResNet152_Weights),
}


class TorchvisionResNet(Backbone):
    """A torchvision ResNet whose modules are held directly, so state-dict keys are torchvision's."""

    num_classes = 1000
    input_mean = (0.485, 0.456, 0.406)
    input_std = (0.229, 0.224, 0.225)
    adapter_style = "per_conv"

    def __init__(self, net: models.ResNet, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.fc = net.fc

    def stages(self) -> list[tuple[str, nn.Module]]:
        return [("stem", nn.Sequential(self.conv1, self.bn1, self.relu, self.maxpool))] + [
            (f"layer{i}", getattr(self, f"layer{i}")) for i in range(1, 5)
        ]

    def head(self) -> nn.Module:
        return self.fc


def weights_hint(name: str) -> str:
    files = ", ".join(f"{w.url.rsplit('/', 1)[-1]} ({w.name})" for w in VARIANTS[name][2])
    return (
        f"torchvision's ImageNet weights for {name}: {files}, from https://download.pytorch.org/models/ "
        "(V1 is what the papers used); put the file's path in model.weights_path"
    )


def _build(name: str, pretrained: bool, weights_path: str | None) -> TorchvisionResNet:
    if pretrained and weights_path is None:
        raise WeightsRequiredError(f"backbone {name!r} has no packaged weights; {weights_hint(name)}")
    constructor, num_features, _ = VARIANTS[name]
    model = TorchvisionResNet(constructor(), num_features)
    if pretrained:
        load_strict(model, read_state_dict(weights_path, weights_hint(name)), weights_path)
    return model


@BACKBONES.register("resnet18")
def resnet18(pretrained: bool = True, weights_path: str | None = None) -> TorchvisionResNet:
    return _build("resnet18", pretrained, weights_path)


@BACKBONES.register("resnet50")
def resnet50(pretrained: bool = True, weights_path: str | None = None) -> TorchvisionResNet:
    return _build("resnet50", pretrained, weights_path)


@BACKBONES.register("resnet152")
def resnet152(pretrained: bool = True, weights_path: str | None = None) -> TorchvisionResNet:
    return _build("resnet152", pretrained, weights_path)

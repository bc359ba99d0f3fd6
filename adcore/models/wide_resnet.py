"""Wide residual networks (Zagoruyko & Komodakis 2016), random init only.

GEOM (paper 004) classifies its 72 transformations with WRN-10-4 on 32x32 images and WRN-16-8 on
64x64 ones; paper 002's CIFAR-10 classifier is WRN-28-10 with dropout 0.3. The architecture is the
GEOM authors' (``models/wide_residual_network.py``): a 3x3 stem conv to 16 channels, three groups of
(depth - 4) / 6 pre-activation basic blocks of widths 16k, 32k, 64k (strides 1, 2, 2), a 1x1
convolution on the pre-activated input as the shortcut where the width changes, a final BN + ReLU and
global average pooling. Convolutions have no bias and are He-initialised (fan_in); BatchNorm uses
momentum 0.1 and eps 1e-5 (Keras' 0.9 / 1e-5). Inputs are scaled to [-1, 1], as GEOM scales pixels.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from adcore.models.base import BACKBONES, Backbone, WeightsRequiredError


class WideBasicBlock(nn.Module):
    """BN-ReLU-conv3x3(stride)-BN-ReLU-dropout-conv3x3, plus the (projected) shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.dropout = dropout
        # GEOM's code projects only when the width changes (a stride without a width change never occurs)
        self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False) if in_planes != planes else None

    def forward(self, x: Tensor) -> Tensor:
        pre = F.relu(self.bn1(x))
        y = F.relu(self.bn2(self.conv1(pre)))
        y = F.dropout(y, self.dropout, self.training)
        y = self.conv2(y)
        return y + (x if self.shortcut is None else self.shortcut(pre))


class WideResNet(Backbone):
    num_classes = 0  # no pretrained head: methods add their own
    input_mean = (0.5, 0.5, 0.5)  # x / 255 -> [-1, 1]
    input_std = (0.5, 0.5, 0.5)
    adapter_style = "per_conv"

    def __init__(self, depth: int, widen: int, dropout: float = 0.0) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6n + 4, got {depth}")
        blocks = (depth - 4) // 6
        widths = (16, 16 * widen, 32 * widen, 64 * widen)
        self.num_features = widths[-1]
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        for i, (stride, planes) in enumerate(zip((1, 2, 2), widths[1:])):
            layers = [WideBasicBlock(widths[i], planes, stride, dropout)]
            layers += [WideBasicBlock(planes, planes, 1, dropout) for _ in range(blocks - 1)]
            self.add_module(f"group{i + 1}", nn.Sequential(*layers))
        self.bn_relu = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU(inplace=True))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def stages(self) -> list[tuple[str, nn.Module]]:
        return [("stem", self.conv1), ("group1", self.group1), ("group2", self.group2),
                ("group3", nn.Sequential(self.group3, self.bn_relu))]

    def head(self) -> nn.Module | None:
        return None


def _build(name: str, depth: int, widen: int, dropout: float, pretrained: bool) -> WideResNet:
    if pretrained:
        raise WeightsRequiredError(
            f"backbone {name!r} has no pretrained weights (GEOM and paper 002 train WRNs from scratch); "
            "set model.pretrained=false")
    return WideResNet(depth, widen, dropout)


@BACKBONES.register("wrn_10_4")
def wrn_10_4(pretrained: bool = True, weights_path: str | None = None) -> WideResNet:
    """GEOM's network for 32x32 images."""
    return _build("wrn_10_4", 10, 4, 0.0, pretrained)


@BACKBONES.register("wrn_16_8")
def wrn_16_8(pretrained: bool = True, weights_path: str | None = None) -> WideResNet:
    """GEOM's network for 64x64 images (CatsVsDogs)."""
    return _build("wrn_16_8", 16, 8, 0.0, pretrained)


@BACKBONES.register("wrn_28_10")
def wrn_28_10(pretrained: bool = True, weights_path: str | None = None) -> WideResNet:
    """Paper 002's CIFAR-10 classifier, with its dropout of 0.3."""
    return _build("wrn_28_10", 28, 10, 0.3, pretrained)

"""Deep SVDD's bias-free LeNet-type CNN (Ruff et al. 2018, their CIFAR-10 network), random init only.

Three 5x5 convolutions (32, 64, 128 channels, no bias), each followed by BatchNorm without affine
parameters (eps 1e-4), leaky ReLU and 2x2 max pooling, then the flattened 128 x 4 x 4 map. DSVDD's
``Linear(2048, rep_dim, bias=False)`` head on it is Ruff et al.'s ``fc1``. No bias anywhere: a
network with bias terms can map every input to the centre and "solve" DSVDD trivially.

The last stage pools adaptively to 4x4 before flattening, an identity for 32x32 inputs (Ruff's
size); other sizes are pooled to the same 2048 features.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from adcore.models.base import BACKBONES, Backbone, WeightsRequiredError

WIDTHS = (32, 64, 128)
MAP_SIDE = 4  # 32 px after three 2x2 poolings


class ConvBNPool(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 5, padding=2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-4, affine=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(F.leaky_relu(self.bn(self.conv(x))), 2)


class Flatten4x4(nn.Module):
    """(B, C, h, w) -> (B, C * 16, 1, 1), so the shared global pooling leaves the flat map as it is."""

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(x, MAP_SIDE)
        return x.flatten(1)[:, :, None, None]


class LeNetBiasFree(Backbone):
    num_classes = 0
    num_features = WIDTHS[-1] * MAP_SIDE * MAP_SIDE
    input_mean = (0.5, 0.5, 0.5)
    input_std = (0.5, 0.5, 0.5)
    adapter_style = "per_conv"

    def __init__(self) -> None:
        super().__init__()
        self.block1 = ConvBNPool(3, WIDTHS[0])
        self.block2 = ConvBNPool(WIDTHS[0], WIDTHS[1])
        self.block3 = ConvBNPool(WIDTHS[1], WIDTHS[2])
        self.flatten = Flatten4x4()

    def stages(self) -> list[tuple[str, nn.Module]]:
        return [("stem", self.block1), ("block2", self.block2), ("block3", self.block3), ("flatten", self.flatten)]

    def head(self) -> nn.Module | None:
        return None


@BACKBONES.register("lenet_bias_free")
def lenet_bias_free(pretrained: bool = True, weights_path: str | None = None) -> LeNetBiasFree:
    if pretrained:
        raise WeightsRequiredError("backbone 'lenet_bias_free' has no pretrained weights (DSVDD trains it "
                                   "from scratch); set model.pretrained=false")
    return LeNetBiasFree()

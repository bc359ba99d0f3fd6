"""ResNet-26 for 32x32 inputs, the network of paper 000 (ADIB/ADRA, Deecke et al. 2021).

Architecture as in the authors' code (github.com/VICO-UoE/TransferAD, ``nn/resnet.py``, itself
derived from Rebuffi et al.'s residual_adapters ResNet-26):

- stem ``pre_conv``: 3x3, stride 1, 3 -> 64 channels, no bias; ``pre_bn``; ReLU;
- ``layer1``..``layer3``: four post-activation basic blocks each (conv3x3-BN-ReLU-conv3x3-BN,
  add the shortcut, ReLU), widths 64/128/256; the first block of layers 2 and 3 has stride 2;
- shortcuts without parameters: identity, or 2x2 average pooling concatenated with zeros to
  double the channels where a block changes shape;
- ``end_bn_relu``: a BatchNorm + ReLU after layer3, then global average pooling (256 features);
- ``linears``: the ImageNet-32x32 classifier, present only when the loaded file has one.

Module names follow the authors' code so their ImageNet-32x32 checkpoint loads as it is. The
convolutions are He-initialised with fan_out, as there. One deliberate difference: the shortcut's
average pooling uses ceil_mode, which changes nothing for even feature maps (32x32, 28x28, 96x96
inputs) and keeps odd ones the same size as the strided 3x3 convolution's output.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from adcore.models.base import (
    BACKBONES,
    Backbone,
    WeightsRequiredError,
    load_strict,
    read_state_dict,
)

WEIGHTS_HINT = (
    "ImageNet-32x32 ResNet-26 weights are those of the authors of paper 000: their repository "
    "github.com/VICO-UoE/TransferAD (nn/resnet.py, PARAMS_URL, a Google Drive file) downloads "
    "them; put the file's path in model.weights_path"
)
WIDTHS = (64, 128, 256)
BLOCKS_PER_STAGE = 4  # 3 stages x 4 blocks x 2 convs + stem + head = 26 layers


class BasicBlock(nn.Module):
    """Post-activation basic block with a parameter-free shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.extra_planes = planes - in_planes  # zero channels appended to the shortcut
        self.avgpool = nn.AvgPool2d(2, ceil_mode=True) if stride != 1 else None

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = x if self.avgpool is None else self.avgpool(x)
        if self.extra_planes:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_planes))  # (B, C, h, w) -> (B, C + extra, h, w)
        return F.relu(y + shortcut)


class ResNet26Cifar(Backbone):
    num_features = WIDTHS[-1]
    input_mean = (0.485, 0.456, 0.406)
    input_std = (0.229, 0.224, 0.225)
    adapter_style = "per_conv"

    def __init__(self, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.pre_conv = nn.Conv2d(3, WIDTHS[0], 3, stride=1, padding=1, bias=False)
        self.pre_bn = nn.BatchNorm2d(WIDTHS[0])
        self.pre_relu = nn.ReLU(inplace=True)
        in_planes = WIDTHS[0]
        for i, planes in enumerate(WIDTHS):
            blocks = [BasicBlock(in_planes, planes, stride=1 if i == 0 else 2)]
            blocks += [BasicBlock(planes, planes, stride=1) for _ in range(BLOCKS_PER_STAGE - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            in_planes = planes
        self.end_bn_relu = nn.Sequential(nn.BatchNorm2d(WIDTHS[-1]), nn.ReLU(inplace=True))
        self.linears = nn.Linear(WIDTHS[-1], num_classes) if num_classes else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def stages(self) -> list[tuple[str, nn.Module]]:
        # The final BN+ReLU belongs to the last stage: "train the last stage" then trains it too.
        return [
            ("stem", nn.Sequential(self.pre_conv, self.pre_bn, self.pre_relu)),
            ("layer1", self.layer1),
            ("layer2", self.layer2),
            ("layer3", nn.Sequential(self.layer3, self.end_bn_relu)),
        ]

    def head(self) -> nn.Module | None:
        return self.linears


@BACKBONES.register("resnet26_cifar")
def resnet26_cifar(pretrained: bool = True, weights_path: str | None = None) -> ResNet26Cifar:
    if not pretrained:
        return ResNet26Cifar()
    if weights_path is None:
        raise WeightsRequiredError(f"backbone 'resnet26_cifar' has no packaged weights; {WEIGHTS_HINT}")
    state = read_state_dict(weights_path, WEIGHTS_HINT)
    head = state.get("linears.weight")
    model = ResNet26Cifar(num_classes=0 if head is None else head.shape[0])
    load_strict(model, state, weights_path)
    return model

"""Residual adapters for ADRA (paper 000, eq. 3): Phi(x) = x + f0(x) + V x, f0 frozen, V learned.

Two placements, chosen by the backbone's ``adapter_style``:

- "per_conv" (ResNets), as in the authors' code (TransferAD ``nn/resnet.py``, ``AdapterBlock``):
  a bias-free 1x1 convolution V runs in parallel to every convolution with a kernel larger than
  1x1, stem included, with the wrapped convolution's stride and in -> out channels; its output is
  added to the convolution's, so before the BatchNorm that follows. The block's own shortcut
  supplies the "x +" of eq. 3.
- "per_block" (EfficientNet-Lite): eq. 3 is written for basic blocks, so for inverted-residual
  blocks it applies per block: y = block(x) + V x for every block in ``backbone.blocks``, V a
  1x1 convolution with the block's stride and in -> out channels. A block with its own skip
  already computes x + f0(x); for the others V is the only path around the frozen block.
  The stem and conv_head stay frozen apart from their BatchNorms.

Adapters start at zero by default, so that Phi starts at the pretrained Phi_0 as eq. 3 says (V = 0).
The authors' code He-initialises them (fan_out, std sqrt(2 / out_channels), its init for every
convolution) and a BatchNorm after each per-conv adapter normalises that perturbation away; a
per-block adapter has no such BatchNorm after it, and He-initialised it swamps the block (pooled
features at initialisation have cosine ~0.1 with the pretrained ones). ``init="he"`` keeps the
authors' initialisation.
"""
from __future__ import annotations

import math

from torch import Tensor, nn

from adcore.models.base import Backbone


class ParallelAdapter(nn.Module):
    """``base(x) + adapter(x)``: a frozen convolution or block with a learned 1x1 map beside it."""

    def __init__(self, base: nn.Module, in_channels: int, out_channels: int, stride: int, init: str = "zero") -> None:
        super().__init__()
        self.base = base
        self.adapter = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
        if init == "he":
            nn.init.kaiming_normal_(self.adapter.weight, mode="fan_out", nonlinearity="relu")
        else:
            nn.init.zeros_(self.adapter.weight)

    def forward(self, x: Tensor) -> Tensor:
        return self.base(x) + self.adapter(x)


def _trained_modules(backbone: Backbone) -> set[int]:
    """ids of every module in the stages that train (all of them unless a prefix is frozen)."""
    return {id(m) for _, stage in backbone.trained_stages() for m in stage.modules()}


def add_residual_adapters(backbone: Backbone, init: str = "zero") -> list[nn.Parameter]:
    """Insert adapters (initialised at zero, or ``"he"``) into the stages of ``backbone`` that train, in
    place; return their parameters. A frozen prefix (``Backbone.freeze_prefix``) gets none."""
    if any(isinstance(m, ParallelAdapter) for m in backbone.modules()):
        raise ValueError(f"{type(backbone).__name__} already has residual adapters")
    trained = _trained_modules(backbone)
    if backbone.adapter_style == "per_conv":
        sites = [
            (parent, name, ParallelAdapter(conv, conv.in_channels, conv.out_channels, conv.stride[0], init))
            for parent in backbone.modules()
            for name, conv in parent.named_children()
            if isinstance(conv, nn.Conv2d) and conv.kernel_size != (1, 1) and id(conv) in trained
        ]
    elif backbone.adapter_style == "per_block":
        sites = [
            (stage, name, _block_adapter(block, init))
            for stage in backbone.blocks if id(stage) in trained
            for name, block in stage.named_children()
        ]
    else:
        raise ValueError(f"unknown adapter_style {backbone.adapter_style!r}; use 'per_conv' or 'per_block'")
    for parent, name, wrapped in sites:
        setattr(parent, name, wrapped)
    return [p for _, _, wrapped in sites for p in wrapped.adapter.parameters()]


def _block_adapter(block: nn.Module, init: str) -> ParallelAdapter:
    """Read the block's in/out channels and stride off its convolutions (in execution order)."""
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    stride = math.prod(c.stride[0] for c in convs)
    return ParallelAdapter(block, convs[0].in_channels, convs[-1].out_channels, stride, init)


def freeze_for_adra(backbone: Backbone) -> list[nn.Parameter]:
    """Freeze everything but the adapters and the BatchNorm affine parameters of the stages that train;
    return those.

    As in the authors' code, BatchNorm running statistics keep updating in train mode, and the
    pretrained classifier (if any) is frozen: the method's new head trains alongside these.
    """
    adapted = [m for m in backbone.modules() if isinstance(m, ParallelAdapter)]
    if not adapted:
        raise ValueError("freeze_for_adra needs adapters: call add_residual_adapters(backbone) first")
    trained = _trained_modules(backbone)
    backbone.requires_grad_(False)
    for m in adapted:
        m.adapter.requires_grad_(True)
    for m in backbone.modules():
        if isinstance(m, nn.BatchNorm2d) and m.affine and id(m) in trained:
            m.requires_grad_(True)
    return [p for p in backbone.parameters() if p.requires_grad]

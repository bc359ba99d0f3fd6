"""ADRA's residual adapters (paper 000, eq. 3): where they go, what trains, and that with V = 0
the adapted network is exactly the pretrained one."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from adcore.models import Backbone, add_residual_adapters, create_backbone, freeze_for_adra
from adcore.models.adapters import ParallelAdapter

# resnet18 covers torchvision's 7x7 stride-2 stem and strided first convs of blocks.
NAMES = ["resnet26_cifar", "efficientnet_lite0", "resnet18"]


@pytest.fixture(scope="module", params=NAMES)
def pair(request) -> tuple[Backbone, Backbone, list[nn.Parameter]]:
    """(original, adapted copy with the authors' He-initialised adapters, adapter parameters), both in eval mode."""
    torch.manual_seed(0)
    original = create_backbone(request.param, pretrained=False).eval()
    adapted = copy.deepcopy(original)
    return original, adapted, add_residual_adapters(adapted, init="he")


def bn_affine_names(backbone: nn.Module) -> set[str]:
    return {
        f"{name}.{p}"
        for name, m in backbone.named_modules()
        if isinstance(m, nn.BatchNorm2d)
        for p in ("weight", "bias")
    }


def test_one_adapter_per_site(pair) -> None:
    original, adapted, params = pair
    if original.adapter_style == "per_conv":
        sites = [m for m in original.modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
    else:
        sites = [block for stage in original.blocks for block in stage]
        assert len(sites) == 16  # EfficientNet-Lite0: 1 + 2 + 2 + 3 + 3 + 4 + 1 blocks
    wrappers = [m for m in adapted.modules() if isinstance(m, ParallelAdapter)]
    assert len(wrappers) == len(params) == len(sites)
    assert all(w.adapter.kernel_size == (1, 1) and w.adapter.bias is None for w in wrappers)


def test_adapters_mirror_the_stride_and_channels(pair) -> None:
    original, adapted, _ = pair
    if original.adapter_style == "per_conv":
        for w in (m for m in adapted.modules() if isinstance(m, ParallelAdapter)):
            assert (w.adapter.in_channels, w.adapter.out_channels) == (w.base.in_channels, w.base.out_channels)
            assert w.adapter.stride == w.base.stride
    x = torch.randn(2, 3, 28, 28)  # odd feature maps (7x7) deep in the network
    with torch.no_grad():
        assert adapted(x).shape == (2, original.num_features)


def test_adapters_start_he_initialised_not_zero(pair) -> None:
    _, _, params = pair
    for p in params:
        assert p.abs().sum() > 0
        out_channels = p.shape[0]
        assert 0.5 < p.std().item() / (2 / out_channels) ** 0.5 < 1.5  # kaiming_normal_, fan_out


def test_adra_starts_at_the_pretrained_network(tiny_budget) -> None:
    """Eq. 3 with V = 0: by default ADRA's features at initialisation are the pretrained backbone's."""
    from adcore.config import build_config
    from adcore.presets import preset
    from adcore.trial import prepare_trial

    cfg = build_config(tiny_budget, preset("a6"))
    assert cfg.model.adapter_init == "zero"
    parts = prepare_trial(cfg)
    pretrained = create_backbone(cfg.model.backbone, pretrained=True).eval()
    x = parts.ctx.transform.eval(parts.bench.test_images[:8])
    parts.method.eval()
    with torch.no_grad():
        assert torch.equal(parts.method.embed(x), pretrained.forward_features(x))


def test_zero_adapters_give_the_original_network_exactly(pair) -> None:
    original, adapted, params = pair
    zeroed = copy.deepcopy(adapted)
    for w in (m for m in zeroed.modules() if isinstance(m, ParallelAdapter)):
        nn.init.zeros_(w.adapter.weight)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(zeroed(x), original(x))
        assert not torch.equal(adapted(x), original(x))


def test_only_adapters_and_batchnorm_affine_train(pair) -> None:
    original, adapted, params = pair
    model = copy.deepcopy(adapted).train()
    trainable = freeze_for_adra(model)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    adapter_names = {n for n in names if n.endswith(".adapter.weight")}
    assert names == adapter_names | bn_affine_names(model)
    assert len(adapter_names) == len(params)
    assert {id(p) for p in trainable} == {id(p) for p in model.parameters() if p.requires_grad}

    model(torch.randn(2, 3, 16, 16)).square().mean().backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == names
    assert all(model.get_parameter(n).grad.abs().sum() > 0 for n in adapter_names)


def test_batchnorm_statistics_keep_updating_in_train_mode() -> None:
    backbone = create_backbone("resnet26_cifar", pretrained=False)
    add_residual_adapters(backbone)
    freeze_for_adra(backbone)
    before = backbone.pre_bn.running_mean.clone()
    backbone.train()(torch.randn(2, 3, 16, 16))
    assert not torch.equal(before, backbone.pre_bn.running_mean)


def test_misuse_is_an_error() -> None:
    backbone = create_backbone("resnet26_cifar", pretrained=False)
    with pytest.raises(ValueError, match="add_residual_adapters"):
        freeze_for_adra(backbone)
    add_residual_adapters(backbone)
    with pytest.raises(ValueError, match="already has residual adapters"):
        add_residual_adapters(backbone)

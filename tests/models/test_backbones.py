"""Every registered backbone keeps the common surface; iterating the registry means a new
backbone is tested with no new test code."""
from __future__ import annotations

import pytest
import torch

from adcore.models import BACKBONES, Backbone, NoHeadError, WeightsRequiredError, create_backbone
from adcore.registry import UnknownNameError


@pytest.fixture(scope="module", params=BACKBONES.names())
def backbone(request) -> Backbone:
    torch.manual_seed(0)
    return create_backbone(request.param, pretrained=False).eval()


def test_surface_attributes(backbone: Backbone) -> None:
    assert backbone.adapter_style in {"per_conv", "per_block"}
    assert len(backbone.input_mean) == len(backbone.input_std) == 3
    assert all(0 < s <= 1 for s in backbone.input_std)
    assert isinstance(backbone.num_features, int) and backbone.num_features > 0
    assert isinstance(backbone.num_classes, int) and (backbone.head() is None) == (backbone.num_classes == 0)


@torch.no_grad()
def test_forward_features_shape(backbone: Backbone) -> None:
    x = torch.randn(2, 3, 32, 32)
    features = backbone.forward_features(x)
    assert features.shape == (2, backbone.num_features)
    assert torch.equal(backbone(x), features)


@torch.no_grad()
def test_forward_head(backbone: Backbone) -> None:
    features = torch.randn(2, backbone.num_features)
    if backbone.num_classes:
        assert backbone.forward_head(features).shape == (2, backbone.num_classes)
    else:
        with pytest.raises(NoHeadError, match="no pretrained classification head"):
            backbone.forward_head(features)


@torch.no_grad()
def test_stages_are_the_network_in_order(backbone: Backbone) -> None:
    stages = backbone.stages()
    names = [name for name, _ in stages]
    assert names[0] == "stem" and len(set(names)) == len(names) >= 4
    x = torch.randn(2, 3, 32, 32)
    h = x
    for _, stage in stages:  # chaining the stages is the whole feature extractor
        h = stage(h)
    assert torch.equal(h.mean(dim=(2, 3)), backbone.forward_features(x))
    in_stages = {id(p) for _, stage in stages for p in stage.parameters()}
    named = dict(backbone.named_parameters())
    in_head = {id(named[name]) for name in backbone.head_parameter_names()}
    assert in_stages | in_head == {id(p) for p in named.values()}  # stages and head cover everything once
    assert not in_stages & in_head
    assert len(in_head) == (2 if backbone.num_classes else 0)  # a Linear's weight and bias


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        create_backbone("resnet9000", pretrained=False)
    assert all(name in str(info.value) for name in BACKBONES.names())


@pytest.mark.parametrize(
    "name, needle",
    [
        ("resnet26_cifar", "VICO-UoE/TransferAD"),
        ("resnet18", "resnet18-f37072fd.pth"),
        ("resnet50", "resnet50-0676ba61.pth"),
        ("resnet152", "resnet152-394f9c45.pth"),
    ],
)
def test_pretrained_without_file_says_where_to_get_it(name: str, needle: str) -> None:
    with pytest.raises(WeightsRequiredError) as info:
        create_backbone(name, pretrained=True)
    assert needle in str(info.value) and "model.weights_path" in str(info.value)


def test_weights_path_with_random_init_is_an_error() -> None:
    with pytest.raises(ValueError, match="pretrained=False"):
        create_backbone("resnet18", pretrained=False, weights_path="x.pth")

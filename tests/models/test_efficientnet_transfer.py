"""The transfer source is real: packaged ImageNet EfficientNet-Lite0 classifies real ImageNet
images (foolbox's 20) with its pretrained head, through this project's loading path."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adcore.models import create_backbone
from adcore.models.efficientnet_lite0 import EfficientNetLite0

# foolbox's data files only: importing foolbox itself would pull in its attack machinery.
FOOLBOX = Path(importlib.util.find_spec("foolbox").submodule_search_locations[0])
IMAGES = sorted((FOOLBOX / "data").glob("imagenet_*_*.*"))  # imagenet_<idx>_<label>.jpg


def test_foolbox_imagenet_top1_and_top5() -> None:
    assert len(IMAGES) == 20
    labels = torch.tensor([int(p.stem.split("_")[2]) for p in IMAGES])
    pixels = np.stack([np.array(Image.open(p).convert("RGB").resize((224, 224), Image.BILINEAR)) for p in IMAGES])
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float()  # (20, 3, 224, 224) in [0, 255]
    backbone = create_backbone("efficientnet_lite0").eval()
    mean = torch.tensor(backbone.input_mean).view(1, 3, 1, 1)
    std = torch.tensor(backbone.input_std).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = backbone.forward_head(backbone.forward_features((x / 255 - mean) / std))
    top5 = logits.topk(5, dim=1).indices
    assert (top5[:, 0] == labels).sum().item() >= 17
    assert (top5 == labels[:, None]).any(dim=1).all()


@pytest.mark.parametrize("pixel", [0.0, 127.0, 255.0])
def test_normalisation_is_tf_lite_preprocessing(pixel: float) -> None:
    for mean, std in zip(EfficientNetLite0.input_mean, EfficientNetLite0.input_std):
        assert (pixel / 255 - mean) / std == pytest.approx((pixel - 127) / 128)

"""Paper 002's Table 7 arm: the random centre mask on the classifier's training images, and the
classifier's test accuracy on the normal classes that the row reports beside its AP."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from adcore import build_config, run_trial
from adcore.context import FitContext
from adcore.data.transforms import BatchTransform
from adcore.methods import build_method
from adcore.methods.rotation_classifier import centre_mask
from adcore.models import create_backbone
from adcore.presets import preset
from adcore.row import empty_row


def test_the_mask_is_a_square_inside_the_central_region_at_a_random_place() -> None:
    torch.manual_seed(0)
    x = torch.ones(200, 3, 32, 32)
    masked = centre_mask(x, 16, 21)
    corners = set()
    for image in masked:
        zero = (image == 0).all(dim=0)  # every channel masked alike
        rows, cols = zero.any(dim=1).nonzero().squeeze(1), zero.any(dim=0).nonzero().squeeze(1)
        assert zero.sum() == 256 and len(rows) == len(cols) == 16  # one 16 x 16 square
        assert rows.min() >= 5 and rows.max() <= 25 and cols.min() >= 5 and cols.max() <= 25  # inside 21 x 21
        assert (image != 0).sum() == 3 * (1024 - 256)
        corners.add((int(rows.min()), int(cols.min())))
    assert len(corners) > 20 and {5, 10} <= {r for r, _ in corners}  # every offset 5..10 is drawn
    with pytest.raises(ValidationError, match="must fit inside method.mask_region"):
        build_config({"method": {"name": "rotation_classifier", "mask": 22}})


def test_accuracy_counts_the_test_images_of_the_normal_classes_only() -> None:
    torch.manual_seed(0)
    backbone = create_backbone("lenet_bias_free", pretrained=False)
    method = build_method(build_config(preset("cls_msp_masked")).method, backbone).eval()
    images = torch.randint(0, 256, (40, 1, 16, 16), dtype=torch.uint8)
    ctx = FitContext(normal=images[:20], oe=images[:0], device=torch.device("cpu"), eval_batch_size=16,
                     transform=BatchTransform(backbone.input_mean, backbone.input_std, torch.device("cpu"), False),
                     cache_dir=Path("unused"), normal_classes=torch.tensor([2, 5, 7, 9] * 5))
    method.setup(ctx)
    classes = torch.tensor([2, 5, 7, 9, 3] * 8)  # class 3 is the held-out anomaly
    with torch.no_grad():
        predicted = torch.tensor([2, 5, 7, 9])[method._logits(ctx.transform.eval(images)).argmax(dim=1)]
    known = classes != 3
    expected = (predicted[known] == classes[known]).float().mean().item()
    assert method.test_metrics(ctx, images, classes) == {"test_accuracy": pytest.approx(expected)}


def test_a_masked_classifier_trial_reports_accuracy_and_ap(tiny_budget) -> None:
    cfg = build_config(tiny_budget, preset("cls_msp_masked"), {"model": {"backbone": "lenet_bias_free"}})
    row = run_trial(cfg)
    assert row["status"] == "ok", row["message"]
    assert row["method.mask"] == 16 and 0.0 <= row["test_accuracy"] <= 1.0 and 0.0 <= row["test_ap"] <= 1.0
    assert empty_row(cfg, "ok")["test_accuracy"] is None  # a fixed key of the classifier's rows, whatever their fate

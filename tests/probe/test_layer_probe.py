"""Paper 000's Table 1 parts: the layer probe (an OC-SVM per backbone stage), rotation prediction as
paradigm (i), and the LeNet pretrained on MNIST-5k digits (made once, cached) for paradigm (iii)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

import adcore.data.sources
from adcore import build_config, run_trial
from adcore.config import ProbeConfig
from adcore.context import FitContext
from adcore.data.sources import ImageSet, load_source
from adcore.data.transforms import BatchTransform, resize_images, to_channels
from adcore.methods import TrainBatch, build_method
from adcore.methods.rotation_prediction import all_turns
from adcore.models import create_backbone
from adcore.models import lenet_bias_free as lenet
from adcore.presets import preset
from adcore.probe import probe_metrics
from adcore.row import empty_row

LAYERS = {"conv1": "stem", "conv2": "block2", "conv3": "block3"}


def digits(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n MNIST-5k digits at 32 px, evenly spaced through the file (it is sorted by class), so every class is in."""
    data = load_source("mnist5k", "train")
    index = torch.arange(n) * (len(data.labels) // n)
    return resize_images(to_channels(data.images[index], 3), 32), data.labels[index]


def test_the_probe_fits_an_ocsvm_to_each_flattened_stage_output() -> None:
    torch.manual_seed(0)
    backbone = create_backbone("lenet_bias_free", pretrained=False).eval()
    images, labels = digits(160)  # 16 of each digit
    ones = (labels == 1).nonzero().squeeze(1)
    rest = torch.ones(len(labels), dtype=torch.bool)
    rest[ones[:10]] = False  # ten ones train; the other six and every other digit test
    normal, test, test_labels = images[ones[:10]], images[rest], (labels[rest] != 1).long()
    transform = BatchTransform(backbone.input_mean, backbone.input_std, torch.device("cpu"), augment=False)
    ctx = FitContext(normal=normal, oe=normal[:0], transform=transform, device=torch.device("cpu"),
                     eval_batch_size=32, cache_dir=Path("unused"))
    metrics = probe_metrics(ProbeConfig(layers=LAYERS), backbone, ctx, test, test_labels)
    assert set(metrics) == {f"test_auroc{kind}_{layer}" for layer in LAYERS for kind in ("", "_gain")}
    with torch.no_grad():
        stages = dict(backbone.stages())
        x_train, x_test = transform.eval(normal), transform.eval(test)
        for layer, stage in (("conv1", "stem"), ("conv2", "block2")):
            x_train, x_test = stages[stage](x_train), stages[stage](x_test)
            svm = OneClassSVM(kernel="rbf", nu=0.1, gamma="scale").fit(x_train.flatten(1).double().numpy())
            expected = roc_auc_score(test_labels.numpy(), -svm.decision_function(x_test.flatten(1).double().numpy()))
            assert metrics[f"test_auroc_{layer}"] == pytest.approx(expected, abs=1e-6)
    for layer in LAYERS:
        assert metrics[f"test_auroc_gain_{layer}"] == pytest.approx((metrics[f"test_auroc_{layer}"] - 0.5) / 0.5)


def test_a_probed_trial_reports_every_layer(tiny_budget: dict[str, Any]) -> None:
    tiny_budget["data"].update(benchmark="one_vs_rest", fold=1, image_size=32, augment=False)
    cfg = build_config(tiny_budget, preset("probe_selfsup"),
                       {"model": {"backbone": "lenet_bias_free"}, "probe": {"layers": LAYERS}})
    row = run_trial(cfg)
    assert row["status"] == "ok", row["message"]
    assert all(0.0 <= row[f"test_auroc_{layer}"] <= 1.0 for layer in LAYERS)
    assert row["probe.layers.conv2"] == "block2" and row["probe.scorer.name"] == "ocsvm"
    assert set(empty_row(cfg, "ok")) == set(row)  # every layer's metrics are fixed keys of a probed row


def test_probe_refuses_unknown_stages_and_cached_prefixes(tiny_budget: dict[str, Any]) -> None:
    cfg = build_config(tiny_budget, {"model": {"backbone": "lenet_bias_free", "pretrained": False},
                                     "probe": {"layers": {"conv9": "block9"}}})
    row = run_trial(cfg)
    assert row["status"] == "failed" and "stage(s) block9" in row["message"] and "stem, block2, block3" in row["message"]
    with pytest.raises(ValidationError, match="probe reads every stage's output"):
        build_config(tiny_budget, {"data": {"augment": False}, "model": {"train_stages": 1},
                                   "probe": {"layers": LAYERS}})
    with pytest.raises(ValidationError, match="lower-case letters"):
        ProbeConfig(layers={"Conv 1": "stem"})


def test_rotation_prediction_scores_by_the_cross_entropy_of_every_turn() -> None:
    torch.manual_seed(0)
    backbone = create_backbone("lenet_bias_free", pretrained=False)
    method = build_method(build_config(preset("probe_selfsup")).method, backbone).eval()
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        expected = sum(F.cross_entropy(method.head(backbone(torch.rot90(x, k, dims=(-2, -1)))), torch.full((5,), k),
                                       reduction="none") for k in range(4))
        torch.testing.assert_close(method.score(x), expected)
        torch.testing.assert_close(method.loss(TrainBatch(normal=x)), expected.mean() / 4)
    assert torch.equal(all_turns(x)[5:10], torch.rot90(x, 1, dims=(-2, -1)))


def test_pretrained_lenet_is_made_once_without_touching_the_callers_random_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADCORE_CACHE", str(tmp_path))
    images, labels = digits(256)
    small = ImageSet(images[:, :1], labels, tuple(str(d) for d in range(10)))  # what the recipe would load, fewer
    monkeypatch.setattr(adcore.data.sources, "load_source", lambda name, split, root=None: small)
    calls = []
    pretrain = lenet.pretrain
    monkeypatch.setattr(lenet, "pretrain", lambda recipe: calls.append(recipe) or pretrain(recipe))

    torch.manual_seed(1)
    random_init = create_backbone("lenet_bias_free", pretrained=False)
    after_random = torch.get_rng_state()
    torch.manual_seed(1)
    first = create_backbone("lenet_bias_free", pretrained=True)
    assert torch.equal(torch.get_rng_state(), after_random)  # pretraining drew from its own generator
    second = create_backbone("lenet_bias_free", pretrained=True)
    assert len(calls) == 1 and lenet.pretrained_path().is_file() and lenet.pretrained_path().parent == tmp_path / "weights"
    for name, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[name]), name
    conv = "block3.conv.weight"
    assert not torch.equal(first.state_dict()[conv], random_init.state_dict()[conv])
    path = tmp_path / "lenet.pt"
    torch.save(first.state_dict(), path)
    loaded = create_backbone("lenet_bias_free", pretrained=True, weights_path=str(path))
    assert torch.equal(loaded.state_dict()[conv], first.state_dict()[conv]) and len(calls) == 1
    assert np.isfinite(first.state_dict()["block1.conv.weight"].numpy()).all()

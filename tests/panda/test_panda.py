"""PANDA, PANDA-OE and the unadapted baseline on real Fashion-MNIST at a tiny budget: the fixed
centre, frozen stages and BatchNorm, the stage mapping on every backbone, SES, EWC at lambda 0."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from adcore import build_config, run_trial
from adcore.config import deep_merge
from adcore.methods import METHODS, build_method
from adcore.methods.staged import StagedParams
from adcore.models import BACKBONES, create_backbone
from adcore.presets import preset
from adcore.train import fit
from adcore.trial import prepare_trial

OTHER_PRESETS = ["unadapted_knn", "panda_ewc", "panda_oe"]  # panda and panda_ses run in the SES tests
FAST_EWC = {"regularizer": {"fisher_samples": 16}}


def _cfg(tiny_budget, name: str, *overlays: dict):
    layers = [preset(name), *overlays]
    merged = layers[0]
    for layer in layers[1:]:
        merged = deep_merge(merged, layer)
    return build_config(tiny_budget, merged)


def _trained(cfg):
    """Parts of a trial after fit(), with a no-op evaluation."""
    parts = prepare_trial(cfg)
    fit(parts.method, parts.regularizer, parts.ctx, cfg.optim, parts.generator, evaluate=lambda final: {})
    return parts


def _check_row(row: dict, name: str) -> None:
    assert row["status"] == "ok" and 0 <= row["test_auroc"] <= 1 and math.isfinite(row["val_auroc"])
    if name != "panda_oe":  # the scorers compared on the same features
        assert {"test_auroc_kmeans", "test_auroc_center"} <= set(row)


@pytest.mark.parametrize("name", OTHER_PRESETS)
def test_every_panda_preset_runs(tiny_budget, name: str) -> None:
    _check_row(run_trial(_cfg(tiny_budget, name, FAST_EWC if name == "panda_ewc" else {})), name)


def test_centre_is_the_mean_pretrained_feature_and_stays_fixed(tiny_budget) -> None:
    cfg = _cfg(tiny_budget, "panda")
    pretrained = create_backbone("efficientnet_lite0").eval()
    parts = prepare_trial(cfg)
    with torch.no_grad():
        expected = pretrained.forward_features(parts.ctx.transform.eval(parts.ctx.normal)).mean(dim=0)
    assert torch.allclose(parts.method.center, expected, atol=1e-5)
    trained_before = [p.detach().clone() for p in parts.method.trainable_parameters()]
    fit(parts.method, parts.regularizer, parts.ctx, cfg.optim, parts.generator, evaluate=lambda final: {})
    assert torch.allclose(parts.method.center, expected, atol=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(trained_before, parts.method.trainable_parameters()))


def test_frozen_stages_get_no_gradient_and_batchnorm_statistics_do_not_move(tiny_budget) -> None:
    cfg = _cfg(tiny_budget, "panda")
    parts = prepare_trial(cfg)
    method, backbone = parts.method, parts.backbone
    before = copy.deepcopy(backbone.state_dict())
    fit(method, parts.regularizer, parts.ctx, cfg.optim, parts.generator, evaluate=lambda final: {})
    trained_prefixes = tuple(f"{name}." for name in ("blocks.6", "conv_head", "bn2"))  # EfficientNet's last 2 stages
    for name, p in backbone.named_parameters():
        if name.startswith(trained_prefixes):
            assert p.requires_grad and p.grad is not None, name
        else:
            assert not p.requires_grad and p.grad is None and torch.equal(p, before[name]), name
    statistics = [k for k in before if k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert statistics and all(torch.equal(backbone.state_dict()[k], before[k]) for k in statistics)
    assert not backbone.training  # BatchNorm in eval mode throughout, also during training


def test_cached_frozen_stages_equal_running_them(tiny_budget) -> None:
    parts = prepare_trial(_cfg(tiny_budget, "panda"))
    method, ctx = parts.method, parts.ctx
    index = torch.tensor([3, 0, 7])
    images = ctx.transform.train(ctx.normal[index], parts.generator)  # no augmentation under the preset
    assert torch.allclose(method.frozen_batch(images, index, "normal"), method.frozen(images), atol=1e-5)


@pytest.mark.parametrize("name", BACKBONES.names())
def test_finetuned_stages_are_the_last_stages_on_every_backbone(name: str) -> None:
    backbone = create_backbone(name, pretrained=False)
    stages = backbone.stages()
    k = min(2, len(stages))
    cfg = build_config({"model": {"backbone": name}, "method": {"name": "panda", "finetuned_stages": k}})
    method = build_method(cfg.method, backbone)
    trained = {id(p) for _, module in stages[-k:] for p in module.parameters()}
    for p in backbone.parameters():
        assert p.requires_grad == (id(p) in trained)
    if name.startswith("resnet") and len(stages) == 5:  # PANDA's choice on its ResNets
        assert method.trained_stage_names == ["layer3", "layer4"]


def test_too_many_finetuned_stages_is_an_error_that_names_the_stages() -> None:
    with pytest.raises(ValueError, match="layer4"):
        build_method(build_config({"method": {"name": "panda", "finetuned_stages": 6}}).method,
                     create_backbone("resnet18", pretrained=False))


@pytest.mark.parametrize("name", [name for name in METHODS if issubclass(METHODS.get(name).Params, StagedParams)])
def test_the_old_name_method_train_stages_says_what_it_became(name: str) -> None:
    with pytest.raises(ValidationError, match="method.train_stages is now method.finetuned_stages"):
        build_config({"method": {"name": name, "train_stages": 2}})


def test_fixed_early_stopping_counts_minibatches_across_passes(tiny_budget) -> None:
    cfg = _cfg(tiny_budget, "panda", {"method": {"steps_per_epoch": 7}})  # 64 images, batch 16: 4 per pass
    parts = _trained(cfg)
    assert int(parts.method.steps_done) == 7 * cfg.optim.epochs


@pytest.mark.parametrize("update", ["gradient", "proximal"])
def test_ewc_with_lambda_zero_leaves_training_unchanged(tiny_budget, update: str) -> None:
    plain = _trained(_cfg(tiny_budget, "panda")).method.state_dict()
    ewc = _trained(_cfg(tiny_budget, "panda", {"regularizer": {"name": "ewc", "lam": 0.0, "update": update,
                                                                "fisher_samples": 16}})).method.state_dict()
    for key, value in plain.items():
        if isinstance(value, torch.Tensor):
            if update == "gradient":
                assert torch.equal(ewc[key], value), key
            else:  # the proximal step adds (theta - theta_0) + theta_0 back: float rounding only
                assert torch.allclose(ewc[key], value, atol=1e-6), key


def test_ses_scores_each_sample_by_its_largest_normalised_checkpoint_score(tiny_budget) -> None:
    tiny_budget["optim"]["epochs"] = 3
    cfg = _cfg(tiny_budget, "panda_ses")
    parts = prepare_trial(cfg)
    method, ctx = parts.method, parts.ctx

    def evaluate(final: bool) -> dict:
        method.eval()
        method.prepare_scoring(ctx)
        method.prepare_scoring(ctx)  # a second call without training adds no checkpoint
        method.train()
        return {}

    fit(method, parts.regularizer, ctx, cfg.optim, parts.generator, evaluate)
    checkpoints = method.scoring.checkpoints
    assert [c.step for c in checkpoints] == [4, 8, 12]
    method.eval()
    with torch.no_grad():
        features = method.embed(ctx.transform.eval(parts.bench.test_images[:40]))
    per_step = method.score_variants(features)
    normalised = torch.stack([per_step[f"step{c.step}"] / c.typical["knn"] for c in checkpoints])
    assert torch.allclose(method.score_features(features), normalised.max(dim=0).values)
    assert torch.equal(per_step["last"], per_step["step12"])


def test_ses_last_checkpoint_is_fixed_early_stopping(tiny_budget) -> None:
    es, ses = run_trial(_cfg(tiny_budget, "panda")), run_trial(_cfg(tiny_budget, "panda_ses"))
    _check_row(es, "panda")
    _check_row(ses, "panda_ses")
    assert ses["test_auroc_last"] == pytest.approx(es["test_auroc"], abs=1e-9)


def test_interrupted_ses_run_resumes_with_its_checkpoints(tiny_budget, tmp_path: Path,
                                                          interrupt_after_first_epoch) -> None:
    cfg = _cfg(tiny_budget, "panda_ses")
    uninterrupted = run_trial(cfg)
    interrupt_after_first_epoch(cfg, tmp_path)
    resumed = run_trial(cfg, checkpoint_dir=tmp_path)
    for key in ("test_auroc", "test_auroc_step4", "test_auroc_last", "val_auroc"):
        assert resumed[key] == pytest.approx(uninterrupted[key], abs=1e-6), key


def test_unadapted_trains_nothing_and_scores_knn_on_pretrained_features(tiny_budget) -> None:
    parts = _trained(_cfg(tiny_budget, "unadapted_knn"))
    method, ctx = parts.method, parts.ctx
    assert method.trainable_parameters() == [] and not any(p.requires_grad for p in parts.backbone.parameters())
    method.prepare_scoring(ctx)
    pretrained = create_backbone("efficientnet_lite0").eval()
    with torch.no_grad():
        x = ctx.transform.eval(parts.bench.test_images[:20])
        gallery = pretrained.forward_features(ctx.transform.eval(ctx.normal))
        expected = torch.cdist(pretrained.forward_features(x), gallery).pow(2).topk(2, largest=False).values.sum(dim=1)
        assert torch.allclose(method.score(x), expected, rtol=1e-3, atol=1e-3)


def test_panda_oe_trains_only_the_last_stage_and_its_head(tiny_budget) -> None:
    parts = prepare_trial(_cfg(tiny_budget, "panda_oe"))
    trainable = {n for n, p in parts.method.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("head.", "backbone.conv_head.", "backbone.bn2.")) for n in trainable)
    assert {"head.weight", "head.bias"} <= trainable


def test_loss_form_does_not_change_clipped_training_without_ewc(tiny_budget) -> None:
    """The gradient clip (1e-3) normalises every step, so dividing the loss by D changes nothing
    unless EWC's penalty shares the clipped gradient (why panda_ewc uses the code's form)."""
    paper = _trained(_cfg(tiny_budget, "panda")).method.state_dict()
    code = _trained(_cfg(tiny_budget, "panda", {"method": {"loss_form": "code"}})).method.state_dict()
    for key, value in paper.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            assert torch.allclose(code[key], value, atol=1e-6), key

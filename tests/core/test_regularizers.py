"""L2-SP and EWC at and away from theta_0, and which parameters each method trains."""
import pytest
import torch

from adcore import build_config
from adcore.methods import TrainBatch
from adcore.presets import preset
from adcore.trial import prepare_trial


BASE = {"data": {"image_size": 16, "n_normal": 32, "n_oe": 32, "n_val": 8, "n_test": 64},
        "runtime": {"device": "cpu"}}


def _parts(overlay):
    parts = prepare_trial(build_config(BASE, overlay))
    return parts.method, parts.backbone, parts.regularizer, parts.ctx


def _sgd_step(method, ctx, regularizer, lr=0.1):
    optimizer = torch.optim.SGD(method.trainable_parameters(), lr=lr)
    batch = TrainBatch(normal=ctx.transform.eval(ctx.normal[:8]), oe=ctx.transform.eval(ctx.oe[:8]), oe_index=torch.arange(8))
    loss = method.loss(batch) + regularizer.penalty()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    regularizer.after_step(lr)


@pytest.mark.parametrize("form", ["squared", "norm"])
def test_l2sp_is_zero_with_a_finite_zero_gradient_at_theta0(form) -> None:
    method, backbone, regularizer, _ = _parts({"regularizer": {"name": "l2sp", "form": form}})
    penalty = regularizer.penalty()
    assert penalty.item() == 0.0
    penalty.backward()
    grads = [p.grad for _, p in regularizer.named]
    assert grads and all(g is not None and torch.isfinite(g).all() and (g == 0).all() for g in grads)


def test_l2sp_norm_form_covers_only_spatial_conv_weights() -> None:
    _, backbone, regularizer, _ = _parts({"regularizer": {"name": "l2sp", "form": "norm"}})
    modules = dict(backbone.named_modules())
    for name, _ in regularizer.named:
        module = modules[name.rsplit(".", 1)[0]]
        assert isinstance(module, torch.nn.Conv2d) and max(module.kernel_size) > 1 and name.endswith("weight")


@pytest.mark.parametrize("update", ["proximal", "gradient"])
def test_ewc_is_zero_at_theta0_and_grows_after_a_step(update) -> None:
    method, _, regularizer, ctx = _parts({"regularizer": {"name": "ewc", "update": update, "lam": 1.0}})
    assert regularizer.penalty().item() == 0.0
    assert all((f >= 0).all() for f in regularizer.fisher.values())
    assert sum(f.sum() for f in regularizer.fisher.values()) > 0
    _sgd_step(method, ctx, regularizer, lr=0.01)
    assert regularizer.penalty().item() > 0.0


def test_regularizers_leave_new_and_imagenet_heads_alone() -> None:
    method, backbone, regularizer, _ = _parts({"regularizer": {"name": "l2sp"}})
    covered = {id(p) for _, p in regularizer.named}
    assert not any(id(p) in covered for p in method.head.parameters())
    assert not any(id(p) in covered for n, p in backbone.named_parameters() if n in backbone.head_parameter_names())
    # the ImageNet classifier does not train for a method that does not use it
    assert not any(p.requires_grad for n, p in backbone.named_parameters() if n in backbone.head_parameter_names())


def test_adra_trains_only_adapters_bn_and_head() -> None:
    method, backbone, regularizer, ctx = _parts(preset("a6"))
    trainable = {n for n, p in method.named_parameters() if p.requires_grad}
    bn_names = {f"backbone.{m}.{k}" for m, mod in backbone.named_modules()
                if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) for k in ("weight", "bias")}
    for name in trainable:
        assert name.startswith("head.") or ".adapter." in name or name in bn_names, name
    assert {"head.weight", "head.bias"} <= trainable
    before = {n: p.detach().clone() for n, p in method.named_parameters()}
    _sgd_step(method, ctx, regularizer)
    changed = {n for n, p in method.named_parameters() if not torch.equal(p, before[n])}
    assert changed and changed <= trainable

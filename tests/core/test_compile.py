"""runtime.compile and runtime.channels_last change how the training step runs, not what it computes."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from adcore import build_config
from adcore.methods import TrainBatch
from adcore.presets import preset
from adcore.train import step_loss_fn
from adcore.trial import prepare_trial


def _step_loss_and_grads(tiny_budget, ctx_changes: dict) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The loss and gradients of one training step of a small LeNet OE classifier with an L2-SP pull."""
    torch.manual_seed(0)
    tiny_budget["model"] = {"backbone": "lenet_bias_free"}
    cfg = build_config(tiny_budget, preset("a1"), {"regularizer": {"name": "l2sp", "alpha": 0.1}})
    parts = prepare_trial(cfg)
    ctx = dataclasses.replace(parts.ctx, **ctx_changes)
    if ctx.channels_last:
        parts.method.to(memory_format=torch.channels_last)
    layout = torch.channels_last if ctx.channels_last else torch.contiguous_format
    index = torch.arange(16)
    batch = TrainBatch(normal=ctx.transform.eval(ctx.normal[index]).contiguous(memory_format=layout),
                       oe=ctx.transform.eval(ctx.oe[index]).contiguous(memory_format=layout),
                       normal_index=index, oe_index=index)
    parts.method.train()
    with torch.no_grad():  # move off theta_0, so that the L2-SP pull is not zero
        for p in parts.method.trainable_parameters():
            p.add_(0.01)
    loss = step_loss_fn(parts.method, parts.regularizer, ctx)(batch)
    loss.backward()
    return loss.detach(), [p.grad for p in parts.method.trainable_parameters()]


@pytest.mark.parametrize("changes", [{"compile": "default"}, {"channels_last": True}], ids=["compile", "channels_last"])
def test_step_gives_the_eager_loss_and_gradients(tiny_budget, changes: dict) -> None:
    eager_loss, eager_grads = _step_loss_and_grads(tiny_budget, {})
    loss, grads = _step_loss_and_grads(tiny_budget, changes)
    assert torch.isfinite(eager_loss) and eager_loss > 0
    torch.testing.assert_close(loss, eager_loss, rtol=1e-5, atol=1e-6)
    assert len(grads) == len(eager_grads) > 0
    for grad, eager_grad in zip(grads, eager_grads):
        torch.testing.assert_close(grad, eager_grad, rtol=1e-4, atol=1e-6)

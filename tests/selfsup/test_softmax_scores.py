"""MSP and ODIN: ODIN with eps = 0 and T = 1 is MSP; its step is eps in pixel units."""
from __future__ import annotations

import torch
from torch import nn

from adcore.scoring.softmax import msp, odin, odin_inputs


def _classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5))


def test_odin_with_no_step_and_unit_temperature_is_msp() -> None:
    model, x = _classifier(), torch.randn(16, 3, 8, 8)
    std = torch.tensor([0.2, 0.3, 0.4]).view(1, 3, 1, 1)
    assert torch.equal(odin(model, x, temperature=1.0, epsilon=0.0, std=std), msp(model(x)))


def test_odin_moves_each_pixel_by_epsilon_over_the_channel_std() -> None:
    model, x = _classifier(), torch.randn(4, 3, 8, 8)
    std = torch.tensor([0.2, 0.3, 0.4]).view(1, 3, 1, 1)
    step = (odin_inputs(model, x, 1000.0, 5e-5, std) - x).abs()
    assert torch.allclose(step, (5e-5 / std).expand_as(step), rtol=1e-3)


def test_odin_step_raises_the_confidence_in_the_predicted_class() -> None:
    model, x = _classifier(), torch.randn(32, 3, 8, 8)
    std = torch.ones(1, 3, 1, 1)
    assert (odin(model, x, 1.0, 0.05, std) >= msp(model(x)) - 1e-6).float().mean() > 0.9


def test_odin_leaves_parameter_gradients_alone() -> None:
    model = _classifier()
    odin(model, torch.randn(4, 3, 8, 8), 1000.0, 5e-5, torch.ones(1, 3, 1, 1))
    assert all(p.grad is None for p in model.parameters())

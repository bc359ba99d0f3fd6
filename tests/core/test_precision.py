"""Scores and ODIN's input step keep float32 resolution when the trunk trains under bf16 autocast.

A trial on CUDA sets ``FitContext.autocast`` (bf16 autocast for training). CPU autocast to bf16
rounds the same way, so these tests reproduce on the CPU what a GPU run did to its scores: bf16
keeps 8 significant bits, so logits collapse into ties that coarsen AUROC and AP (688 of 1000
standard-normal draws stay distinct in bf16; 270 of the 1000 logits below), and ODIN's step
eps/std ~ 2e-4 vanishes when the first convolution rounds its perturbed input to bf16 (or TF32).
All four tests fail on the code before the fix (scoring under autocast) and pass after it.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

from adcore import build_config
from adcore.presets import preset
from adcore.scoring.softmax import odin
from adcore.trial import prepare_trial


def _random_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _under_bf16(ctx, fn, images):
    """fn's outputs through forward_batched as a CUDA trial sets it up, with CPU bf16 autocast active."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return dataclasses.replace(ctx, autocast=True).forward_batched(fn, images)


def test_scores_keep_float32_resolution_under_bf16_autocast(tiny_budget) -> None:
    parts = prepare_trial(build_config(tiny_budget, preset("a2")))  # OE classifier: the score is a logit
    parts.method.eval()
    images = _random_images(1000, tiny_budget["data"]["image_size"])
    full = dataclasses.replace(parts.ctx, autocast=False).forward_batched(parts.method.score, images)
    distinct = len(torch.unique(full))
    assert distinct > 950  # float32 tells (almost) every image apart
    scores = _under_bf16(parts.ctx, parts.method.score, images)
    assert scores.dtype == torch.float32
    # scored in bf16 these logits keep about 270 distinct values; with a bf16 trunk and a float32 head, about 890
    assert len(torch.unique(scores)) == distinct, f"{len(torch.unique(scores))} distinct scores, {distinct} in float32"
    assert torch.equal(scores, full)


def test_odin_input_step_survives_bf16_autocast(tiny_budget) -> None:
    tiny_budget["data"].update(benchmark="leave_one_out", fold=3)
    method = {"method": {"name": "rotation_classifier", "scorer": "odin", "lam": 0.5}}
    parts = prepare_trial(build_config(tiny_budget, method))
    parts.method.eval()
    temperature = parts.method.params.temperature
    images = parts.bench.test_images
    full = dataclasses.replace(parts.ctx, autocast=False).forward_batched(parts.method.embed, images)
    plain, scaled = full.chunk(2, dim=1)
    moved = scaled * temperature - plain  # how far ODIN's step moved the logits
    assert (moved.abs().amax(dim=1) > 0).float().mean() > 0.9  # in float32 the step moves the logits
    features = _under_bf16(parts.ctx, parts.method.embed, images)
    assert torch.equal(features, full)


def test_odin_is_float32_whatever_autocast_surrounds_it() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(5))
    x = torch.randn(64, 3, 8, 8) * 2
    net(x)  # materialise the lazy layer
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, -1, 1, 1)
    reference = odin(net, x, 1000.0, 5e-5, std)
    assert not torch.equal(reference, odin(net, x, 1000.0, 0.0, std))  # the step changes the score
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = odin(net, x, 1000.0, 5e-5, std)
    assert under.dtype == torch.float32 and torch.equal(under, reference)


@pytest.mark.parametrize("device_type", ["cpu"])
def test_full_precision_switches_autocast_off_and_restores_it(device_type: str) -> None:
    from adcore.context import full_precision

    before = torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision
    with torch.autocast(device_type, dtype=torch.bfloat16):
        with full_precision(torch.device(device_type)):
            assert not torch.is_autocast_enabled(device_type)
            assert torch.backends.cudnn.conv.fp32_precision == "ieee"
            assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.is_autocast_enabled(device_type)
    assert (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision) == before

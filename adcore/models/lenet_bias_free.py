"""Deep SVDD's bias-free LeNet-type CNN (Ruff et al. 2018, their CIFAR-10 network).

Three 5x5 convolutions (32, 64, 128 channels, no bias), each followed by BatchNorm without affine
parameters (eps 1e-4), leaky ReLU and 2x2 max pooling, then the flattened 128 x 4 x 4 map. DSVDD's
``Linear(2048, rep_dim, bias=False)`` head on it is Ruff et al.'s ``fc1``. No bias anywhere: a
network with bias terms can map every input to the centre and "solve" DSVDD trivially. Its stages
``stem``, ``block2``, ``block3`` are the conv1, conv2 and conv3 that paper 000's Table 1 probes.

The last stage pools adaptively to 4x4 before flattening, an identity for 32x32 inputs (Ruff's
size); other sizes are pooled to the same 2048 features.

Pretrained weights (paradigm (iii) of paper 000's Table 1: "pretrained on a classification task of
other data", CIFAR-100 there) are made here on first use, since none are published: the network and
a linear 10-way head learn MNIST-5k's digits (``PRETRAINING``: 32 px, Adam, seed 0), the head is
dropped, and the weights are cached under ``<cache>/weights/`` keyed by the recipe; every trial
then starts from the same theta_0. ``model.weights_path`` loads other weights instead.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adcore.cache import default_cache_dir
from adcore.data.sources import load_source
from adcore.data.transforms import resize_images, to_channels
from adcore.models.base import BACKBONES, Backbone, load_strict, read_state_dict

log = logging.getLogger(__name__)

WIDTHS = (32, 64, 128)
MAP_SIDE = 4  # 32 px after three 2x2 poolings


class ConvBNPool(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 5, padding=2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-4, affine=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(F.leaky_relu(self.bn(self.conv(x))), 2)


class Flatten4x4(nn.Module):
    """(B, C, h, w) -> (B, C * 16, 1, 1), so the shared global pooling leaves the flat map as it is."""

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(x, MAP_SIDE)
        return x.flatten(1)[:, :, None, None]


class LeNetBiasFree(Backbone):
    num_classes = 0
    num_features = WIDTHS[-1] * MAP_SIDE * MAP_SIDE
    input_mean = (0.5, 0.5, 0.5)
    input_std = (0.5, 0.5, 0.5)
    adapter_style = "per_conv"

    def __init__(self) -> None:
        super().__init__()
        self.block1 = ConvBNPool(3, WIDTHS[0])
        self.block2 = ConvBNPool(WIDTHS[0], WIDTHS[1])
        self.block3 = ConvBNPool(WIDTHS[1], WIDTHS[2])
        self.flatten = Flatten4x4()

    def stages(self) -> list[tuple[str, nn.Module]]:
        return [("stem", self.block1), ("block2", self.block2), ("block3", self.block3), ("flatten", self.flatten)]

    def head(self) -> nn.Module | None:
        return None


# MNIST-5k digit classification: every one of its 5,000 images, grey repeated to RGB, resized to 32 px
PRETRAINING = {"source": "mnist5k", "image_size": 32, "epochs": 4, "batch_size": 64, "lr": 1e-3, "seed": 0}


def pretrained_path() -> Path:
    recipe = hashlib.sha256(json.dumps(PRETRAINING, sort_keys=True).encode()).hexdigest()[:16]
    return default_cache_dir(None) / "weights" / f"lenet_bias_free_{PRETRAINING['source']}_{recipe}.pt"


def pretrain(recipe: dict[str, Any]) -> dict[str, Tensor]:
    """The backbone's weights after learning ``recipe['source']``'s classes with a linear head (dropped).
    Seeded by the recipe alone, without touching the caller's random state."""
    data = load_source(recipe["source"], "train")
    images = resize_images(to_channels(data.images, 3), recipe["image_size"])
    with torch.random.fork_rng():
        torch.manual_seed(recipe["seed"])
        network = LeNetBiasFree()
        head = nn.Linear(network.num_features, len(data.class_names))
        optimizer = torch.optim.Adam([*network.parameters(), *head.parameters()], lr=recipe["lr"])
        mean = torch.tensor(network.input_mean).view(1, 3, 1, 1)
        std = torch.tensor(network.input_std).view(1, 3, 1, 1)
        network.train()
        for _ in range(recipe["epochs"]):
            order = torch.randperm(len(images))
            for start in range(0, len(images) - recipe["batch_size"] + 1, recipe["batch_size"]):
                index = order[start : start + recipe["batch_size"]]
                x = (images[index].float() / 255 - mean) / std
                loss = F.cross_entropy(head(network.forward_features(x)), data.labels[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return network.state_dict()


@BACKBONES.register("lenet_bias_free")
def lenet_bias_free(pretrained: bool = True, weights_path: str | None = None) -> LeNetBiasFree:
    """Random init, or ``weights_path``, or the MNIST-5k weights made on first use (see the module)."""
    network = LeNetBiasFree()
    if not pretrained:
        return network
    if weights_path is not None:
        load_strict(network, read_state_dict(weights_path, "give a state dict of this LeNet"), weights_path)
        return network
    path = pretrained_path()
    if not path.exists():
        log.info("lenet_bias_free: pretraining on %s (once; cached at %s)", PRETRAINING["source"], path)
        state = pretrain(PRETRAINING)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)  # atomic: a concurrent trial reads the whole file or makes its own
    load_strict(network, torch.load(path, map_location="cpu", weights_only=True), str(path))
    return network

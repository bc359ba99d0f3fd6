"""The diagonal Fisher information of a pretrained backbone's own classifier, for EWC.

Without ImageNet here, the Fisher is taken on images that are available (the trial's training
normals) with labels *sampled from the pretrained head's predictive distribution*, which is the
true Fisher of the model's own predictive distribution at those inputs (not the empirical Fisher).
It is computed once per backbone and image set and cached on disk, keyed by their content.
"""
from __future__ import annotations

import hashlib
import logging
import os

import torch

from adcore.context import FitContext
from adcore.models import Backbone

log = logging.getLogger(__name__)


def _cache_key(backbone: Backbone, names: list[str], images: torch.Tensor, seed: int) -> str:
    digest = hashlib.sha256()
    digest.update(type(backbone).__name__.encode())
    for name, value in backbone.state_dict().items():  # the weights themselves identify theta_0
        digest.update(f"{name}{'*' if name in names else ''}".encode())
        digest.update(value.detach().float().cpu().numpy().tobytes())
    digest.update(images.cpu().numpy().tobytes())
    digest.update(str(seed).encode())
    return digest.hexdigest()[:20]


def diagonal_fisher(backbone: Backbone, names: list[str], images: torch.Tensor, ctx: FitContext,
                    seed: int = 0, chunk: int = 64) -> dict[str, torch.Tensor]:
    """F_i = E_x E_{y ~ p(y|x)} [(d log p(y|x) / d theta_i)^2] for the named parameters.

    images: (N, C, S, S) uint8. BatchNorm runs in eval mode so each sample's gradient is its own.
    """
    path = ctx.cache_dir / "fisher" / f"{_cache_key(backbone, names, images, seed)}.pt"
    if path.exists():
        return torch.load(path, map_location=ctx.device, weights_only=True)
    was_training = backbone.training
    backbone.eval()
    params = {name: p for name, p in backbone.named_parameters() if name in names}
    generator = torch.Generator().manual_seed(seed)
    fisher = {name: torch.zeros_like(p) for name, p in params.items()}
    for start in range(0, len(images), chunk):
        x = ctx.transform.eval(images[start : start + chunk])
        with torch.no_grad():
            logits = backbone.forward_head(backbone.forward_features(x)).float()
        y = torch.multinomial(torch.softmax(logits, dim=1).cpu(), 1, generator=generator).squeeze(1).to(ctx.device)
        for i in range(len(x)):
            out = backbone.forward_head(backbone.forward_features(x[i : i + 1])).float()
            nll = torch.nn.functional.cross_entropy(out, y[i : i + 1])
            grads = torch.autograd.grad(nll, list(params.values()), allow_unused=True)
            for name, g in zip(params, grads):
                if g is not None:
                    fisher[name] += g.pow(2)
    backbone.train(was_training)
    fisher = {name: value / len(images) for name, value in fisher.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({k: v.cpu() for k, v in fisher.items()}, tmp)
    os.replace(tmp, path)
    log.info("EWC Fisher computed on %d images, cached at %s", len(images), path)
    return fisher

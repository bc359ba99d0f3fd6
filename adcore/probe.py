"""Layer probing (paper 000, Table 1): how well the features of single layers of a trained network
separate normal images from anomalies under one fixed one-class model.

After the last epoch, the output of each probed backbone stage (flattened: every channel at every
position) is computed for the training normals and the test images, a scorer (by default the
OC-SVM with fixed nu and gamma, ``adcore.scoring.ocsvm``) is fitted on the normals' features, and
the test AUROC is reported per layer as ``test_auroc_<layer>`` together with paper 000's measure,
the AUROC's improvement over chance relative to chance, ``test_auroc_gain_<layer>`` =
(AUROC - 0.5) / 0.5 (a table in percent shows 100 times it). The method's own training decides what
the layers learned; the probe chooses nothing and sees no anomaly before scoring the test.
"""
from __future__ import annotations

import torch

from adcore.config import ProbeConfig
from adcore.context import FitContext
from adcore.metrics import auroc
from adcore.models import Backbone
from adcore.scoring import build_scorer


def check_stages(backbone: Backbone, stages: list[str]) -> None:
    """Refuse stage names the backbone lacks (called before training, so a typo costs no epochs)."""
    known = [name for name, _ in backbone.stages()]
    unknown = sorted(set(stages) - set(known))
    if unknown:
        raise ValueError(f"probe.layers names stage(s) {', '.join(unknown)} that {type(backbone).__name__} lacks; "
                         f"its stages: {', '.join(known)}")


def stage_features(backbone: Backbone, stages: list[str], x: torch.Tensor) -> list[torch.Tensor]:
    """The flattened outputs (B, C * h * w) of the named stages, in the order named, for normalised x."""
    check_stages(backbone, stages)
    wanted = set(stages)
    outputs = {}
    for name, stage in backbone.stages():
        x = stage(x)
        if name in wanted:
            outputs[name] = x.flatten(1)
            if len(outputs) == len(wanted):
                break
    return [outputs[name] for name in stages]


def probe_metrics(probe: ProbeConfig, backbone: Backbone, ctx: FitContext, test_images: torch.Tensor,
                  test_labels: torch.Tensor) -> dict[str, float]:
    """{test_auroc_<layer>, test_auroc_gain_<layer>} for every probed layer; the backbone is in eval mode."""
    stages = list(probe.layers.values())

    @torch.no_grad()
    def features(images: torch.Tensor) -> list[torch.Tensor]:
        """Per probed stage, (N, D_stage) on the device: one forward pass per batch for every stage."""
        widths = [part.shape[1] for part in stage_features(backbone, stages, ctx.transform.eval(images[:1]))]
        joined = ctx.forward_batched(lambda x: torch.cat(stage_features(backbone, stages, x), dim=1), images)
        return list(joined.split(widths, dim=1))

    train, test = features(ctx.normal), features(test_images)
    metrics = {}
    for layer, normal, scored in zip(probe.layers, train, test):
        value = auroc(test_labels, build_scorer(probe.scorer).fit(normal).score(scored).cpu())
        metrics[f"test_auroc_{layer}"] = value
        metrics[f"test_auroc_gain_{layer}"] = (value - 0.5) / 0.5
    return metrics

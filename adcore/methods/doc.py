"""DOC, deep one-class classification (Perera & Patel 2019), arm a4 of paper 000's Table 4
(CIFAR-10 mAP 65.8, STL-10 35.2).

Two losses on the pretrained network's classifier output z (its ImageNet logits, which keep
training): compactness of the normal images' z within each batch, and descriptiveness, the
cross-entropy of the classifier on a reference set. The paper uses ImageNet as the reference
set; without it here the reference set is the trial's OE corpus labelled by the *pretrained*
classifier's predictions (recorded as a deviation). Score: squared distance of z to the mean z
of the training normals, refitted before each evaluation.
"""
from __future__ import annotations


import torch

from adcore.context import FitContext
from adcore.methods.base import METHODS, Detector, NotFittedError, TrainBatch
from adcore.models import Backbone
from adcore.objectives.losses import center_distance, descriptiveness, doc_compactness
from adcore.params import ComponentParams, hparam


class DOCParams(ComponentParams):
    compactness_weight: float = hparam(0.1, "lambda in l_D + lambda * l_C (DOC: 0.1)", low=1e-3, high=10.0, log=True)
    center_images: int = hparam(256, "training normals the scoring centre is computed from", low=16, high=4096)


@METHODS.register("doc")
class DOC(Detector):
    Params = DOCParams
    graph_safe = True
    uses_imagenet_head = True

    def __init__(self, backbone: Backbone, params: DOCParams) -> None:
        super().__init__(backbone, params)
        if backbone.num_classes == 0:
            raise ValueError("method doc needs a backbone with its pretrained classifier head "
                             "(the descriptiveness loss keeps it working); this backbone has none")
        self.register_buffer("center", torch.full((backbone.num_classes,), float("nan")))
        self.reference_labels: torch.Tensor | None = None

    def setup(self, ctx: FitContext) -> None:
        """Label the reference set (the OE images) with the pretrained classifier, once."""
        was_training = self.training
        self.eval()
        self.reference_labels = ctx.forward_batched(self.embed_logits, ctx.oe).argmax(dim=1)
        self.train(was_training)

    def embed_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_head(self.backbone.forward_features(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed_logits(x)

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        """The OE batch is the reference batch; its pseudo-labels are looked up by index."""
        assert self.reference_labels is not None and batch.oe is not None and batch.oe_index is not None
        n = len(batch.normal)
        z = self.embed_logits(torch.cat([batch.normal, batch.oe])).float()
        compact = doc_compactness(z[:n])
        describe = descriptiveness(z[n:], self.reference_labels[batch.oe_index.to(z.device)])
        return describe + self.params.compactness_weight * compact

    def prepare_scoring(self, ctx: FitContext) -> None:
        self.center.copy_(ctx.forward_batched(self.embed, ctx.normal[: self.params.center_images]).mean(dim=0))

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        if torch.isnan(self.center).any():
            raise NotFittedError("doc: the scoring centre is not set; call prepare_scoring() first")
        return center_distance(features.float(), self.center)

"""Rotation-augmented classifier (Ahmed & Courville, AAAI 2020, paper 002): a classifier over the
normal classes whose shared network also feeds a second linear head that predicts the rotation
(0, 90, 180, 270 degrees) of rotated inputs. The two tasks' updates alternate, one minibatch each
("this balances the training rates of the two tasks"): the class head only ever sees unrotated
labelled images and the rotation head only rotated ones, each image rotated by a random quarter
turn; lambda weights the rotation loss (0.5 on CIFAR-10, 1.0 on STL-10; 0 is the
classification-only baseline). Scores: MSP or ODIN (``adcore.scoring.softmax``), negated; the other
one is reported beside it. For the leave-one-out (hold-out-class) benchmark, which needs the class of
every training normal. Table 3 (CIFAR-10, AP): MSP 34.9 -> 40.2, ODIN 36.6 -> 41.6 with rotation.

Table 7's counter-example, ``mask``: each classification minibatch image has a random mask x mask
square (at 32 px; scaled with the image) set to 0 after normalisation (the mean colour, as Cutout),
placed at random inside the central mask_region x mask_region square: test accuracy 96.03 -> 96.27,
MSP AP 34.92 -> 34.41 on CIFAR-10 (rotation: 96.83 and 40.22). The row reports the classifier's
accuracy on the test images of the normal classes as ``test_accuracy``.
"""
from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from adcore.context import FitContext, full_precision
from adcore.methods.base import METHODS, Detector, NotFittedError, TrainBatch
from adcore.models import Backbone
from adcore.params import ComponentParams, hparam
from adcore.scoring.softmax import msp, odin_inputs
from adcore.transforms.geometric import rotate_each

SCORERS = ("msp", "odin")


class RotationClassifierParams(ComponentParams):
    lam: float = hparam(0.5, "weight of the rotation loss (paper 002: 0.5 CIFAR-10, 1.0 STL-10; 0: classification "
                        "only)", low=0.0, high=2.0)
    scorer: Literal["msp", "odin"] = hparam("msp", "the anomaly score: msp or odin (the other is reported too)",
                                            choices=SCORERS)
    temperature: float = hparam(1000.0, "ODIN's softmax temperature T", low=1.0, high=1000.0, log=True)
    epsilon: float = hparam(5e-5, "ODIN's input step in [0, 1] pixel units", low=0.0, high=0.01)
    mask: int = Field(0, ge=0, le=32, description="side (px at 32 px, scaled with the image) of a random square "
                      "masked out of each classification image, paper 002 Table 7: 16 (0: no mask)")
    mask_region: int = Field(21, ge=1, le=32, description="the mask lies inside the central square of this side "
                             "(px at 32 px, scaled with the image), paper 002 Table 7: 21")

    @model_validator(mode="after")
    def _mask_fits(self) -> "RotationClassifierParams":
        if self.mask > self.mask_region:
            raise ValueError(f"method.mask {self.mask} must fit inside method.mask_region {self.mask_region}")
        return self


def centre_mask(x: torch.Tensor, mask: int, region: int) -> torch.Tensor:
    """x (B, C, S, S) with a mask x mask square of each image set to 0 (the mean after normalisation), at a
    position drawn from torch's global generator so that the square lies inside the central region x region
    square (paper 002, Table 7: 16 inside 21 at 32 px)."""
    side = x.shape[-1]
    low = (side - region) // 2  # the central square's first row and column
    top, left = (torch.randint(low, low + region - mask + 1, (len(x), 1)).to(x.device) for _ in range(2))
    span = torch.arange(side, device=x.device)
    rows = (span >= top) & (span < top + mask)  # (B, S)
    cols = (span >= left) & (span < left + mask)
    return x.masked_fill((rows[:, :, None] & cols[:, None, :])[:, None], 0.0)


@METHODS.register("rotation_classifier")
class RotationClassifier(Detector):
    Params = RotationClassifierParams
    needs_images = True
    uses_oe = False
    needs_class_labels = True
    metric_names = ("test_accuracy",)

    def __init__(self, backbone: Backbone, params: RotationClassifierParams) -> None:
        super().__init__(backbone, params)
        self.rotation_head = nn.Linear(backbone.num_features, 4)
        self.classifier: nn.Linear | None = None  # its width is the number of normal classes, known at setup
        self.register_buffer("std", torch.tensor(backbone.input_std).view(1, -1, 1, 1))
        self.register_buffer("targets", torch.empty(0, dtype=torch.long))  # (N,) class index of each normal
        self.register_buffer("classes", torch.empty(0, dtype=torch.long))  # (C,) source class of each index
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def setup(self, ctx: FitContext) -> None:
        assert ctx.normal_classes is not None  # needs_class_labels: the trial gives them
        classes, targets = torch.unique(ctx.normal_classes, return_inverse=True)
        self.classifier = nn.Linear(self.backbone.num_features, len(classes)).to(ctx.device)
        self.targets = targets.to(ctx.device)
        self.classes = classes.to(ctx.device)

    def restore(self, state: dict[str, Any], fitted: dict[str, Any]) -> None:
        classes, features = state["classifier.weight"].shape  # the head setup() sizes by the normal classes
        self.classifier = nn.Linear(features, classes).to(state["classifier.weight"].device)
        super().restore(state, fitted)

    def _alternates(self) -> bool:
        return self.params.lam > 0

    def epoch_steps(self, default: int) -> int:
        return 2 * default if self._alternates() else default  # one classification + one rotation update each

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        if self.classifier is None:
            raise NotFittedError("rotation_classifier: the class head is built by setup()")
        return self.classifier(self.backbone.forward_features(x))

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        assert batch.normal_index is not None
        rotation_turn = self._alternates() and bool(self.step % 2)
        self.step += 1
        if not rotation_turn:
            targets = self.targets[batch.normal_index.to(self.targets.device)]
            return F.cross_entropy(self._logits(self._masked(batch.normal)).float(), targets)
        turns = torch.randint(4, (len(batch.normal),)).to(batch.normal.device)
        logits = self.rotation_head(self.backbone.forward_features(rotate_each(batch.normal, turns)))
        return self.params.lam * F.cross_entropy(logits.float(), turns)

    def _masked(self, x: torch.Tensor) -> torch.Tensor:
        if not self.params.mask:
            return x
        mask, region = (max(1, round(px * x.shape[-1] / 32)) for px in (self.params.mask, self.params.mask_region))
        return centre_mask(x, mask, region)  # the params are in pixels at 32 px

    def test_metrics(self, ctx: FitContext, images: torch.Tensor, classes: torch.Tensor) -> dict[str, float]:
        """Classification accuracy on the test images of the normal classes."""
        known = torch.isin(classes, self.classes.cpu())
        logits = ctx.forward_batched(self._logits, images[known])
        predicted = self.classes[logits.argmax(dim=1)].cpu()
        return {"test_accuracy": (predicted == classes[known]).float().mean().item()}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2C): the class logits of x, then those of ODIN's perturbed x divided by T."""
        p = self.params
        with full_precision(x.device):  # ODIN's step is below bf16's and TF32's resolution
            perturbed = odin_inputs(self._logits, x, p.temperature, p.epsilon, self.std)
            return torch.cat([self._logits(x).float(), self._logits(perturbed).float() / p.temperature], dim=1)

    def _anomaly(self, features: torch.Tensor, scorer: str) -> torch.Tensor:
        plain, scaled = features.chunk(2, dim=1)
        return -msp(plain if scorer == "msp" else scaled)

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        return self._anomaly(features, self.params.scorer)

    def variant_names(self) -> list[str]:
        return [s for s in SCORERS if s != self.params.scorer]

    def score_variants(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: self._anomaly(features, name) for name in self.variant_names()}

"""One-class SVM with an RBF kernel (Schoelkopf et al. 2000) on raw pixels or on frozen pretrained
features: the classical baseline of paper 004 (RAW-OC-SVM: 92.8 mean AUROC on Fashion-MNIST).

Paper 004 picks nu in {0.1, ..., 0.9} and gamma in {2^-7, ..., 2^2} by test AUROC, "in hindsight".
Here ``selection`` says how (nu, gamma) is chosen, and the row records it:

- ``fixed``: ``nu`` and ``gamma`` as configured (gamma None: scikit-learn's 'scale', 1 / (D Var x)),
  a rule that sees no anomaly;
- ``oe_validation``: the grid point with the best AUROC of held-out training normals against OE
  images, refitted on all normals; no test image is seen;
- ``hindsight``: the main score is ``fixed``'s, and every grid point is scored as well, reported as
  ``<split>_auroc_hindsight_nu<nu>_gamma<gamma>``: the papers' number is the best of the test ones,
  chosen on the test set, and must be labelled so wherever it is shown.

Raw pixels are scaled to [-1, 1] as in paper 004, with one channel for grey images (all channels of
the normalised input are copies of it). Nothing trains: the features are fixed, the SVMs are fitted
once. Each SVM is the ``ocsvm`` scorer (``adcore.scoring.ocsvm``, the one the layer probe fits), and
``nu`` and ``gamma`` are its parameters, declared there once.
"""
from __future__ import annotations

import itertools
import logging
from typing import Any, Literal

import torch
from pydantic import Field

from adcore.context import FitContext
from adcore.methods.base import METHODS, FrozenFeatureDetector, NotFittedError
from adcore.metrics import auroc
from adcore.models import Backbone
from adcore.scoring.ocsvm import OCSVMScorer, OCSVMScorerParams

log = logging.getLogger(__name__)

PAPER_NU = [round(0.1 * i, 1) for i in range(1, 10)]
PAPER_GAMMA = [2.0**e for e in range(-7, 3)]


class OCSVMParams(OCSVMScorerParams):
    """The scorer's ``nu`` and ``gamma``, the features it is fitted to and how the two are chosen."""

    features: Literal["raw", "pretrained"] = Field(
        "raw", description="raw: pixels in [-1, 1]; pretrained: the frozen backbone's pooled features")
    selection: Literal["fixed", "oe_validation", "hindsight"] = Field(
        "fixed", description="how nu and gamma are chosen: fixed (as configured), oe_validation (no-peek: "
        "held-out normals vs OE images) or hindsight (every grid point scored on the test set, as the papers chose)")
    nu_grid: list[float] = Field(default_factory=lambda: list(PAPER_NU), description="nu values searched (paper 004's)")
    gamma_grid: list[float] = Field(default_factory=lambda: list(PAPER_GAMMA),
                                    description="gamma values searched (paper 004's)")
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="oe_validation: share of the normals held out")


def _svm(nu: float, gamma: float | None) -> OCSVMScorer:
    return OCSVMScorer(OCSVMScorerParams(nu=nu, gamma=gamma))


def grid_name(nu: float, gamma: float) -> str:
    return f"hindsight_nu{nu:g}_gamma{gamma:g}"


@METHODS.register("ocsvm")
class OCSVM(FrozenFeatureDetector):
    Params = OCSVMParams
    needs_images = True

    def __init__(self, backbone: Backbone, params: OCSVMParams) -> None:
        super().__init__(backbone, params)
        self.register_buffer("mean", torch.tensor(backbone.input_mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(backbone.input_std).view(1, -1, 1, 1))
        self.channels = 3
        self.svms: dict[str, OCSVMScorer] = {}  # "main" and, in hindsight, one per grid point
        self.train_features: torch.Tensor | None = None  # (N, D), what the SVMs were fitted on
        self.chosen: tuple[float, float | None] | None = None  # the main SVM's (nu, gamma)

    def setup(self, ctx: FitContext) -> None:
        self.channels = ctx.normal.shape[1]  # 1 for grey sources, which the transform repeats to 3

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.params.features == "pretrained":
            return self.backbone.forward_features(x).float()
        pixels = (x * self.std + self.mean)[:, : self.channels]
        return (2.0 * pixels - 1.0).flatten(1).float()

    def fit(self, features: torch.Tensor, ctx: FitContext) -> None:
        p = self.params
        train = features.cpu()
        nu, gamma = p.nu, p.gamma
        if p.selection == "oe_validation":
            nu, gamma = self._select_on_oe(train, ctx.forward_batched(self.embed, ctx.oe).cpu())
        self._fit_svms(train, nu, gamma)

    def _fit_svms(self, train: torch.Tensor, nu: float, gamma: float | None) -> None:
        """The main SVM at (nu, gamma) and, in hindsight, one per grid point; libsvm's fit is deterministic."""
        p = self.params
        self.train_features, self.chosen = train, (nu, gamma)
        self.svms = {"main": _svm(nu, gamma).fit(train)}
        if p.selection == "hindsight":
            grid = itertools.product(p.nu_grid, p.gamma_grid)
            self.svms.update({grid_name(n, g): _svm(n, g).fit(train) for n, g in grid})

    def fitted_state(self) -> dict[str, Any]:
        """The SVMs' training features and chosen (nu, gamma): refitting on them gives the same SVMs."""
        if self.train_features is None or self.chosen is None:
            raise NotFittedError("ocsvm: not fitted; prepare_scoring() fits it on the training features")
        return {"channels": self.channels, "features": self.train_features,
                "nu": self.chosen[0], "gamma": self.chosen[1]}

    def restore(self, state: dict[str, Any], fitted: dict[str, Any]) -> None:
        super().restore(state, fitted)
        self.channels = fitted["channels"]
        self._fit_svms(fitted["features"].cpu(), fitted["nu"], fitted["gamma"])

    def _select_on_oe(self, train: torch.Tensor, oe: torch.Tensor) -> tuple[float, float]:
        """The grid point whose SVM, fitted on most normals, best separates the rest from OE images."""
        order = torch.randperm(len(train))
        held = max(1, int(len(train) * self.params.val_fraction))
        fit, val = train[order[held:]], torch.cat([train[order[:held]], oe])
        labels = torch.cat([torch.zeros(held), torch.ones(len(oe))])  # 1 = anomaly
        best = max(itertools.product(self.params.nu_grid, self.params.gamma_grid),
                   key=lambda point: auroc(labels, _svm(*point).fit(fit).score(val)))
        log.info("ocsvm: oe_validation chose nu=%g gamma=%g", *best)
        return best

    def _anomaly(self, features: torch.Tensor, which: str) -> torch.Tensor:
        if which not in self.svms:
            raise NotFittedError("ocsvm: not fitted; prepare_scoring() fits it on the training features")
        return self.svms[which].score(features)

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        return self._anomaly(features, "main")

    def variant_names(self) -> list[str]:
        if self.params.selection != "hindsight":
            return []
        return [grid_name(n, g) for n, g in itertools.product(self.params.nu_grid, self.params.gamma_grid)]

    def score_variants(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: self._anomaly(features, name) for name in self.variant_names()}

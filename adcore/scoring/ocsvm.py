"""One-class SVM with an RBF kernel (Schoelkopf et al. 2000) as a scorer on features: paper 000's
Table 1 fits "the exact same OC-SVM" to the features of each LeNet layer (``adcore.probe``). Its
hyperparameters are fixed, never chosen on anomalies: nu = 0.1 and gamma = scikit-learn's 'scale',
1 / (D Var x), which follows each layer's width and spread. The ``ocsvm`` method (paper 004's
baseline, ``adcore.methods.ocsvm``) fits this same scorer and takes these same parameters."""
from __future__ import annotations

import torch
from pydantic import Field
from sklearn.svm import OneClassSVM

from adcore.params import ComponentParams, hparam
from adcore.scoring.base import SCORERS, Scorer


class OCSVMScorerParams(ComponentParams):
    nu: float = hparam(0.1, "upper bound on the fraction of training outliers", low=0.01, high=0.99)
    gamma: float | None = Field(None, gt=0.0, description="RBF width; None: scikit-learn's 'scale', 1 / (D Var x)")


@SCORERS.register("ocsvm")
class OCSVMScorer(Scorer):
    Params = OCSVMScorerParams

    def _fit(self, features: torch.Tensor) -> None:
        gamma = "scale" if self.params.gamma is None else self.params.gamma
        self.svm = OneClassSVM(kernel="rbf", nu=self.params.nu, gamma=gamma).fit(features.cpu().double().numpy())

    def _score(self, features: torch.Tensor) -> torch.Tensor:
        inside = self.svm.decision_function(features.cpu().double().numpy())  # > 0 inside: normal
        return -torch.from_numpy(inside).float().to(features.device)

"""Named config overlays with the label tables show: the seven arms of paper 000's Table 4, the
methods' usual names and the baselines of papers 001-004.

Each entry is one ``add_preset(name, label, config)`` line in one table; a duplicate name is an error.
An arm switches on and off exactly the components Table 4 names, on the same backbone, data and
budget; everything else comes from the trial config it is applied to.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from adcore.registry import Registry


@dataclass(frozen=True)
class Preset:
    name: str
    label: str  # what tables and figures call it
    config: dict[str, Any]  # a trial config overlay


PRESETS: Registry[Preset] = Registry("preset")


def preset(name: str) -> dict[str, Any]:
    """A copy of the named preset's config overlay; unknown names list the valid ones."""
    return copy.deepcopy(PRESETS.get(name).config)


def add_preset(name: str, label: str, config: dict[str, Any]) -> None:
    PRESETS.register(name)(Preset(name, label, config))


_PRETRAINED = {"pretrained": True, "adapters": False}
_OE = {"name": "oe_classifier"}
_NO_REG = {"name": "none"}
_L2SP = {"name": "l2sp", "alpha": 1e-2}

# --- paper 000, Table 4 ---------------------------------------------------------------------------
add_preset("a1", "eq. (1), random init",  # eq. (1) from random initialisation, no regularizer
       {"model": {"pretrained": False, "adapters": False}, "method": _OE, "regularizer": _NO_REG})
add_preset("a2", "eq. (1), pretrained",  # eq. (1) from the pretrained theta_0, no regularizer
       {"model": _PRETRAINED, "method": _OE, "regularizer": _NO_REG})
add_preset("a3", "HSC + L2",  # HSC loss with the L2 pull toward theta_0 that ADIB uses
       {"model": _PRETRAINED, "method": {"name": "hsc"}, "regularizer": _L2SP})
add_preset("a4", "DOC",  # compactness + descriptiveness, pretrained, no regularizer
       {"model": _PRETRAINED, "method": {"name": "doc"}, "regularizer": _NO_REG})
add_preset("a5", "eq. (2) + EWC",  # eq. (2) with EWC, Fisher multiplier 400
       {"model": _PRETRAINED, "method": _OE, "regularizer": {"name": "ewc", "lam": 400.0}})
add_preset("a6", "ADRA",  # eq. (1) with residual adapters on the frozen pretrained backbone
       {"model": {"pretrained": True, "adapters": True}, "method": _OE, "regularizer": _NO_REG})
add_preset("a7", "ADIB",  # eq. (2) with alpha * ||theta - theta_0||^2, alpha = 1e-2
       {"model": _PRETRAINED, "method": _OE, "regularizer": _L2SP})
add_preset("adra", "ADRA", preset("a6"))
add_preset("adib", "ADIB", preset("a7"))
add_preset("dsvdd", "DSVDD", {"model": _PRETRAINED, "method": {"name": "dsvdd"}, "regularizer": _NO_REG})
add_preset("sad", "Deep SAD", {"model": _PRETRAINED, "method": {"name": "sad"}, "regularizer": _NO_REG})
# Fig. 5: "SAD with pretrained weights, which corresponds to ADIB with alpha = 0" (eq. 2 without Omega). Not the
# Deep SAD of `sad` above (Ruff et al.'s compactness loss with OE): the name says which.
add_preset("adib_alpha0", "SAD (ADIB, alpha = 0)",
       {"model": _PRETRAINED, "method": _OE, "regularizer": {"name": "l2sp", "alpha": 0.0}})
# HSC with OE (Ruff et al. 2020a; Tables 5 and 6) from the same pretrained theta_0 as ADIB and ADRA but with no
# pull toward it, so that ADIB's or ADRA's gain over it is the transfer inductive bias
add_preset("hsc", "HSC (pretrained, no pull)", {"model": _PRETRAINED, "method": {"name": "hsc"}, "regularizer": _NO_REG})

# --- paper 001 (PANDA) ------------------------------------------------------------------------------
# App. D: SGD lr 1e-2, momentum 0.9, weight decay 5e-5, gradient-norm clip 1e-3, no lr schedule, no augmentation
# (the authors' code trains on the test-time transform, which also lets the frozen stages be computed once).
# Budgets (epochs, batch, images) stay with the study.
_PANDA_OPTIM = {"lr": 1e-2, "momentum": 0.9, "weight_decay": 5e-5, "grad_clip": 1e-3, "lr_milestones": []}
_PANDA_BASE = {"model": _PRETRAINED, "data": {"augment": False}, "optim": _PANDA_OPTIM}
_PANDA = {"name": "panda", "compare_scorers": ["kmeans", "center"]}
# compactness, layer3 + layer4 (last 2 stages) trained, kNN k = 2
add_preset("panda", "PANDA, early stopping", {**_PANDA_BASE, "method": _PANDA, "regularizer": _NO_REG})
# sample-wise early stopping over a checkpoint per epoch
add_preset("panda_ses", "PANDA-SES", {**_PANDA_BASE, "method": {**_PANDA, "ses": True}, "regularizer": _NO_REG})
# lambda/2 sum F (theta - theta*)^2 with lambda = 1e4, added to the loss before the gradient clip, as in the authors'
# code; lambda = 1e4 is set against the code's compactness loss (divided by the feature dimension): with the paper's
# undivided loss EWC would weigh D times less
add_preset("panda_ewc", "PANDA-EWC", {**_PANDA_BASE, "method": {**_PANDA, "loss_form": "code"},
                                  "regularizer": {"name": "ewc", "lam": 1e4, "update": "gradient"}})
# linear head normal vs OE, last stage finetuned, lr 0.1, no weight decay
add_preset("panda_oe", "PANDA-OE", {**_PANDA_BASE, "method": {"name": "panda_oe"}, "regularizer": _NO_REG,
                                "optim": {**_PANDA_OPTIM, "lr": 0.1, "weight_decay": 0.0}})
# paper 001's "Unadapted": kNN (k = 2) on frozen ImageNet features
add_preset("unadapted_knn", "unadapted kNN", {"model": _PRETRAINED, "data": {"augment": False}, "regularizer": _NO_REG,
                                          "method": {"name": "unadapted", "compare_scorers": ["kmeans", "center"]}})
# the Mahalanobis distance to the training features' Gaussian (Lee et al. 2018, one class), on frozen ImageNet features
add_preset("mahalanobis", "Mahalanobis, frozen features", {"model": _PRETRAINED, "data": {"augment": False},
                                                      "method": {"name": "mahalanobis"}, "regularizer": _NO_REG})

# --- papers 002, 003, 004 and classical baselines ------------------------------------------------
_ADAM = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "lr_milestones": []}  # Adam's defaults
# GEOM (paper 004): WRN-10-4 from scratch, Adam with default settings, no augmentation; 3 epochs over S_T and batch
# 128 are the study's budget. The paper names no regularizer; the authors' Keras WRN puts L2 5e-4 (gradient-wise) on
# every weight, which Adam's weight_decay reproduces. With it GEOM reached 93.6 mean AUROC on Fashion-MNIST here
# (paper: 93.5), without it 92.4: optim.weight_decay=0 drops it.
add_preset("geom", "GEOM", {"model": {"backbone": "wrn_10_4", "pretrained": False, "adapters": False},
                        "data": {"augment": False}, "method": {"name": "geom"}, "regularizer": _NO_REG,
                        "optim": {**_ADAM, "weight_decay": 5e-4}})

# Paper 002: a classifier over the normal classes (leave-one-out), from scratch, SGD lr 0.1 x0.2 at 30%, 60% and 80%
# of training (epochs 60, 120, 160 of 200), weight decay 5e-4 (Zagoruyko's WRN settings), crop + flip. The paper's
# network is WRN-28-10 (model.backbone=wrn_28_10); WRN-10-4 keeps the arms affordable on a CPU.
# cls_*: classification only (lambda = 0); rot_*: rotation head, lambda = 0.5 (CIFAR-10's).
_ROTATION_BASE = {"model": {"backbone": "wrn_10_4", "pretrained": False, "adapters": False},
                  "data": {"augment": True}, "regularizer": _NO_REG,
                  "optim": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
                            "lr_milestones": [0.3, 0.6, 0.8], "lr_gamma": 0.2}}
for _kind, _lam, _words in (("cls", 0.0, "classification only"), ("rot", 0.5, "rotation-augmented")):
    for _scorer in ("msp", "odin"):
        add_preset(f"{_kind}_{_scorer}", f"{_words}, {_scorer.upper()}",
               {**_ROTATION_BASE, "method": {"name": "rotation_classifier", "lam": _lam, "scorer": _scorer}})
# Table 7: the classification-only classifier with a random 16 x 16 mask inside the central 21 x 21 square of each
# training image (at 32 px)
add_preset("cls_msp_masked", "classification only, centre-masked, MSP",
           {**_ROTATION_BASE, "method": {"name": "rotation_classifier", "lam": 0.0, "scorer": "msp", "mask": 16}})

# Paper 003 and its CSI base: from scratch (CSI's network is a CIFAR ResNet-18; resnet26_cifar is the nearest here),
# Adam lr 2e-4, betas (0.9, 0.999); the SimCLR augmentations are the method's own.
_CONTRASTIVE_BASE = {"model": {"backbone": "resnet26_cifar", "pretrained": False, "adapters": False},
                     "data": {"augment": False}, "regularizer": _NO_REG, "optim": {**_ADAM, "lr": 2e-4}}
add_preset("csi", "CSI", {**_CONTRASTIVE_BASE, "method": {"name": "csi"}})
add_preset("csi_gen", "CSI + generator (paper 003)", {**_CONTRASTIVE_BASE, "method": {"name": "csi_gen"}})
# Deep SVDD on its bias-free LeNet (Ruff et al.: Adam lr 1e-4, weight decay 5e-7, lr x0.1 after a third of training;
# no autoencoder pretraining here)
add_preset("dsvdd_lenet", "DSVDD (bias-free LeNet)",
       {"model": {"backbone": "lenet_bias_free", "pretrained": False, "adapters": False}, "data": {"augment": False},
        "method": {"name": "dsvdd", "rep_dim": 128}, "regularizer": _NO_REG,
        "optim": {"optimizer": "adam", "lr": 1e-4, "weight_decay": 5e-7, "lr_milestones": [1 / 3]}})
# Paper 000, Table 1: three ways of training a LeNet whose layers are then probed by an OC-SVM (the study sets the
# backbone and the probe): (i) self-supervised by geometric transformations (rotation prediction), (ii) the OE
# classifier of eq. (1) from random init, (iii) the same from weights pretrained on another classification task
# (MNIST-5k digits, made on first use; paper: CIFAR-100)
add_preset("probe_selfsup", "(i) self-supervised: rotations",
           {"model": {"pretrained": False, "adapters": False}, "method": {"name": "rotation_prediction"},
            "regularizer": _NO_REG})
add_preset("probe_oe", "(ii) OE classifier, random init", {"model": {"pretrained": False, "adapters": False},
                                                          "method": _OE, "regularizer": _NO_REG})
add_preset("probe_transfer", "(iii) pretrained on digits, then OE", {"model": _PRETRAINED, "method": _OE,
                                                                     "regularizer": _NO_REG})
# OC-SVM on raw pixels or frozen ImageNet features; no-peek (nu, gamma) or the papers' hindsight choice
_OCSVM_BASE = {"data": {"augment": False}, "regularizer": _NO_REG, "model": {"adapters": False}}
for _features, _model in (("raw", {"adapters": False}), ("pretrained", _PRETRAINED)):
    for _selection, _words in (("oe_validation", "no-peek"), ("hindsight", "hindsight")):
        add_preset(f"ocsvm_{_features}" + ("_hindsight" if _selection == "hindsight" else ""),
               f"OC-SVM {_features}, {_words}",
               {**_OCSVM_BASE, "model": _model, "method": {"name": "ocsvm", "features": _features,
                                                            "selection": _selection}})

"""Every method of issue 7 end to end through run_trial on real Fashion-MNIST at a tiny budget, with
the project's score sign: trained on trousers (class 1), each ranks the other classes as anomalies
(test AUROC well above 0.5). The classifiers of paper 002 run on leave-one-out, where a tiny budget
learns too little to rank; their sign is checked on the score itself."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from adcore import build_config, run_trial
from adcore.methods import build_method
from adcore.models import create_backbone
from adcore.presets import preset
from adcore.train import CHECKPOINT_FILE

ONE_VS_REST = {"data": {"benchmark": "one_vs_rest", "fold": 1, "n_normal": 32, "n_val": 8, "n_test": 48},
               "optim": {"epochs": 1}}
SMALL_NET = {"model": {"backbone": "lenet_bias_free"}}  # GEOM's and CSI's mechanics on a cheap network

# preset, extra config, the variant scores the row must carry
ONE_CLASS = [
    ("geom", {**SMALL_NET, "data": {"n_normal": 16}}, ["simplified"]),
    ("csi", SMALL_NET, ["paper003"]),
    ("csi_gen", {**SMALL_NET, "method": {"name": "csi_gen", "every": 2}}, ["paper003"]),
    ("dsvdd_lenet", {}, []),
    ("ocsvm_raw", {}, []),
    ("ocsvm_pretrained", {}, []),
    ("unadapted_knn", {}, ["kmeans", "center"]),  # kNN-AD: PANDA's unadapted baseline, reused
]


def _config(tiny_budget: dict, name: str, *layers: dict):
    return build_config(tiny_budget, ONE_VS_REST, preset(name), *layers)


@pytest.mark.parametrize("name, extra, variants", ONE_CLASS, ids=[case[0] for case in ONE_CLASS])
def test_one_class_method_runs_and_scores_anomalies_higher(tiny_budget, name, extra, variants) -> None:
    row = run_trial(_config(tiny_budget, name, extra))
    assert row["status"] == "ok" and row["method.name"] == preset(name)["method"]["name"]
    assert all(math.isfinite(row[f"test_auroc_{v}"]) for v in variants)
    assert row["test_auroc"] > 0.7, f"{name} does not rank anomalies above normals: AUROC {row['test_auroc']}"


def test_ocsvm_hindsight_reports_every_grid_point_beside_the_fixed_choice(tiny_budget) -> None:
    grid = {"method": {"name": "ocsvm", "selection": "hindsight", "nu_grid": [0.1, 0.5], "gamma_grid": [0.01, 1.0]}}
    row = run_trial(_config(tiny_budget, "ocsvm_raw_hindsight", grid))
    names = [f"test_auroc_hindsight_nu{nu:g}_gamma{gamma:g}" for nu in (0.1, 0.5) for gamma in (0.01, 1.0)]
    assert row["method.selection"] == "hindsight" and all(0 <= row[n] <= 1 for n in names)
    assert row["test_auroc_hindsight_best"] == max(row[n] for n in names)  # labelled, chosen on the test set


@pytest.mark.parametrize("name", ["cls_msp", "rot_odin"])
def test_rotation_classifier_runs_on_leave_one_out(tiny_budget, name) -> None:
    row = run_trial(build_config(tiny_budget, preset(name), {"model": {"backbone": "lenet_bias_free"},
                                                            "optim": {"epochs": 1}}))
    other = "odin" if name.endswith("msp") else "msp"
    assert row["data.benchmark"] == "leave_one_out" and math.isfinite(row["test_ap"])
    assert math.isfinite(row[f"test_auroc_{other}"])


def test_rotation_classifier_scores_unconfident_predictions_as_anomalies() -> None:
    params = build_config(preset("rot_odin")).method
    method = build_method(params, create_backbone("lenet_bias_free", pretrained=False))
    confident = torch.tensor([[9.0, 0.0, 0.0, 9.0, 0.0, 0.0]])  # (plain logits, ODIN's logits / T)
    flat = torch.zeros(1, 6)
    for scorer in ("msp", "odin"):
        assert method._anomaly(flat, scorer) > method._anomaly(confident, scorer)


def test_rotation_classifier_alternates_class_and_rotation_steps(tiny_budget) -> None:
    cfg = build_config(tiny_budget, preset("rot_msp"), {"model": {"backbone": "lenet_bias_free"}})
    from adcore.trial import prepare_trial

    parts = prepare_trial(cfg)
    assert parts.method.epoch_steps(4) == 8  # one class update and one rotation update per minibatch
    assert parts.method.classifier.out_features == 9  # leave-one-out: nine normal classes


def test_interrupted_csi_gen_resumes_to_the_same_metrics(tiny_budget, tmp_path: Path,
                                                        interrupt_after_first_epoch) -> None:
    """The autoencoder's own optimisers (and the batch counter) are part of the saved state: the
    generator trains in both epochs, the second time on the first time's Adam moments."""
    cfg = _config(tiny_budget, "csi_gen", SMALL_NET,
                  {"method": {"name": "csi_gen", "every": 2}, "optim": {"epochs": 2}})
    uninterrupted = run_trial(cfg)
    interrupt_after_first_epoch(cfg, tmp_path)
    assert (tmp_path / CHECKPOINT_FILE).exists()
    resumed = run_trial(cfg, checkpoint_dir=tmp_path)
    for key in ("test_auroc", "val_auroc", "train_loss"):
        assert resumed[key] == pytest.approx(uninterrupted[key], abs=1e-6), key

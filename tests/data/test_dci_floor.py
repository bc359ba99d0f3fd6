"""DCI at the interventions study's own settings (points drawn, feature width, reduced code): a random code
scores near 0, so the paper's 0.068 and 0.103 can be told from the estimate's floor; 500 points on all
1,280 feature dimensions, the study's old settings, scored a random code 0.28. A factor trial reports the
random code's scores beside its own."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from adcore import build_config
from adcore.data.protocols.factors import draw
from adcore.disentanglement import dci, random_code_dci
from adcore.models.base import create_backbone

STUDY = Path(__file__).resolve().parents[2] / "studies" / "interventions.yaml"


def study_config() -> Any:
    """The first grid point of studies/interventions.yaml at its embedded default."""
    study = yaml.safe_load(STUDY.read_text())
    first = {"data": {"factors": {"intervention": study["grid"]["data.factors.intervention"][0]}}}
    return build_config(study["base"], first)


def test_a_random_code_scores_below_0_05_at_the_interventions_studys_settings() -> None:
    cfg = study_config()
    factors = draw(cfg.data, seed=0).dci  # (dci_samples, 7), as a trial draws them
    width = create_backbone(cfg.model.backbone, pretrained=False).num_features  # the features DCI scores
    assert len(factors) == cfg.data.factors.dci_samples >= 1000 and width == 1280
    scores = random_code_dci((len(factors), width), factors, code_dims=cfg.data.factors.dci_code_dims)
    assert scores["disentanglement"] < 0.05 and scores["completeness"] < 0.05, scores


def test_the_reduced_code_keeps_the_most_variable_dimensions_unrotated() -> None:
    """A code whose first dimensions each carry one factor, among many weaker noise dimensions: kept as
    dimensions, it stays disentangled; a random code of the same shape stays near 0."""
    rng = np.random.default_rng(1)
    factors = np.stack([rng.integers(0, 6, 900), rng.integers(0, 6, 900), rng.integers(0, 2, 900)], axis=1)
    code = np.hstack([factors * 10.0, rng.normal(size=(900, 200))])  # (900, 203): 3 loud factor dimensions
    assert dci(code, factors, code_dims=3)["disentanglement"] > 0.99
    assert random_code_dci(code.shape, factors, code_dims=3)["disentanglement"] < 0.05

"""AP and AUROC: anomalies positive, higher = more anomalous, AP step-wise as scikit-learn's."""
import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from adcore.metrics import auroc, average_precision, detection_metrics


@pytest.mark.parametrize("seed", range(5))
def test_equal_sklearn_on_random_scores_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = rng.integers(0, 6, 300).astype(float)  # six distinct values: many ties
    assert average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_ap_is_stepwise_not_trapezoid() -> None:
    labels = np.array([1, 0, 1, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    # hand computation: precision at each recall step 1/1, 2/3, 3/6 -> AP = (1 + 2/3 + 1/2) / 3
    assert average_precision(labels, scores) == pytest.approx((1 + 2 / 3 + 1 / 2) / 3)
    precision, recall, _ = precision_recall_curve(labels, scores)
    assert average_precision(labels, scores) != pytest.approx(auc(recall, precision))


def test_sign_convention_higher_is_more_anomalous() -> None:
    labels = np.array([0, 0, 1, 1])
    assert auroc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auroc(labels, -np.array([0.1, 0.2, 0.8, 0.9])) == 0.0
    assert set(detection_metrics(labels, np.array([0.1, 0.2, 0.8, 0.9]), "val")) == {"val_ap", "val_auroc"}


def test_bad_input_is_an_error() -> None:
    with pytest.raises(ValueError, match="NaN"):
        auroc(np.array([0, 1]), np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="both 0"):
        average_precision(np.array([1, 1]), np.array([0.1, 0.2]))

"""DCI disentanglement (Eastwood & Williams, 2018) of a representation against ground-truth factors.

Paper 000 §5.1 reports the DCI disentanglement of the learned representations on MPI3D: 0.068 for
DSVDD, 0.103 for SAD (OE "almost doubles" it). For each factor a classifier predicts the factor's
value from the code; trained on a train split, its feature importances make one column of the
importance matrix R (D code dimensions x F factors). Then, as disentanglement_lib computes them:

- disentanglement: per code dimension i, 1 - H_F(R_i. / sum_j R_ij) (entropy in base F over the
  factors it predicts), averaged with weights sum_j R_ij / sum R;
- completeness: per factor j, 1 - H_D(R_.j / sum_i R_ij) (base D over the dimensions that predict
  it), averaged with weights sum_i R_ij / sum R;
- informativeness: the classifiers' mean accuracy on the held-out split.

Factors that take a single value in the data are left out (nothing predicts them; F counts the
others). The classifier is a seeded forest of 20 extremely randomised trees (scikit-learn's
ExtraTreesClassifier, impurity importances; a forest is what Eastwood & Williams used), each split
choosing among all code dimensions: restricting the choice to sqrt(D) dimensions, as a random
forest does by default, moves importance to dimensions that carry nothing and scored a perfectly
disentangled 7-dimensional code 0.56 instead of 1. Measured on one core: the tests' codes (7
factors, 2,000 train points) take under a second in all; one 40-valued factor of a 512-dimensional
random code at 10,000 train points about 100 s (the worst case: trees grown to the leaves).
disentanglement_lib fits scikit-learn's gradient-boosted trees (``predictor="gradient_boosting"``),
one tree per class per stage (4,000 trees for a 40-valued factor): 30 s for the tests' codes, far
longer for wide codes (not measured). No PyPI package fits: disentanglement-lib 1.5 pins
tensorflow-probability 0.7 and TensorFlow 1.14, disent 0.8 brings Lightning and h5py.

A wide code has a floor. Each forest spreads a few thousand splits over the code's dimensions, so with
500 points and 1,280 dimensions (a trial's pooled EfficientNet-Lite0 features) every dimension's row of
R is a handful of noisy importances, and a random Gaussian code scores disentanglement 0.28 (measured,
seed 0): above paper 000's 0.068 and 0.103. ``code_dims`` keeps the code's most variable dimensions
(variance over the train split), the units that carry most of the distances a method scores with,
before the forests see it. Dimensions are kept as they are, not rotated: DCI asks whether single
dimensions carry single factors, and principal components mix the dimensions (on a code whose
dimensions each carry one factor, 10 principal components scored lower than those of a code mixing
every factor into every dimension). A random code of 64 dimensions scores 0.012 on 500 points, 0.007 on
1,000 and 0.003 on 2,000 (measured). ``random_code_dci`` computes that floor the same way for any
code's shape, to print beside the code's own score.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.stats import entropy
from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier
from sklearn.model_selection import train_test_split

Predictor = Literal["extra_trees", "gradient_boosting"]


def _classifier(predictor: Predictor, seed: int) -> ExtraTreesClassifier | GradientBoostingClassifier:
    if predictor == "extra_trees":
        return ExtraTreesClassifier(n_estimators=20, max_features=None, min_samples_leaf=2, random_state=seed, n_jobs=1)
    if predictor == "gradient_boosting":
        return GradientBoostingClassifier(random_state=seed)
    raise ValueError(f"unknown DCI predictor {predictor!r}; valid predictors: extra_trees, gradient_boosting")


def importance_matrix(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                      factors_test: np.ndarray, predictor: Predictor = "extra_trees",
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """R (D, F) of the per-factor classifiers' feature importances, and their test accuracies (F,)."""
    importance = np.zeros((codes_train.shape[1], factors_train.shape[1]))
    accuracy = np.zeros(factors_train.shape[1])
    for j in range(factors_train.shape[1]):
        model = _classifier(predictor, seed).fit(codes_train, factors_train[:, j])
        importance[:, j] = np.abs(model.feature_importances_)
        accuracy[j] = np.mean(model.predict(codes_test) == factors_test[:, j])
    return importance, accuracy


def _normalised_entropy(weights: np.ndarray) -> np.ndarray:
    """Entropy of each column of weights (K, M) normalised to a distribution, in base K (0 if K = 1)."""
    if len(weights) == 1:
        return np.zeros(weights.shape[1])
    return entropy(weights + 1e-11, base=len(weights))


def disentanglement_score(importance: np.ndarray) -> float:
    """Weighted mean over code dimensions of 1 - H_F(row); importance (D, F)."""
    per_code = 1.0 - _normalised_entropy(importance.T)
    weights = importance.sum(axis=1) if importance.sum() > 0 else np.ones(len(importance))
    return float(np.sum(per_code * weights / weights.sum()))


def completeness_score(importance: np.ndarray) -> float:
    """Weighted mean over factors of 1 - H_D(column); importance (D, F)."""
    per_factor = 1.0 - _normalised_entropy(importance)
    weights = importance.sum(axis=0) if importance.sum() > 0 else np.ones(importance.shape[1])
    return float(np.sum(per_factor * weights / weights.sum()))


def dci(codes: np.ndarray, factors: np.ndarray, *, test_fraction: float = 1 / 3, seed: int = 0,
        predictor: Predictor = "extra_trees", code_dims: int | None = None) -> dict[str, float]:
    """DCI of codes (N, D) float against factors (N, F) int, from one seeded train/test split
    (disentanglement_lib: 10,000 train and 5,000 test points, hence a third held out). With ``code_dims``
    < D only the code's ``code_dims`` most variable dimensions on the train split are kept.

    Returns {"disentanglement", "completeness", "informativeness"}, each in [0, 1].
    """
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(f"dci needs codes (N, D) and factors (N, F) with the same N, got {codes.shape} and {factors.shape}")
    varying = [j for j in range(factors.shape[1]) if len(np.unique(factors[:, j])) > 1]
    if not varying:
        raise ValueError("dci needs at least one factor that takes more than one value in the data")
    x_train, x_test, y_train, y_test = train_test_split(codes, factors[:, varying], test_size=test_fraction,
                                                        random_state=seed)
    if code_dims is not None and code_dims < codes.shape[1]:
        kept = np.argsort(-x_train.var(axis=0), kind="stable")[:code_dims]
        x_train, x_test = x_train[:, kept], x_test[:, kept]  # (N, code_dims)
    importance, accuracy = importance_matrix(x_train, y_train, x_test, y_test, predictor, seed)
    return {
        "disentanglement": disentanglement_score(importance),
        "completeness": completeness_score(importance),
        "informativeness": float(accuracy.mean()),
    }


def random_code_dci(shape: tuple[int, int], factors: np.ndarray, *, test_fraction: float = 1 / 3, seed: int = 0,
                    predictor: Predictor = "extra_trees", code_dims: int | None = None) -> dict[str, float]:
    """DCI of a seeded standard-normal code of ``shape`` (N, D) against ``factors``, computed as ``dci``
    computes it with the same settings: the floor a code of that shape reaches by chance."""
    code = np.random.default_rng(seed).standard_normal(shape)  # (N, D)
    return dci(code, factors, test_fraction=test_fraction, seed=seed, predictor=predictor, code_dims=code_dims)

"""Scorers on cached features (kNN, k-means, distance to centre, OC-SVM) and PANDA's sample-wise early
stopping; each scorer module registers one scorer."""
from adcore.scoring import center, kmeans, knn, ocsvm  # noqa: F401  (registration)
from adcore.scoring.base import SCORERS, Scorer, ScorerNotFittedError, build_scorer, scorer_params
from adcore.scoring.ses import sample_wise_max, typical_score

__all__ = ["SCORERS", "Scorer", "ScorerNotFittedError", "build_scorer", "sample_wise_max", "scorer_params",
           "typical_score"]

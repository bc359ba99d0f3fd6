"""Registered AD methods; each module registers one."""
from adcore.methods import doc, dsvdd, hsc, oe_classifier, sad  # noqa: F401  (registration)
from adcore.methods import mahalanobis, panda, panda_oe, unadapted  # noqa: F401  (registration)
from adcore.methods import csi, csi_gen, geom, ocsvm, rotation_classifier, rotation_prediction  # noqa: F401  (registration)
from adcore.methods.base import METHODS, Detector, FrozenFeatureDetector, NotFittedError, TrainBatch, build_method

__all__ = ["METHODS", "Detector", "FrozenFeatureDetector", "NotFittedError", "TrainBatch", "build_method"]

"""AD losses and the regularizers that pull a transferred model toward its pretrained weights."""
from adcore.objectives.losses import LOSSES
from adcore.objectives.regularizers import REGULARIZERS, Regularizer, build_regularizer

__all__ = ["LOSSES", "REGULARIZERS", "Regularizer", "build_regularizer"]

"""AD losses and the regularizers that pull a transferred model toward its pretrained weights."""
from adcore.objectives.regularizers import REGULARIZERS, Regularizer, build_regularizer

__all__ = ["REGULARIZERS", "Regularizer", "build_regularizer"]

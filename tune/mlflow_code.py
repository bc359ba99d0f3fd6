"""The code of a kept detector's MLflow model (MLflow's "models from code"): MLflow copies this file into
the model and runs it when the model is loaded, so loading one unpickles nothing."""
import mlflow.models

from tune.mlflow_model import KeptDetector

mlflow.models.set_model(KeptDetector())

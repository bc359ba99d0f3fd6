"""A kept detector (``adcore.saved``) as an MLflow model: a pyfunc model whose artifact is the detector
folder, logged as a model of its trial's child run, and, for a search's best, a version of the
registered model ``<study>``.

Sending is idempotent, as the journal needs (``tune/tracking.py``): the logged model is found first by
its ``adstudy.model`` tag (``<run-id>/<trial_id>``) and its artifacts are sent only while it is not
READY; a registry version is created only if none of that model has the tag. The model is MLflow's "model
from code" (``tune/mlflow_code.py``), so loading it unpickles nothing. ``adstudy score`` reads a
model back from any of its URIs (``models:/<study>/<version>``, ``models:/<model-id>``,
``runs:/<run-id>/detector``); ``mlflow.pyfunc.load_model(uri).predict(images)`` scores uint8 images
(B, C, H, W) where adstudy is installed.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc

MODEL_TAG = "adstudy.model"
CODE = Path(__file__).with_name("mlflow_code.py")  # the model's code: no pickled object in the model
MODEL_NAME = "detector"  # the logged model's name: runs:/<run-id>/detector
ARTIFACT = "detector"  # the detector folder inside the MLflow model: <model>/artifacts/detector/


class KeptDetector(mlflow.pyfunc.PythonModel):
    """predict(images) -> anomaly scores (higher = more anomalous) of uint8 images (B, C, H, W)."""

    def load_context(self, context: Any) -> None:
        from adcore.saved import load_detector

        self.detector = load_detector(context.artifacts[ARTIFACT])

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201 - MLflow reads hints as a schema
        import numpy as np
        import torch

        images = torch.from_numpy(np.ascontiguousarray(np.asarray(model_input, dtype=np.uint8)))
        return self.detector.score(images).numpy()


def _requirements() -> list[str]:
    from adcore.saved import adcore_version

    version = adcore_version()
    return ["adstudy" if version == "checkout" else f"adstudy=={version}"]


def send_model(client: Any, run_id: str, record: dict[str, Any]) -> None:
    """Log ``record``'s detector folder as a model of ``run_id`` (and register it) unless MLflow has it."""
    from mlflow.entities import LoggedModelStatus

    experiment_id = client.get_run(run_id).info.experiment_id
    tags = {**record["tags"], MODEL_TAG: record["key"]}
    found = client.search_logged_models([experiment_id], filter_string=f"tags.`{MODEL_TAG}` = '{record['key']}'",
                                        max_results=1)
    model = found[0] if found else client.create_logged_model(experiment_id, name=MODEL_NAME, source_run_id=run_id,
                                                              tags=tags, params=record["config"])
    if model.status != LoggedModelStatus.READY:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / MODEL_NAME
            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per model in a study's output
            mlflow.pyfunc.save_model(local, python_model=str(CODE), artifacts={ARTIFACT: record["path"]},
                                     pip_requirements=_requirements())
            client.log_model_artifacts(model.model_id, str(local))
        model = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    if record.get("register"):
        _register(client, record["register"], model, run_id, {**tags, **record["config"]})


def _register(client: Any, name: str, model: Any, run_id: str, tags: dict[str, str]) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name, description="the best trained detector of each search run of study "
                                       f"{name}, by its validation metric (adstudy)")
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    if client.search_model_versions(f"name = '{name}' and tags.`{MODEL_TAG}` = '{tags[MODEL_TAG]}'"):
        return
    client.create_model_version(name, source=model.artifact_location, run_id=run_id, tags=tags)

"""The KubeRay manifests against KubeRay's CRD schemas (docker/kuberay/crds/, no Kubernetes cluster
here) through docker/kuberay/validate.py: every shipped manifest passes, and each kind of bad input
(an unknown field, a wrong type, a wrong image, a missing volume, no token, a study not in the image,
results off the shared volume, SQLite MLflow across pods) ends in one message naming it."""
from __future__ import annotations

import copy
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERAY = ROOT / "docker" / "kuberay"
MANIFESTS = sorted(KUBERAY.glob("*.yaml"))


def _load_validate() -> Any:
    spec = importlib.util.spec_from_file_location("kuberay_validate", KUBERAY / "validate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validate = _load_validate()


def _doc(kind: str) -> dict[str, Any]:
    docs = [d for path in MANIFESTS for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == kind]
    assert len(docs) == 1, kind
    return copy.deepcopy(docs[0])


def test_every_shipped_manifest_passes() -> None:
    kinds = {d["kind"] for path in MANIFESTS for d in yaml.safe_load_all(path.read_text()) if d}
    assert {"RayJob", "RayCluster"} <= kinds
    assert set(validate.schemas()) >= {("ray.io/v1", "RayJob"), ("ray.io/v1", "RayCluster")}
    done = subprocess.run([sys.executable, str(KUBERAY / "validate.py"), *map(str, MANIFESTS)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _head(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]


def _worker(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: path(doc).__setitem__(key, value)


def _entrypoint(text: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["spec"].__setitem__("entrypoint", text)


BAD_RAYJOBS = {  # what is changed in the shipped RayJob -> a fragment of the one message it must give
    "unknown field": (_set(lambda d: d["spec"], "shutdownAfterJobFinish", True),
                      "spec.shutdownAfterJobFinish: unknown field; did you mean 'shutdownAfterJobFinishes'?"),
    "unknown field deep": (_set(lambda d: _worker(d)["containers"][0], "imagee", "adstudy:cuda"),
                           "containers[0].imagee: unknown field; did you mean 'image'?"),
    "wrong type": (_set(lambda d: d["spec"]["rayClusterSpec"]["workerGroupSpecs"][0], "replicas", "two"),
                   "workerGroupSpecs[0].replicas: 'two' is not of type 'integer'"),
    "wrong image": (_set(lambda d: _worker(d)["containers"][0], "image", "rayproject/ray:2.60.0-gpu"),
                    "'rayproject/ray:2.60.0-gpu' is not the project's image"),
    "cpu image on gpus": (lambda d: [c.__setitem__("image", "reg.example/adstudy:cpu")
                                     for c in (_head(d)["containers"][0], _worker(d)["containers"][0])],
                          "is the CPU image but the group asks for nvidia.com/gpu"),
    "two images": (_set(lambda d: _worker(d)["containers"][0], "image", "adstudy:cuda-v2"),
                   "the Ray nodes run different images"),
    "missing volume": (lambda d: _worker(d)["volumes"].pop(0),
                       "mounts volume 'results', which the pod does not define"),
    "results not mounted": (lambda d: _head(d)["containers"][0]["volumeMounts"].pop(0),
                            "mounts no PersistentVolumeClaim at /app/results"),
    "no token": (lambda d: d["spec"]["rayClusterSpec"].pop("authOptions"), "authOptions.mode: must be token"),
    "other ray": (_set(lambda d: d["spec"]["rayClusterSpec"], "rayVersion", "2.9.3"), "is not the image's Ray"),
    "not adstudy run": (_entrypoint("python tune/run_study.py studies/ablation_table4.yaml --out /app/results"),
                        "spec.entrypoint: must be `adstudy run STUDY [OPTIONS]`"),
    "another adstudy command": (_entrypoint("adstudy check studies/ablation_table4.yaml"),
                                "spec.entrypoint: must be `adstudy run STUDY [OPTIONS]`"),
    "study not in the image": (_entrypoint("adstudy run studies/no_such_study.yaml --out /app/results"),
                               "study studies/no_such_study.yaml is not in the image"),
    "study on no volume": (_entrypoint("adstudy run /scratch/mine.yaml --out /app/results"),
                           "study /scratch/mine.yaml is neither in the image (/app) nor on a volume the head mounts"),
    "study not in the image's folder": (_entrypoint("adstudy run /app/studies/no_such_study.yaml --out /app/results"),
                                        "study /app/studies/no_such_study.yaml is not in the image"),
    "results in the container": (_entrypoint("adstudy run studies/ablation_table4.yaml"),
                                 "is not on the results volume: add --out /app/results"),
    "sqlite across pods": (lambda d: _head(d)["containers"][0].pop("env"), "give the tracking server"),
}


@pytest.mark.parametrize("case", BAD_RAYJOBS)
def test_a_bad_rayjob_gets_one_message_naming_the_problem(case: str) -> None:
    change, message = BAD_RAYJOBS[case]
    doc = _doc("RayJob")
    change(doc)
    problems = validate.problems(doc)
    assert len(problems) == 1 and message in problems[0], problems


@pytest.mark.parametrize("study", ["/data/studies/mine.yaml", "studies/ablation_table4.yaml"])
def test_a_study_on_a_mounted_volume_or_relative_to_the_image_passes(study: str) -> None:
    doc = _doc("RayJob")
    doc["spec"]["entrypoint"] = f"adstudy run {study} --out /app/results"
    assert validate.problems(doc) == []


def test_the_raycluster_is_checked_the_same_way(tmp_path: Path) -> None:
    doc = _doc("RayCluster")
    doc["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = "rayproject/ray:2.60.0"
    doc["spec"]["workerGroupSpecs"][0]["template"]["spec"]["volumes"].pop(0)
    path = tmp_path / "raycluster.yaml"
    path.write_text(yaml.safe_dump(doc))
    done = subprocess.run([sys.executable, str(KUBERAY / "validate.py"), str(path)], capture_output=True, text=True,
                          timeout=120)
    lines = done.stdout.splitlines()
    assert done.returncode == 1 and len(lines) == 2 and all(line.startswith(f"{path}: RayCluster/adstudy: ")
                                                             for line in lines)
    assert "is not the project's image" in lines[0] and "which the pod does not define" in lines[1]


def test_an_unknown_version_names_the_known_ones() -> None:
    doc = _doc("RayCluster")
    doc["apiVersion"] = "ray.io/v2"
    (problem,) = validate.problems(doc)
    assert "has no CRD here" in problem and "RayCluster (ray.io/v1)" in problem

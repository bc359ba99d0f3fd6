"""Check Kubernetes manifests for the KubeRay route offline, before `kubectl apply`:

    python docker/kuberay/validate.py docker/kuberay/*.yaml

Each RayCluster and RayJob is validated against KubeRay's CRD schema (docker/kuberay/crds/), where an
unknown field is an error (as `kubectl apply --validate=strict` makes it), and against what a study
needs, which no schema says: token authentication; one image on every Ray node, the project's
(REGISTRY/adstudy:cpu|cuda from docker/Dockerfile), its CUDA variant where a group asks for GPUs, and
the Ray version the image has; every mounted volume defined in its pod; the same PersistentVolumeClaim
at /app/results on every Ray node (Tune's storage must be shared); and for a RayJob, an `adstudy run`
entrypoint whose study is in the image or on a volume the head mounts, whose --out is on the results
volume, and whose MLflow is a server when trials run on several pods. Deployments are checked for
the volumes they mount; other kinds (Service, PersistentVolumeClaim) have no schema here.

Exit status 0: every document passes; 1: each problem printed as FILE: KIND/NAME: PATH: what to do.
"""
from __future__ import annotations

import argparse
import difflib
import functools
import re
import shlex
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CRDS = HERE / "crds"
APP = PurePosixPath("/app")  # the image's WORKDIR: the checkout's code and studies/ are copied there
RESULTS = "/app/results"  # the image's results volume (docker/Dockerfile: VOLUME, the entrypoints' --out)
IMAGE = re.compile(r"^(?:[^/\s]+/)*adstudy:(?P<variant>cpu|cuda)(?:-[\w.-]+)?$")
GPU = "nvidia.com/gpu"


@functools.cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict OpenAPI schema of every served version of the shipped CRDs."""
    found = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                found[(f"{group}/{version['name']}", kind)] = strict(version["schema"]["openAPIV3Schema"])
    return found


def strict(schema: Any) -> Any:
    """The schema with unknown fields forbidden wherever it lists an object's fields, except where
    Kubernetes keeps unknown fields (x-kubernetes-preserve-unknown-fields)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def ray_version() -> str:
    """The major.minor of Ray that pyproject.toml pins, so the image has it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project.get("dependencies", []), *sum(project.get("optional-dependencies", {}).values(), [])]
    for requirement in requirements:
        if match := re.match(r"^ray(\[[^\]]*\])?\s*==\s*(\d+\.\d+)", requirement):
            return match.group(2)
    raise RuntimeError("pyproject.toml pins no Ray version (ray==X.Y.*)")


def _path(parts: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".") or "(top)"


def schema_problems(doc: dict[str, Any]) -> list[str]:
    import jsonschema

    schema = schemas().get((doc.get("apiVersion"), doc.get("kind")))
    if schema is None:
        known = ", ".join(f"{kind} ({version})" for version, kind in sorted(schemas()))
        return [f"apiVersion/kind: {doc.get('apiVersion')} {doc.get('kind')} has no CRD here; known: {known}"]
    problems = []
    for error in sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=lambda e: list(map(str, e.path))):
        if error.validator == "additionalProperties" and error.validator_value is False:
            fields = sorted(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - set(fields)):
                close = difflib.get_close_matches(key, fields, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"{_path(error.path)} takes {', '.join(fields)}"
                problems.append(f"{_path([*error.path, key])}: unknown field; {hint}")
        else:
            problems.append(f"{_path(error.path)}: {error.message}")
    if not (doc.get("metadata") or {}).get("name"):
        problems.append("metadata.name: missing")
    return problems


def _groups(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, group) of the Ray cluster's head group and each worker group."""
    prefix, spec = ("spec.rayClusterSpec", doc["spec"].get("rayClusterSpec") or {}) if doc["kind"] == "RayJob" \
        else ("spec", doc["spec"])
    if "headGroupSpec" in spec:
        yield f"{prefix}.headGroupSpec", spec["headGroupSpec"]
    for i, group in enumerate(spec.get("workerGroupSpecs") or []):
        yield f"{prefix}.workerGroupSpecs[{i}]", group


def _mounts(pod: dict[str, Any], where: str) -> list[str]:
    """Every volume a container mounts must be one of the pod's volumes (else the pod never starts)."""
    volumes = {volume.get("name") for volume in pod.get("volumes") or []}
    problems = []
    for i, container in enumerate(pod.get("containers") or []):
        for j, mount in enumerate(container.get("volumeMounts") or []):
            if mount.get("name") not in volumes:
                problems.append(f"{where}.containers[{i}].volumeMounts[{j}]: mounts volume {mount.get('name')!r}, "
                                f"which the pod does not define; add it to {where}.volumes "
                                f"(defined: {', '.join(sorted(filter(None, volumes))) or 'none'})")
    return problems


def _results_claim(pod: dict[str, Any], container: dict[str, Any]) -> str | None:
    """The PersistentVolumeClaim the Ray container mounts at /app/results; None where it mounts nothing
    there or a volume that is not a claim; "" where the mounted volume is undefined (_mounts says so)."""
    names = [m.get("name") for m in container.get("volumeMounts") or [] if m.get("mountPath", "").rstrip("/") == RESULTS]
    if not names:
        return None
    volume = next((v for v in pod.get("volumes") or [] if v.get("name") == names[0]), None)
    if volume is None:
        return ""
    return (volume.get("persistentVolumeClaim") or {}).get("claimName")


def ray_problems(doc: dict[str, Any]) -> list[str]:
    """What a study needs of a RayCluster or RayJob beyond its schema."""
    problems = []
    cluster = "spec.rayClusterSpec" if doc["kind"] == "RayJob" else "spec"
    spec = doc["spec"].get("rayClusterSpec") or {} if doc["kind"] == "RayJob" else doc["spec"]
    if (spec.get("authOptions") or {}).get("mode") != "token":
        problems.append(f"{cluster}.authOptions.mode: must be token: Ray's ports listen on all interfaces and the "
                        "token is what keeps others from running code on the nodes")
    if not str(spec.get("rayVersion", "")).startswith(ray_version() + "."):
        problems.append(f"{cluster}.rayVersion: {spec.get('rayVersion')!r} is not the image's Ray "
                        f"({ray_version()}.x, pinned in pyproject.toml)")
    images, claims, head = {}, {}, None
    for where, group in _groups(doc):
        pod = (group.get("template") or {}).get("spec") or {}
        problems += _mounts(pod, f"{where}.template.spec")
        containers = pod.get("containers") or []
        if not containers:
            continue
        ray, path = containers[0], f"{where}.template.spec.containers[0]"  # KubeRay's Ray container
        head = head or (ray if where.endswith("headGroupSpec") else None)
        image = str(ray.get("image", ""))
        images[path] = image
        if not (match := IMAGE.match(image)):
            problems.append(f"{path}.image: {image!r} is not the project's image: build docker/Dockerfile "
                            "(--build-arg VARIANT=cuda for GPUs), push it and name it REGISTRY/adstudy:cuda or :cpu")
        elif any(str((ray.get("resources") or {}).get(kind, {}).get(GPU, 0)) not in ("0", "") for kind in
                 ("limits", "requests")) and match.group("variant") != "cuda":
            problems.append(f"{path}.image: {image!r} is the CPU image but the group asks for {GPU}: use adstudy:cuda")
        claims[path] = _results_claim(pod, ray)
        if claims[path] is None:
            problems.append(f"{path}: mounts no PersistentVolumeClaim at {RESULTS}: every Ray node writes the "
                            "study's results there, so mount the shared results claim (storage.yaml: adstudy-results)")
    if len(set(images.values())) > 1 and all(map(IMAGE.match, images.values())):
        problems.append(f"{cluster}: the Ray nodes run different images ({', '.join(sorted(set(images.values())))}): "
                        "Ray's version must match on every node; use one image")
    if len(set(filter(None, claims.values()))) > 1:
        problems.append(f"{cluster}: the Ray nodes mount different claims at {RESULTS} "
                        f"({', '.join(sorted(set(filter(None, claims.values()))))}): Tune's storage must be one volume")
    if doc["kind"] == "RayJob":
        problems += _entrypoint_problems(doc, head or {}, workers=len(images) > 1)
    return problems


def _entrypoint_problems(doc: dict[str, Any], head: dict[str, Any], workers: bool) -> list[str]:
    words = shlex.split(str(doc["spec"].get("entrypoint", "")))
    if words[:2] != ["adstudy", "run"] or len(words) < 3 or words[2].startswith("-"):
        return ["spec.entrypoint: must be `adstudy run STUDY [OPTIONS]` (the study command of the image, whose study "
                "and --out this check reads)"]
    problems = []
    study, options = words[2], words[3:]
    mounts = [str(m.get("mountPath", "")).rstrip("/") for m in head.get("volumeMounts") or []]
    path = PurePosixPath(study)
    if any(study.startswith(mount + "/") for mount in mounts):
        pass  # on a volume: it is the researcher's to put there
    elif path.is_absolute() and not path.is_relative_to(APP):
        problems.append(f"spec.entrypoint: study {study} is neither in the image ({APP}) nor on a volume the head "
                        f"mounts ({', '.join(mounts)})")
    elif not (ROOT / (path.relative_to(APP) if path.is_absolute() else path)).is_file():
        problems.append(f"spec.entrypoint: study {study} is not in the image (no such file in this checkout, whose "
                        f"studies/ the image copies to {APP}/studies); name one there or a path on a mounted volume")
    out = options[options.index("--out") + 1] if "--out" in options[:-1] else None
    if out is None or not (out.rstrip("/") == RESULTS or out.startswith(RESULTS + "/")):
        problems.append(f"spec.entrypoint: --out {out or '(none: ./results, inside the container)'} is not on the "
                        f"results volume: add --out {RESULTS}")
    env = {e.get("name") for e in head.get("env") or []}
    if workers and "--tracking-uri" not in options and "MLFLOW_TRACKING_URI" not in env:
        problems.append("spec.entrypoint: trials on several pods would share MLflow's SQLite file over the volume: "
                        "give the tracking server (MLFLOW_TRACKING_URI on the head, or --tracking-uri; tracking.yaml)")
    return problems


def problems(doc: Any) -> list[str]:
    if not isinstance(doc, dict) or "kind" not in doc:
        return ["(top): not a Kubernetes object (no kind)"]
    if doc.get("apiVersion", "").startswith("ray.io/"):
        found = schema_problems(doc)
        return found or ray_problems(doc)
    if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
        return _mounts(((doc.get("spec") or {}).get("template") or {}).get("spec") or {}, "spec.template.spec")
    return []


def check(paths: list[Path]) -> list[str]:
    """Every problem of every document in ``paths``, one line each."""
    lines = []
    for path in paths:
        try:
            docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        except (OSError, yaml.YAMLError) as error:
            lines.append(f"{path}: {error}")
            continue
        for doc in docs:
            name = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}" if isinstance(doc, dict) else "?"
            lines += [f"{path}: {name}: {problem}" for problem in problems(doc)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifests", nargs="+", type=Path)
    args = parser.parse_args(argv)
    lines = check(args.manifests)
    print("\n".join(lines) if lines else f"{len(args.manifests)} file(s): every manifest passes")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())

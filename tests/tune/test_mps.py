"""MPS for trials that share a GPU: the driver starts the control daemon in its own directory, its
workers find it through the environment, and it is stopped at the end; without the program a study
that only prefers MPS time-slices, and one that insists is refused before anything starts."""
import os
import stat
from pathlib import Path

import pytest

from tune.mps import CONTROL, MpsDaemon, MpsError, gpu_sharing, mps_problem
from tune.study import StudyError, load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "ablation_table4.yaml"


@pytest.fixture
def fake_control(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An nvidia-cuda-mps-control on PATH that logs its arguments, standard input and pipe directory."""
    log = tmp_path / "calls.log"
    program = tmp_path / "bin" / CONTROL
    program.parent.mkdir()
    program.write_text(f'#!/bin/sh\necho "args=$* pipe=$CUDA_MPS_PIPE_DIRECTORY stdin=$(cat)" >> {log}\n')
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{program.parent}{os.pathsep}{os.environ['PATH']}")
    return log


def test_daemon_starts_in_its_own_directory_and_quits(fake_control: Path, tmp_path: Path) -> None:
    with MpsDaemon(tmp_path / "mps") as daemon:
        assert Path(daemon.env["CUDA_MPS_PIPE_DIRECTORY"]).is_dir()
    start, stop = fake_control.read_text().splitlines()
    pipe = tmp_path / "mps" / "pipe"
    assert start == f"args=-d pipe={pipe} stdin=" and stop == f"args= pipe={pipe} stdin=quit"


def test_shared_gpu_runs_its_workers_under_mps_and_restores_the_environment(fake_control: Path) -> None:
    before = os.environ.get("CUDA_MPS_PIPE_DIRECTORY")
    with gpu_sharing(0.125, "auto", local=True) as line:
        assert "MPS" in line and os.environ["CUDA_MPS_PIPE_DIRECTORY"] in line  # what ray.init's workers inherit
    assert os.environ.get("CUDA_MPS_PIPE_DIRECTORY") == before
    assert [call.split()[0] for call in fake_control.read_text().splitlines()] == ["args=-d", "args="]


@pytest.mark.parametrize("gpu,mode", [(1.0, "auto"), (0.0, "on"), (0.25, "off")])
def test_no_daemon_unless_trials_share_a_gpu_and_mps_is_wanted(fake_control: Path, gpu: float, mode: str) -> None:
    with gpu_sharing(gpu, mode, local=True):
        pass
    assert not fake_control.exists()


def test_without_the_program_auto_time_slices_and_on_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with gpu_sharing(0.25, "auto", local=True) as line:
        assert "time-slice" in line and CONTROL in line
    assert CONTROL in mps_problem(0.25, "on", local=True)
    assert "each GPU node" in mps_problem(0.25, "on", local=False)
    with pytest.raises(MpsError), gpu_sharing(0.25, "on", local=True):
        pass


def test_study_key_is_validated() -> None:
    assert load_study(STUDY, ["resources.mps=off", "resources.gpu=0.125"]).resources.mps == "off"
    with pytest.raises(StudyError, match="resources.mps"):
        load_study(STUDY, ["resources.mps=always"])


@pytest.mark.parametrize("path", sorted((STUDY.parent).glob("*.yaml")), ids=lambda p: p.stem)
def test_gpu_budget_trains_on_cuda_with_trials_sharing_a_card(path: Path) -> None:
    study = load_study(path)
    if "gpu" not in study.budgets:
        pytest.skip(f"{path.name} has no gpu budget (its paper budget is the GPU one)")
    on_gpu = load_study(path, budget="gpu")
    assert on_gpu.base["runtime"]["device"] == "cuda" and "resources" not in on_gpu.base
    assert 0 < on_gpu.resources.gpu < 1 and on_gpu.concurrency is None
    assert on_gpu.resources.cpu == study.resources.cpu and on_gpu.applied == ["--budget gpu"]

"""Shared fixtures: a tiny real budget on Fashion-MNIST, and a private cache directory; the markers
of the tests that use a Ray cluster or a PostgreSQL server, set from the fixtures they use; and the
rule that no test joins Ray from the test process."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import torch


# fixture -> marker of every test that uses it, directly or through another fixture
# (slurm: tests/deploy's SLURM cluster, root and Debian's slurm-wlm; its study tests are marked ray too)
FIXTURE_MARKERS = {"cluster": "ray", "smoke_run": "ray", "postgres_server": "postgres", "slurm": "slow"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _no_ray_in_the_test_process() -> Iterator[None]:
    """A test never joins Ray from the test process: Ray's core worker ends the process that loses its
    cluster, and inside pytest that is the whole test session, without a word. Studies run as
    processes of their own (tests/tune/conftest.py)."""
    yield
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
        pytest.fail("this test connected the test process to Ray; run the study as a process of its own (run_study)")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fisher caches and other files go to a per-run directory, never the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ADCORE_CACHE", str(tmp_path_factory.mktemp("adcore-cache")))
    torch.set_num_threads(2)
    yield
    mp.undo()


TINY_BUDGET: dict[str, Any] = {
    "data": {"image_size": 16, "n_normal": 64, "n_oe": 64, "n_val": 16, "n_test": 96},
    "optim": {"epochs": 2, "batch_size": 16},
    "runtime": {"device": "cpu", "eval_batch_size": 64},
}


@pytest.fixture
def tiny_budget() -> dict[str, Any]:
    """A budget at which a trial takes about a second on a CPU core, on real Fashion-MNIST."""
    import copy

    return copy.deepcopy(TINY_BUDGET)


@pytest.fixture
def interrupt_after_first_epoch() -> Callable[[Any, Path], None]:
    """Run a trial with checkpoints in ``checkpoint_dir`` and stop it once its first epoch is
    reported, as a worker killed mid-trial would stop."""
    from adcore import run_trial

    class Interrupt(Exception):
        pass

    def stop_after_first_epoch(metrics: dict[str, Any]) -> None:
        if metrics["epoch"] == 1:
            raise Interrupt

    def run(cfg: Any, checkpoint_dir: Path) -> None:
        with pytest.raises(Interrupt):
            run_trial(cfg, report=stop_after_first_epoch, checkpoint_dir=checkpoint_dir)

    return run

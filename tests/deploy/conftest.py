"""The deployment tests' SLURM cluster: two nodes on this host, started once per module."""
from __future__ import annotations

from typing import Iterator

import pytest

from slurm_cluster import SlurmCluster


@pytest.fixture(scope="module")
def slurm() -> Iterator[SlurmCluster]:
    """Nodes n1 and n2 of 2 CPUs each (this machine's 2 cores, declared on both: a job takes what it
    asks for, and a two-node job runs its Ray worker through srun as on a real cluster)."""
    cluster = SlurmCluster(nodes=2, cpus=2)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()

"""A SLURM cluster on this host for the tests of docker/slurm/adstudy.sbatch: Debian's munged with a
key and socket of its own, slurmctld, and one slurmd per node (``slurmd -N``), all as root from a
slurm.conf in a temporary folder, on loopback ports of their own (ProctrackType=proctrack/linuxproc,
TaskPlugin=task/none: no cgroups, no systemd). ``stop()`` cancels what still runs, stops each daemon
by its pid file and removes the folder; nothing is left running and no system service is touched."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testing.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docker" / "slurm" / "adstudy.sbatch"
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
INSTALL = "apt-get install slurm-wlm munge (Debian's packages; make setup installs them)"
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL",
         "DEADLINE"}

CONF = """\
ClusterName=adstudy-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={folder}/munge.sock
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool-%n
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd-%n.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=5
MinJobAge=3600
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
NODE = "NodeName={name} NodeHostname={host} NodeAddr=127.0.0.1 Port={port} CPUs={cpus} State=UNKNOWN\n"


def missing_programs() -> list[str]:
    return [name for name in PROGRAMS if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def _program(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


class SlurmCluster:
    """``nodes`` SLURM nodes of ``cpus`` CPUs each (n1, n2, ...), all on this host."""

    def __init__(self, nodes: int, cpus: int) -> None:
        # short: munged's and Ray's socket paths live under it (Ray's sessions, through job_env)
        self.folder = Path(tempfile.mkdtemp(prefix="sl", dir="/tmp"))
        self.folder.chmod(0o755)  # munged wants every folder above its socket open to all
        self.nodes = [f"n{i + 1}" for i in range(nodes)]
        self.cpus = cpus
        self.conf = self.folder / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    # --- the daemons ---------------------------------------------------------------------------

    def start(self) -> None:
        if missing := missing_programs():
            raise RuntimeError(f"SLURM is not installed here (no {', '.join(missing)}): {INSTALL}")
        if os.geteuid() != 0:
            raise RuntimeError("the SLURM tests run munged, slurmctld and slurmd as root (as CI does); run them as root")
        host = socket.gethostname().split(".")[0]
        text = CONF.format(host=host, ctld_port=free_port(), folder=self.folder)
        text += "".join(NODE.format(name=name, host=host, port=free_port(), cpus=self.cpus) for name in self.nodes)
        self.conf.write_text(text)
        (self.folder / "state").mkdir()
        key = self.folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._daemon(["munged", f"--socket={self.folder}/munge.sock", f"--key-file={key}",
                      f"--pid-file={self.folder}/munged.pid", f"--log-file={self.folder}/munged.log",
                      f"--seed-file={self.folder}/munged.seed"], "munged.log")
        self._daemon(["slurmctld", "-i"], "slurmctld.log")
        wait_for(lambda: self.run("scontrol", "ping", check=False).stdout.count("UP") > 0, 60, "slurmctld")
        for name in self.nodes:
            (self.folder / f"spool-{name}").mkdir()
            self._daemon(["slurmd", "-N", name], f"slurmd-{name}.log")
        wait_for(self._nodes_idle, 120, "the slurmd nodes to register")

    def _daemon(self, command: list[str], log: str) -> None:
        """Start a daemon that forks itself away (it writes its pid file); its failure shows its log."""
        done = subprocess.run([_program(command[0]), *command[1:]], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            path = self.folder / log
            raise RuntimeError(f"{command[0]} did not start ({done.returncode}): {done.stderr.strip()}\n"
                               + (path.read_text()[-2000:] if path.exists() else ""))

    def _nodes_idle(self) -> bool:
        states = self.run("sinfo", "-h", "-N", "-o", "%N %t", check=False).stdout.split("\n")
        return sum(line.split()[-1] == "idle" for line in states if line.strip()) == len(self.nodes)

    def stop(self) -> None:
        """Cancel every job, stop each daemon by its pid file, end what the jobs left, remove the folder."""
        if self.conf.exists():
            self.run("scancel", "--full", "--partition=debug", check=False)
            try:
                wait_for(lambda: not self.run("squeue", "-h", check=False).stdout.strip(), 60, "the jobs to end")
            except TimeoutError:
                pass
        pid_files = [self.folder / f"slurmd-{name}.pid" for name in self.nodes]
        for pid_file in [*pid_files, self.folder / "slurmctld.pid", self.folder / "munged.pid"]:
            _stop_by_pid_file(pid_file)
        for pid in self.job_processes():
            _kill(pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)

    def job_processes(self) -> list[int]:
        """Live processes of this cluster's jobs: each inherits ADSTUDY_RAY_TMPDIR=<folder> (job_env)
        from the submission, which the daemons, started before any job, do not have."""
        mark = f"ADSTUDY_RAY_TMPDIR={self.folder}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and mark in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    # --- jobs ----------------------------------------------------------------------------------

    def run(self, *command: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run([_program(command[0]), *command[1:]], env={**self.env, **(env or {})}, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def sbatch(self, *args: str, env: dict[str, str]) -> int:
        """Submit from the repository root; the job's output goes to job-<id>.out in the folder."""
        done = self.run("sbatch", "--parsable", f"--output={self.folder}/job-%j.out", *args, env=env)
        return int(done.stdout.strip().split(";")[0])

    def output(self, job: int) -> str:
        path = self.folder / f"job-{job}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def job(self, job: int) -> dict[str, str]:
        """scontrol's fields of a job (JobState, ExitCode, Restarts, ...)."""
        text = self.run("scontrol", "show", "job", "-o", str(job)).stdout
        return dict(field.split("=", 1) for field in text.split() if "=" in field)

    def wait_ended(self, job: int, timeout: float) -> dict[str, str]:
        """The job's fields once it has ended and its processes are gone."""
        try:
            wait_for(lambda: self.job(job)["JobState"] in ENDED, timeout, f"job {job} to end", every=1)
            wait_for(lambda: not self.job_processes(), 60, f"job {job}'s processes to end", every=0.5)
        except TimeoutError as error:
            raise AssertionError(f"{error}\n{self.output(job)[-4000:]}") from None
        return self.job(job)


def _stop_by_pid_file(pid_file: Path, timeout: float = 30) -> None:
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    _kill(pid, signal.SIGKILL)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def job_env(cluster: SlurmCluster, results: Path) -> dict[str, str]:
    """What a submitting researcher's shell would hold: this checkout's virtualenv first on PATH, the
    results root, and Ray's node-local folder inside the cluster's (so its processes can be found)."""
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
            "ADSTUDY_RESULTS": str(results), "ADSTUDY_RAY_TMPDIR": str(cluster.folder)}

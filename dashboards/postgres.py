"""A private PostgreSQL server in a folder, for the MLflow tracking server of a cluster.

Debian's ``postgresql`` package gives the programs; this makes a database cluster of its own in
``data`` (once: ``initdb`` with a generated password kept in ``data/../postgres.password``,
mode 600, password authentication only), runs ``postgres`` on 127.0.0.1 and its socket in the data
folder, and creates the ``mlflow`` database and the ``optuna`` database for searches' Optuna studies
(each tool migrates its own tables, so they do not share one). PostgreSQL refuses to run as root, so when this runs
as root the data folder belongs to, and the server runs as, the ``postgres`` user that the package
created. The server is a child in the caller's process group and ends with it.
"""
from __future__ import annotations

import os
import pwd
import secrets
import signal
import shutil
import subprocess
import time
from pathlib import Path

USER = "mlflow"  # the cluster's superuser and the database MLflow uses
DATABASE = "mlflow"
OPTUNA_DATABASE = "optuna"  # searches' Optuna studies (run_study.py --optuna-storage): its own tables
INSTALL = "apt-get install postgresql  (Debian's package)"


def postgres_bin() -> Path:
    """The folder of Debian's PostgreSQL programs (the newest major version installed)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise FileNotFoundError(f"PostgreSQL is not installed: no initdb; install it with {INSTALL}")
    return Path(initdb).parent


class Postgres:
    """A PostgreSQL server of its own in ``data``, listening on 127.0.0.1:``port``."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data.resolve(), port
        self.password_file = self.data.with_name(f"{self.data.name}.password")
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        """The SQLAlchemy URL MLflow's backend store takes (it holds the password: keep it out of argv)."""
        return self.database_uri(DATABASE)

    def database_uri(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}:{self.password_file.read_text().strip()}@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def init(self) -> None:
        """initdb once; a data folder that has a cluster is used as it is."""
        if (self.data / "PG_VERSION").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_hex(24))
            self.password_file.chmod(0o600)
        bin_dir = postgres_bin()
        pwfile = self.data.with_name(f".{self.data.name}.initdb")  # readable by the cluster's owner for initdb, then removed
        pwfile.write_text(self.password_file.read_text())
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.data, pwfile):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        try:
            subprocess.run(self._as_owner([str(bin_dir / "initdb"), "-D", str(self.data), "-U", USER,
                                           f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8"]),
                           check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as error:
            raise RuntimeError(f"initdb {self.data} failed: {error.stderr.strip()[-2000:]}") from None
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and create the mlflow and optuna databases if they are not there."""
        self.init()
        postgres = str(postgres_bin() / "postgres")
        self.process = subprocess.Popen(self._as_owner([postgres, "-D", str(self.data), "-p", str(self.port),
                                                        "-k", str(self.data), "-c", "listen_addresses=127.0.0.1"]),
                                        stdout=subprocess.DEVNULL, stderr=(self.data / "server.log").open("a"),
                                        start_new_session=True)  # its own process group: stop() ends all of it
        try:
            self._create_database(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Fast shutdown (SIGINT): open transactions are rolled back, the server ends at once."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def _create_database(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres on port {self.port} stopped at start; see {self.data / 'server.log'}")
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres",
                                     password=self.password_file.read_text().strip(), autocommit=True,
                                     connect_timeout=2) as connection:
                    for database in (DATABASE, OPTUNA_DATABASE):
                        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                              (database,)).fetchone() is None:
                            connection.execute(f"CREATE DATABASE {database}")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres on port {self.port} did not answer in {timeout:.0f} s; "
                                       f"see {self.data / 'server.log'}") from None
                time.sleep(0.2)

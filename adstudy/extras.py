"""Which optional part of the distribution a command needs (``pip install 'adstudy[tune]'``): checked
before the command imports anything of it, so a missing extra is one message, not an ImportError."""
from __future__ import annotations

import importlib.util

# extra -> the modules of its requirements that commands import (top-level names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "tune": ("ray", "optuna", "mlflow", "pandas", "matplotlib"),
    "dashboards": ("pandas", "matplotlib"),
    "mlflow": ("mlflow",),  # a part of [tune] and [dashboards]: either brings it
    "optuna-dashboard": ("optuna", "optuna_dashboard"),
    "postgres": ("mlflow", "psycopg"),
}
INSTALL = {"tune": "tune", "dashboards": "dashboards", "mlflow": "tune", "optuna-dashboard": "dashboards",
           "postgres": "dashboards"}


class MissingExtra(RuntimeError):
    """A command needs modules of an extra that is not installed."""


def missing(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def require(extra: str, command: str) -> None:
    """Raise MissingExtra naming the extra to install when any of its modules is absent."""
    absent = missing(EXTRAS[extra])
    if absent:
        raise MissingExtra(f"adstudy {command} needs {', '.join(absent)}, which come with the [{INSTALL[extra]}] "
                           f"extra: pip install 'adstudy[{INSTALL[extra]}]' (or 'adstudy[all]')")

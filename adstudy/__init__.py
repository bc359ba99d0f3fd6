"""adstudy: the command (``adstudy run|check|report|compare|aggregate|serve|sync|score|studies``) over the
three packages of this distribution: ``adcore`` (the method library), ``tune`` (studies on Ray Tune,
Optuna and MLflow) and ``dashboards`` (tables, figures, reports, servers); and the shipped studies."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("adstudy")
except PackageNotFoundError:  # a checkout that is not installed
    __version__ = "checkout"

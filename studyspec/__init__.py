"""studyspec: the study file's schema (``studies/*.yaml``, and the ``study.yaml`` a run saves).

One schema for the two packages that read it: tune/ validates a study and runs it, dashboards/
rebuilds a run's tables, figures and report from its saved ``study.yaml`` without Ray. This package
imports neither of them (nor torch, nor adcore), so either can depend on it; loading a study file
with its overlays (``--smoke``, ``--budget``, ``--set``) and checking it against adcore's trial config
is tune/'s job (``tune/study.py``).
"""

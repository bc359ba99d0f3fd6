"""studyspec: what tune/ and dashboards/ both read, owned by neither.

``schema``: the study file (``studies/*.yaml``, and the ``study.yaml`` a run saves); ``layout``: the
files of a run directory; ``catalog``: the shipped studies at a glance (the README's table). tune/
validates a study and runs it, dashboards/ rebuild a run's tables, figures and report from its run
directory without Ray. This package imports neither of them (nor torch, nor adcore), so either can
depend on it; loading a study file with its overlays (``--smoke``, ``--budget``, ``--set``) and
checking it against adcore's trial config is tune/'s job (``tune/study.py``).
"""

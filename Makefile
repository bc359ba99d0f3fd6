# Two commands matter: `make study` (set up, run the main study) and `make test` (set up, run the tests).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
CHROMIUM := /usr/bin/chromium
# Debian's PostgreSQL programs (whichever major version is installed; Debian 12's is 15)
POSTGRES := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) /usr/lib/postgresql/15/bin/initdb)
# Debian's SLURM (slurm-wlm, with munge): tests/deploy runs sbatch jobs on a slurmctld and slurmd of its own
SLURM := /usr/sbin/slurmctld
STUDY ?= studies/ablation_table4.yaml
STUDY_NAME = $(basename $(notdir $(STUDY)))

.PHONY: setup test study mlflow-ui optuna-dashboard tracking-server clean-venv

setup: $(STAMP) $(FASHION_MNIST) $(CHROMIUM) $(POSTGRES) $(SLURM)

# Debian's dataset-fashion-mnist carries the one full benchmark dataset these machines can have.
$(FASHION_MNIST):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist

# Debian's postgresql: the tracking server's backend store, and the tests of it.
$(POSTGRES):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql

# Debian's slurm-wlm and munge: tests/deploy starts munged, slurmctld and slurmd of its own from them.
$(SLURM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge

# Debian's chromium opens the HTML reports headless in tests/dashboards.
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

study: setup
	$(PY) tune/run_study.py $(STUDY)

# The newest run of a study in the MLflow UI or Optuna's dashboard, on 127.0.0.1:
# make mlflow-ui STUDY=ablation_table4 [PORT=5000]; make optuna-dashboard STUDY=adib_search [PORT=8080]
mlflow-ui: $(STAMP)
	$(PY) dashboards/serve.py mlflow results/$(STUDY_NAME) $(if $(PORT),--port $(PORT))

optuna-dashboard: $(STAMP)
	$(PY) dashboards/serve.py optuna results/$(STUDY_NAME) $(if $(PORT),--port $(PORT))

# The MLflow tracking server of a cluster: PostgreSQL of its own in $(RESULTS)/postgres (Debian's
# postgresql), artifacts in $(RESULTS)/mlartifacts, on 127.0.0.1 unless HOST=0.0.0.0; Ctrl-C ends both.
# Studies log to it with --tracking-uri http://<host>:$(or $(PORT),5000).
RESULTS ?= results
tracking-server: $(STAMP) $(POSTGRES)
	$(PY) dashboards/serve.py tracking-server $(RESULTS) $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST))

clean-venv:
	rm -rf $(VENV)

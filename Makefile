# Two commands matter: `make study` (set up, run the main study) and `make test` (set up, run the tests).
# Both call the adstudy command of the distribution that `make setup` installs (editable, every extra),
# through constraints.txt: the versions CI tested.
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
# STUDY names a study for every target, by name or path: STUDY=masking or STUDY=studies/masking.yaml
STUDY ?= ablation_table4
STUDY_NAME = $(basename $(notdir $(STUDY)))
STUDY_FILE = $(if $(findstring /,$(STUDY)),$(STUDY),studies/$(STUDY_NAME).yaml)

.PHONY: setup setup-test test test-fast study mlflow-ui optuna-dashboard tracking-server clean-venv

# What a study needs: the virtualenv (about 6.7 GB: PyPI's Linux torch carries CUDA) and Fashion-MNIST.
setup: $(STAMP) $(FASHION_MNIST)

# What the tests need besides: Chromium (they open the HTML report in it), PostgreSQL (the tracking
# server's) and SLURM with munge (tests/deploy's sbatch jobs).
setup-test: setup $(CHROMIUM) $(POSTGRES) $(SLURM)

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

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The whole suite, as CI runs it (.ci/run), and its 15 slowest tests. test-fast is the inner loop: it
# leaves out the tests marked slow, ray, browser or postgres (pyproject.toml) and needs none of them.
test: setup-test
	$(PY) -m pytest -q --durations=15

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not ray and not browser and not postgres"

study: setup
	$(VENV)/bin/adstudy run $(STUDY_FILE)

# The newest run of a study in the MLflow UI or Optuna's dashboard, on 127.0.0.1:
# make mlflow-ui [STUDY=ablation_table4] [PORT=5000]; make optuna-dashboard STUDY=adib_search [PORT=8080]
mlflow-ui: $(STAMP)
	$(VENV)/bin/adstudy serve mlflow results/$(STUDY_NAME) $(if $(PORT),--port $(PORT))

optuna-dashboard: $(STAMP)
	$(VENV)/bin/adstudy serve optuna results/$(STUDY_NAME) $(if $(PORT),--port $(PORT))

# The MLflow tracking server of a cluster: PostgreSQL of its own in $(RESULTS)/postgres (Debian's
# postgresql) on a free loopback port (PG_PORT=... to pin one; Debian's own cluster takes 5432),
# artifacts in $(RESULTS)/mlartifacts, on 127.0.0.1 unless HOST=0.0.0.0; Ctrl-C ends both.
# Studies log to it with --tracking-uri http://<host>:$(or $(PORT),5000).
RESULTS ?= results
tracking-server: $(STAMP) $(POSTGRES)
	$(VENV)/bin/adstudy serve tracking-server $(RESULTS) $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST)) \
		$(if $(PG_PORT),--postgres-port $(PG_PORT))

clean-venv:
	rm -rf $(VENV)

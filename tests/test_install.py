"""The distribution as a user gets it: the wheel installed outside the checkout runs the adstudy command
from an empty folder without reading a file of the checkout; and the method library runs a trial, keeps
its detector and scores with it while Ray, MLflow and Optuna cannot be imported (the base install)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs a command of the installed adstudy in this interpreter, then checks that no module it imported
# came from the checkout and that the checkout is not on sys.path (the parent's PYTHONPATH is replaced).
AUDITED = textwrap.dedent("""
    import json, os, sys
    from adstudy.cli import main
    code = main(json.loads(sys.argv[1]))
    checkout, venv = sys.argv[2] + "/", sys.prefix + "/"  # the tested environment may live inside the checkout

    def in_checkout(path):
        path = os.path.abspath(path) + "/"
        return path.startswith(checkout) and not path.startswith(venv)

    assert not [p for p in sys.path if in_checkout(p or ".")], sys.path
    inside = sorted(name for name, module in list(sys.modules.items())
                    if getattr(module, "__file__", None) and in_checkout(module.__file__))
    assert not inside, inside
    sys.exit(code)
""")


def _env(site: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    return {**env, "PYTHONPATH": str(site)}


def _adstudy(site: Path, cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", AUDITED, json.dumps(args), str(ROOT)], cwd=cwd, env=_env(site),
                          capture_output=True, text=True, timeout=timeout)


def test_the_wheel_installed_outside_the_checkout_runs_reports_and_lists_studies(tmp_path: Path) -> None:
    """One test, not several: building the wheel and a smoke study are what it costs (about 2 minutes)."""
    wheels, site, empty = tmp_path / "wheels", tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = wheels.glob("adstudy-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, cwd=tmp_path)
    assert (site / "bin" / "adstudy").exists() and (site / "tune" / "studies" / "ablation_table4.yaml").exists()
    assert not (site / "tune" / "studies").is_symlink()

    listed = _adstudy(site, empty, "studies")
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^ablation_table4 +paper 000", listed.stdout, re.M) and str(site / "tune" / "studies") in listed.stdout

    out = tmp_path / "results"
    ran = _adstudy(site, empty, "run", "ablation_table4", "--smoke", "--out", str(out), "--node-ip-address", "127.0.0.1")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    (run,) = (out / "ablation_table4").iterdir()
    assert (run / "table.md").exists() and sorted(p.name for p in (run / "models").iterdir()) == \
        sorted(f"a{i}-fold0-seed0" for i in range(1, 8))  # the smoke grid: one trial per arm, each the arm's best
    (run / "report.html").unlink()
    reported = _adstudy(site, empty, "report", str(run))
    assert reported.returncode == 0, reported.stderr
    assert (run / "report.html").stat().st_size > 0 and not list(empty.iterdir())


BLOCKED = textwrap.dedent("""
    import runpy, sys
    for name in ("ray", "mlflow", "optuna", "optuna_dashboard", "psycopg"):
        sys.modules[name] = None  # importing it raises ImportError
    model, images, out = sys.argv[1:4]
    sys.argv = ["adcore.run", "--quiet", "--preset", "a7", "--set", "data.image_size=16", "--set", "data.n_normal=32",
                "--set", "data.n_oe=32", "--set", "data.n_val=8", "--set", "data.n_test=48", "--set", "optim.epochs=1",
                "--set", "runtime.device=cpu", "--model-dir", model]
    try:
        runpy.run_module("adcore.run", run_name="__main__")
    except SystemExit as stop:
        assert stop.code == 0, stop.code
    from adstudy.cli import main
    assert main(["score", model, images, "--out", out]) == 0
    assert main(["run", "ablation_table4"]) == 2  # says which extra to install
    assert not [name for name in ("ray", "mlflow", "optuna") if sys.modules.get(name) is not None]
""")


def test_adcore_runs_a_trial_and_scores_without_ray_mlflow_or_optuna(tmp_path: Path) -> None:
    import numpy as np

    images = tmp_path / "images.npz"
    np.savez(images, x=np.random.default_rng(0).integers(0, 255, (5, 28, 28), dtype=np.uint8))
    done = subprocess.run([sys.executable, "-c", BLOCKED, str(tmp_path / "model"), str(images), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    row = json.loads(done.stdout.strip().splitlines()[0])
    assert row["status"] == "ok" and json.loads((tmp_path / "model" / "row.json").read_text())["test_ap"] == row["test_ap"]
    assert "pip install 'adstudy[tune]'" in done.stderr
    assert len((tmp_path / "out" / "scores.csv").read_text().splitlines()) == 6


@pytest.mark.parametrize("script", ["tune/run_study.py", "dashboards/report.py", "dashboards/serve.py"])
def test_the_scripts_stay_thin_wrappers(script: str) -> None:
    shown = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and f"python {script}" in shown.stdout, shown.stderr

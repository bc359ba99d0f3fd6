"""Folders whose files run as scripts (``python dashboards/serve.py``) put themselves first on
sys.path, so a module there named like a standard-library module hides it from every library the
script imports (a ``dashboards/statistics.py`` once broke MLflow's ``from statistics import mean``)."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_FOLDERS = ["dashboards", "tune", "benchmarks", "scripts"]


@pytest.mark.parametrize("folder", SCRIPT_FOLDERS)
def test_no_module_of_a_script_folder_hides_the_standard_library(folder):
    modules = {path.stem for path in (ROOT / folder).glob("*.py")} | {
        path.parent.name for path in (ROOT / folder).glob("*/__init__.py")}
    assert not modules & sys.stdlib_module_names, f"rename {sorted(modules & sys.stdlib_module_names)} in {folder}/"

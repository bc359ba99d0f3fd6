"""The import structure of adcore, tune and dashboards, read from their source: every import counts,
at the top of a module, inside a function (lazy), under ``TYPE_CHECKING``, or as a module named by a
string for importlib. No module may import itself back through others, and adcore's modules keep
the layer order that README.md states in one line (each layer imports from itself and the layers
before it), so a lazy import can save start-up time but never hide a cycle."""
from __future__ import annotations

import ast
import functools
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("adcore", "studyspec", "tune", "dashboards", "adstudy")
# adcore's layers, first to last; a module belongs to the layer of the longest prefix naming it
LAYERS: list[tuple[str, ...]] = [
    ("adcore.registry", "adcore.params", "adcore.cache", "adcore.metrics", "adcore.disentanglement"),
    ("adcore.data",),
    ("adcore.models", "adcore.context", "adcore.prefix"),
    ("adcore.objectives", "adcore.scoring", "adcore.transforms"),
    ("adcore.methods",),
    ("adcore.config", "adcore.presets"),
    ("adcore.train", "adcore.probe", "adcore.row", "adcore.saved", "adcore.trial"),
    ("adcore.run", "adcore"),
]
ORCHESTRATION = ("tune", "dashboards", "ray", "mlflow", "optuna")  # what adcore never imports (DESIGN.md)


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the three packages (a package is its __init__)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(source: str, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Every module ``source`` imports, wherever the import statement stands; ``from m import x`` counts
    as ``m.x`` when that is a module. Dotted strings that name a known module count too (importlib; a bare
    ``"adcore"`` is more often a folder name than an import)."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            names.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value and node.value in known:
            names.add(node.value)
    names.discard(module)
    return names


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of the three packages it imports, and every name it imports from elsewhere."""
    files = module_files()
    known = set(files)
    return {name: imported(path.read_text(), name, path.name == "__init__.py", known) for name, path in files.items()}


def layer_of(module: str) -> int:
    matches = [(len(prefix), index) for index, prefixes in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"{module} has no layer: add it to LAYERS here and to the layer line in README.md"
    return max(matches)[1]


def layer_line() -> str:
    return " → ".join(", ".join(prefix.removeprefix("adcore.") for prefix in layer if prefix != "adcore")
                      for layer in LAYERS)


def test_the_reader_finds_lazy_type_checking_and_importlib_imports() -> None:
    source = ("import os\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from adcore.models import Backbone\n"
              "def f():\n    from adcore.data import sources\n    import adcore.trial\n"
              "    return importlib.import_module('adcore.config')\n")
    known = {"adcore.models", "adcore.data", "adcore.data.sources", "adcore.trial", "adcore.config", "adcore.prefix"}
    assert imported(source, "adcore.prefix", False, known) == {
        "os", "typing", "adcore.models", "adcore.data.sources", "adcore.trial", "adcore.config"}
    assert imported("from .base import X\nfrom . import knn\n", "adcore.scoring", True,
                    {"adcore.scoring.base", "adcore.scoring.knn"}) == {"adcore.scoring.base", "adcore.scoring.knn"}


def test_no_module_of_adcore_tune_or_dashboards_imports_itself_back() -> None:
    graph = import_graph()
    internal = {module: {name for name in names if name in graph} for module, names in graph.items()}
    try:
        TopologicalSorter(internal).prepare()
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_adcore_imports_keep_the_layer_order() -> None:
    graph = import_graph()
    against = [f"{module} (layer {layer_of(module) + 1}) imports {name} (layer {layer_of(name) + 1})"
               for module, names in sorted(graph.items()) if module.split(".")[0] == "adcore"
               for name in sorted(names) if name.split(".")[0] == "adcore" and layer_of(name) > layer_of(module)]
    assert not against, "\n".join(against)


def test_adcore_imports_nothing_of_the_orchestration() -> None:
    found = [f"{module} imports {name}" for module, names in sorted(import_graph().items())
             if module.split(".")[0] == "adcore" for name in sorted(names) if name.split(".")[0] in ORCHESTRATION]
    assert not found, "\n".join(found)


def test_every_layer_holds_a_module_and_the_readme_states_the_order() -> None:
    adcore = [module for module in import_graph() if module.split(".")[0] == "adcore"]
    assert {layer_of(module) for module in adcore} == set(range(len(LAYERS)))
    assert layer_line() in (ROOT / "README.md").read_text(), f"README.md should state the layers as: {layer_line()}"

"""Every registry: each kind registers something, the one module that loads its members imports
every module that registers one, a duplicate name is an error, unknown names list the valid ones, a
component's parameters take their name from its registration, and every preset is a valid trial
config with a label."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from adcore.config import build_config
from adcore.data.protocols import BENCHMARKS
from adcore.data.sources import SOURCES
from adcore.methods import METHODS
from adcore.models import BACKBONES
from adcore.objectives import REGULARIZERS
from adcore.presets import PRESETS, add_preset
from adcore.scoring import SCORERS
from dashboards.figures import FIGURES

REGISTRIES = [METHODS, REGULARIZERS, SCORERS, BACKBONES, SOURCES, BENCHMARKS, PRESETS, FIGURES]
CONFIGURED = [METHODS, REGULARIZERS, SCORERS]  # components whose Params a {name: ..., **params} mapping validates
ROOT = Path(__file__).resolve().parents[2]
# In a fresh interpreter: the registries as the modules that load their members fill them, then what
# importing every other module of adcore and dashboards.figures adds to them (nothing, if every member's
# import line is there).
LOADS_EVERY_MEMBER = """
import importlib, json, pkgutil, sys
from adcore.registry import Registry
import adcore.methods, adcore.models, adcore.scoring, adcore.objectives, adcore.presets, adcore.data.protocols
import dashboards.figures
from adcore.data.sources import factor_sources
factor_sources()

def registries():
    found = {}
    for module in list(sys.modules.values()):
        for value in list(vars(module).values()):
            if isinstance(value, Registry):
                found[id(value)] = value
    return found

before = {key: (registry.kind, registry.names()) for key, registry in registries().items()}
for package in (importlib.import_module("adcore"), dashboards.figures):
    for found in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(found.name)
added = {kind: sorted(set(registries()[key].names()) - set(names)) for key, (kind, names) in before.items()}
print(json.dumps({"kinds": sorted(kind for kind, _ in before.values()), "added": {k: v for k, v in added.items() if v}}))
"""


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_every_registry_registers_something_and_refuses_a_duplicate(registry) -> None:
    assert len(registry) and registry.names() == sorted(registry.names())
    first = registry.names()[0]
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(first)(registry.get(first))


def test_the_module_that_loads_a_registry_imports_every_module_that_registers_in_it() -> None:
    done = subprocess.run([sys.executable, "-c", LOADS_EVERY_MEMBER], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert set(found["kinds"]) >= {registry.kind for registry in REGISTRIES}
    assert not found["added"], f"registered only when their modules are imported one by one: {found['added']}; " \
                               "add their import lines to the package that loads the registry"


@pytest.mark.parametrize("registry", CONFIGURED, ids=lambda r: r.kind)
def test_params_take_their_name_from_the_registration(registry) -> None:
    for name in registry:
        params = registry.get(name).Params
        assert params.registered_name == name and params().name == name  # written once: at the decorator
        assert registry.params(name).name == name and registry.params({"name": name}).name == name
    other, one = registry.names()[:2]
    with pytest.raises(ValidationError, match=f"configures {one!r}, not {other!r}"):
        registry.get(one).Params(name=other)
    with pytest.raises(ValueError, match=f"unknown {registry.kind} 'nonsense'; valid {registry.kind}s: "):
        registry.params({"name": "nonsense"})


def test_every_preset_is_a_valid_trial_config_with_a_label() -> None:
    for name in PRESETS:
        preset = PRESETS.get(name)
        assert preset.label and build_config(preset.config).method.name in METHODS, name
    with pytest.raises(ValueError, match="preset 'a1' is registered twice"):
        add_preset("a1", "another a1", {})


def test_an_unknown_benchmark_lists_every_registered_one() -> None:
    with pytest.raises(ValidationError) as error:
        build_config({"data": {"benchmark": "leave_one"}})
    assert all(name in str(error.value) for name in BENCHMARKS)

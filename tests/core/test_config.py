"""The trial config: strict merging, clear errors, presets, search ranges declared with defaults."""
import pytest
from pydantic import ValidationError

from adcore.config import TrialConfig, build_config, flatten, set_dotted
from adcore.methods import METHODS
from adcore.objectives import REGULARIZERS
from adcore.params import search_range
from adcore.presets import preset
from adcore.registry import UnknownNameError

TABLE4_ARMS = ("a1", "a2", "a3", "a4", "a5", "a6", "a7")


def test_unknown_key_and_wrong_type_are_errors() -> None:
    with pytest.raises(ValidationError, match="n_normals"):
        TrialConfig.model_validate({"data": {"n_normals": 10}})
    with pytest.raises(ValidationError, match="epochs"):
        TrialConfig.model_validate({"optim": {"epochs": "many"}})
    with pytest.raises(ValidationError, match="nonsense"):
        TrialConfig.model_validate({"method": {"name": "hsc", "nonsense": 1}})


def test_unknown_method_lists_the_valid_names() -> None:
    with pytest.raises(ValidationError, match="valid methods: .*oe_classifier"):
        TrialConfig.model_validate({"method": {"name": "adibb"}})
    with pytest.raises(UnknownNameError, match="valid presets"):
        preset("a8")


def test_component_params_are_validated_by_the_component() -> None:
    cfg = build_config({"method": {"name": "sad", "eta": 2.0}, "regularizer": {"name": "l2sp", "form": "norm"}})
    assert cfg.method.eta == 2.0 and cfg.regularizer.form == "norm"
    assert flatten(cfg.model_dump(mode="json"))["method.eta"] == 2.0


def test_switching_a_component_drops_the_old_ones_params() -> None:
    cfg = build_config({"method": {"name": "sad", "eta": 2.0}}, {"method": {"name": "hsc"}})
    assert cfg.method.name == "hsc"
    assert set_dotted({"a": {"b": 1}}, "a.c", 2) == {"a": {"b": 1, "c": 2}}


def test_table4_arms_are_expressible() -> None:
    arms = {arm: build_config(preset(arm)) for arm in TABLE4_ARMS}
    assert not arms["a1"].model.pretrained and arms["a1"].regularizer.name == "none"
    assert arms["a2"].model.pretrained and arms["a2"].method.name == "oe_classifier"
    assert arms["a3"].method.name == "hsc" and arms["a3"].regularizer.name == "l2sp"
    assert arms["a4"].method.name == "doc" and arms["a4"].regularizer.name == "none"
    assert arms["a5"].regularizer.name == "ewc" and arms["a5"].regularizer.lam == 400
    assert arms["a6"].model.adapters and arms["a6"].regularizer.name == "none"
    assert arms["a7"].regularizer.name == "l2sp" and arms["a7"].regularizer.alpha == 1e-2
    assert preset("adib") == preset("a7") and preset("adra") == preset("a6")


def test_minor_mode_needs_a_secondary_class() -> None:
    with pytest.raises(ValidationError, match="secondary_class"):
        TrialConfig.model_validate({"data": {"benchmark": "minor_mode"}})


def test_every_searchable_field_has_a_default_inside_its_range() -> None:
    models = [type(TrialConfig().data), type(TrialConfig().optim)]
    models += [METHODS.get(n).Params for n in METHODS] + [REGULARIZERS.get(n).Params for n in REGULARIZERS]
    searchable = 0
    for model in models:
        for name, field in model.model_fields.items():
            space = search_range(model, name)
            if space is None:
                continue
            searchable += 1
            if space["type"] == "categorical":
                assert field.default in space["choices"], (model, name)
            else:
                assert space["low"] <= field.default <= space["high"], (model, name)
    assert searchable >= 8

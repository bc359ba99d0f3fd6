"""Benchmark factors (paper 000 §5.1): the make-up of every intervention's benchmark by factor codes,
the images it builds, the refusals of its check, and DCI as the representation metric of a trial."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from adcore import build_config, run_trial
from adcore.data.config import DataConfig
from adcore.data.factors import FACTOR_NAMES, FACTORS, count, flat_index, select
from adcore.data.protocols import checked, make_benchmark
from adcore.data.protocols.factors import draw
from adcore.data.sources import factor_source
from adcore.data.transforms import resize_images
from adcore.row import empty_row

RED_CONE = {"object_color": "red", "object_shape": "cone", "object_size": "small"}
INTERVENTIONS = [{"object_color": "blue"}, {"object_shape": "cube"}, {"object_size": "large"}]
ALL_COLOURS = list(FACTORS["object_color"])
FIGURE_2 = {"normal": {"object_shape": "cone", "object_color": ["red", "blue"]},
            "intervention": {"object_shape": "cube", "object_color": ALL_COLOURS},
            "oe": {"object_shape": ["cylinder", "hexagonal", "pyramid", "sphere"]},
            "oe_within_normal": ["object_color"], "val": {"object_shape": "hexagonal"}}


def data_config(factors: dict[str, Any], **data: Any) -> DataConfig:
    defaults = {"dataset": "scenes", "oe_corpus": "scenes", "benchmark": "factors", "val_protocol": "oe_factor_holdout",
                "n_normal": 200, "n_oe": 300, "n_val": 40, "n_test": 100, "image_size": 16}
    return checked(DataConfig(**{**defaults, **data}, factors=factors))


def allows(codes: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """(N,) whether each tuple is one of ``spec``'s."""
    return np.isin(flat_index(codes), flat_index(select(spec)))


def show(spec: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in spec.items())


@pytest.mark.parametrize("intervention", INTERVENTIONS, ids=show)
@pytest.mark.parametrize("val_protocol", ["oe_factor_holdout", "oe_holdout"])
def test_each_intervention_keeps_anomalies_out_of_oe_and_validation_and_normals_out_of_oe(
        intervention: dict[str, str], val_protocol: str) -> None:
    factors = {"normal": RED_CONE, "intervention": intervention}
    if val_protocol == "oe_factor_holdout":
        factors["val"] = {"object_shape": "hexagonal"}
    parts = draw(data_config(factors, val_protocol=val_protocol), seed=0)
    anomaly = {**RED_CONE, **intervention}
    assert allows(parts.test_anomaly, anomaly).all() and len(parts.test_anomaly) == 50
    for normals in (parts.train, parts.val_normal, parts.test_normal):
        assert allows(normals, RED_CONE).all()
    assert len(parts.train) == 200 and len(parts.val_normal) == len(parts.val_anomaly) == 40
    for name in ("oe", "val_anomaly"):  # no anomaly in OE or validation, no normal in OE (or in validation)
        codes = getattr(parts, name)
        assert not allows(codes, anomaly).any() and not allows(codes, RED_CONE).any(), name
    assert len(parts.oe) == 300
    normal_tuples = [set(flat_index(c).tolist()) for c in (parts.train, parts.val_normal, parts.test_normal)]
    assert sum(map(len, normal_tuples)) == len(set.union(*normal_tuples)) == 290  # distinct views throughout
    assert len(set(flat_index(parts.oe).tolist()) | set(flat_index(parts.val_anomaly).tolist())) == 340
    if val_protocol == "oe_factor_holdout":  # the held-out OE value validates, and never trains
        assert allows(parts.val_anomaly, {"object_shape": "hexagonal"}).all()
        assert not allows(parts.oe, {"object_shape": "hexagonal"}).any()
    oe_colours = set(parts.oe[:, 0].tolist())
    assert {FACTORS["object_color"].index(c) for c in ("white", "green", "brown", "olive")} <= oe_colours


@pytest.mark.parametrize("factors", [
    *(pytest.param({"normal": RED_CONE, "intervention": intervention, "val": {"object_shape": "hexagonal"}},
                   id=show(intervention)) for intervention in INTERVENTIONS),
    pytest.param({"normal": RED_CONE, "intervention": {"object_color": "blue"}, "oe": {"object_size": "small"},
                  "val": {"object_shape": "hexagonal"}}, id="object_color=blue,oe=small"),
    pytest.param({**FIGURE_2, "normal": {"object_shape": "cone", "object_color": ["red"]}}, id="figure_2_red"),
    pytest.param(FIGURE_2, id="figure_2_red_blue"),
])
def test_no_oe_or_validation_image_shows_an_intervened_value(factors: dict[str, Any]) -> None:
    """Paper 000 §5.1: SAD "has never seen a blue example". Not only the anomalous tuple stays out of the OE
    and of validation but every image with a value the intervention gives and the normal images lack: no blue
    object under colour -> blue, no cube under shape -> cube, no large object under size -> large."""
    parts = draw(data_config(factors), seed=2)
    normal = {name: value if isinstance(value, list) else [value] for name, value in factors["normal"].items()}
    for name, values in factors["intervention"].items():
        new = [v for v in (values if isinstance(values, list) else [values]) if v not in normal.get(name, [])]
        assert new, name
        codes = [FACTORS[name].index(v) for v in new]
        for part in ("oe", "val_anomaly"):
            shown = getattr(parts, part)[:, FACTOR_NAMES.index(name)]
            assert len(shown) and not np.isin(shown, codes).any(), (part, name, new)


def test_an_oe_filter_left_with_only_intervened_values_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"allows no OE image once the intervened values object_color \['blue'\]"):
        data_config({"normal": RED_CONE, "intervention": {"object_color": "blue"}, "oe": {"object_color": "blue"},
                     "val": {"object_shape": "hexagonal"}})


def test_figure_2_keeps_the_oe_to_other_shapes_in_the_normal_colours() -> None:
    parts = draw(data_config(FIGURE_2), seed=1)
    red_blue = [FACTORS["object_color"].index(c) for c in ("red", "blue")]
    assert set(parts.oe[:, 0].tolist()) <= set(red_blue) and set(parts.oe[:, 1].tolist()) == {2, 4, 5}
    assert set(parts.test_anomaly[:, 1].tolist()) == {1} and set(parts.test_anomaly[:, 0].tolist()) == set(range(6))
    assert set(parts.test_normal[:, 0].tolist()) == set(red_blue) and set(parts.train[:, 1].tolist()) == {0}
    assert set(parts.val_anomaly[:, 1].tolist()) == {3}  # hexagonal prisms in the normal colours
    assert set(parts.val_anomaly[:, 0].tolist()) <= set(red_blue)


def test_draws_follow_the_seed() -> None:
    cfg = data_config({"normal": RED_CONE, "intervention": INTERVENTIONS[0], "val": {"object_shape": "hexagonal"},
                       "dci_samples": 30})
    first, again, other = draw(cfg, 3), draw(cfg, 3), draw(cfg, 4)
    for a, b, c in zip(first.parts(), again.parts(), other.parts()):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    assert first.dci.shape == (30, len(FACTOR_NAMES)) and len(set(flat_index(first.dci).tolist())) == 30


def test_the_benchmark_holds_the_sources_images_of_the_drawn_tuples() -> None:
    factors = {"normal": RED_CONE, "intervention": {"object_shape": "cube"}, "val": {"object_shape": "hexagonal"},
               "dci_samples": 20}
    cfg = data_config(factors, n_normal=24, n_oe=24, n_val=8, n_test=32)
    bench, parts = make_benchmark(cfg, seed=5), draw(cfg, 5)
    source = factor_source("scenes")

    def images(codes: np.ndarray) -> torch.Tensor:
        return resize_images(source.images(codes), 16)

    torch.testing.assert_close(bench.train_normal, images(parts.train), rtol=0, atol=0)
    torch.testing.assert_close(bench.oe, images(parts.oe), rtol=0, atol=0)
    torch.testing.assert_close(bench.test_images, images(np.concatenate([parts.test_normal, parts.test_anomaly])),
                               rtol=0, atol=0)
    torch.testing.assert_close(bench.val_images, images(np.concatenate([parts.val_normal, parts.val_anomaly])),
                               rtol=0, atol=0)
    assert bench.test_labels.tolist() == [0] * 16 + [1] * 16 and bench.val_labels.tolist() == [0] * 8 + [1] * 8
    assert bench.train_normal.shape == (24, 3, 16, 16) and bench.dci_images.shape == (20, 3, 16, 16)
    np.testing.assert_array_equal(bench.dci_factors.numpy(), parts.dci)
    assert bench.info["n_oe"] == 24 and bench.info["n_test_anomalies"] == 16


@pytest.mark.parametrize("factors, data, message", [
    ({"normal": RED_CONE, "intervention": {"object_color": "red"}}, {},
     "leaves 14400 anomalous images that are also normal"),
    ({"normal": RED_CONE, "intervention": {"object_colour": "blue"}}, {}, "unknown factor.*'object_colour'"),
    ({"normal": RED_CONE, "intervention": {"object_color": "pink"}}, {}, "'pink' is not a value of object_color"),
    ({"normal": RED_CONE, "intervention": {"object_color": "blue"}}, {}, "oe_factor_holdout needs data.factors.val"),
    ({"normal": RED_CONE, "intervention": {"object_color": "blue"}, "val": {"object_shape": "cone"}},
     {"val_protocol": "oe_holdout"}, "data.factors.val is read by data.val_protocol oe_factor_holdout only"),
    ({"normal": RED_CONE, "intervention": {"object_color": "blue"}, "oe": RED_CONE,
      "val": {"object_shape": "hexagonal"}}, {}, "the OE filter .* allows no OE image once the normal"),
    ({"normal": RED_CONE, "intervention": {"object_color": "blue"}, "val": RED_CONE}, {},
     "data.factors.val .* allows no OE image"),
    ({"normal": RED_CONE, "intervention": {"object_color": "blue"}, "val": {"object_shape": "cube"}},
     {"n_normal": 14400}, "needs 14490 normal images .* allows 14400; lower the budget"),
    ({"normal": RED_CONE, "intervention": {"object_color": "blue"}, "val": {"object_shape": "cube"}},
     {"oe_corpus": "mnist5k"}, "set data.oe_corpus=scenes"),
    ({"normal": RED_CONE, "intervention": {"object_color": "blue"}, "val": {"object_shape": "cube"}},
     {"dataset": "cifar10", "oe_corpus": "cifar10"}, "unknown factor source 'cifar10'"),
    ({"normal": RED_CONE, "intervention": {"object_color": "blue"}, "val": {"object_shape": "cube"}},
     {"classes": [0, 1]}, "data.classes does not apply to benchmark factors"),
    ({**FIGURE_2, "oe": {"object_color": "red"}}, {}, "names object_color in both oe and oe_within_normal"),
])
def test_check_refuses_what_a_trial_could_not_run(factors: dict[str, Any], data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        data_config(factors, **data)


def test_other_benchmarks_refuse_factor_fields_and_factors_needs_them() -> None:
    with pytest.raises(ValidationError, match="only benchmark factors reads"):
        checked(DataConfig(factors={"normal": RED_CONE, "intervention": {"object_color": "blue"}}))
    with pytest.raises(ValidationError, match="benchmark factors needs data.factors"):
        checked(DataConfig(dataset="scenes", oe_corpus="scenes", benchmark="factors"))
    with pytest.raises(ValidationError, match="oe_factor_holdout does not fit benchmark leave_one_out"):
        checked(DataConfig(val_protocol="oe_factor_holdout"))


def test_counting_equals_enumerating() -> None:
    specs = [RED_CONE, {**RED_CONE, "object_color": "blue"}, {"object_shape": ["cube", "sphere"], "vertical_axis": [0, 7]},
             {"object_color": ["red", "blue"]}, {}]
    for a in specs:
        for b in specs:
            expected = int(allows(select(a), b).sum())
            assert count(a, b) == expected, (a, b)
    assert count() == count({}) == math.prod(len(values) for values in FACTORS.values())


def test_a_factor_trial_reports_dci_of_its_features(tiny_budget: dict[str, Any]) -> None:
    tiny_budget["data"].update(dataset="scenes", oe_corpus="scenes", benchmark="factors", val_protocol="oe_factor_holdout",
                               n_normal=32, n_oe=32, n_val=8, n_test=32,
                               factors={"normal": RED_CONE, "intervention": {"object_color": "blue"},
                                        "val": {"object_shape": "hexagonal"}, "dci_samples": 60})
    cfg = build_config(tiny_budget, {"method": {"name": "dsvdd"}})
    row = run_trial(cfg)
    assert row["status"] == "ok", row["message"]
    scores = [row[f"test_dci_{name}{kind}"] for name in ("disentanglement", "completeness", "informativeness")
              for kind in ("", "_random")]  # the trained features' scores, and a random code's beside them
    assert all(0.0 <= value <= 1.0 for value in scores) and 0.0 <= row["test_auroc"] <= 1.0
    assert set(empty_row(cfg, "ok")) == set(row)  # the DCI keys are fixed keys of a factors row
    without = build_config(cfg.model_dump(), {"data": {"factors": {"dci_samples": 0}}})
    assert empty_row(without, "ok")["test_dci_disentanglement"] is None

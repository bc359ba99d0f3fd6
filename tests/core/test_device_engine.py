"""The engine with its data and draws on the training device (runtime.data_on_device) and several
trials in one process (adcore.pack): on the CPU both give exactly what the engine gives alone with
host draws, the same seed giving the same metrics."""
import pytest
import torch
from pydantic import ValidationError

from adcore import build_config, run_trial
from adcore.pack import run_packed
from adcore.presets import preset
from adcore.trial import prepare_trial

METRICS = ("test_ap", "test_auroc", "val_ap", "val_auroc", "train_loss", "best_val_ap", "weight_shift")


def _metrics(row: dict) -> dict:
    assert row["status"] == "ok", row["message"]
    return {key: row[key] for key in METRICS}


@pytest.fixture
def augmented(tiny_budget) -> dict:
    """Whole network trained with crop + flip, one epoch: every draw of the engine is exercised."""
    tiny_budget["data"]["augment"] = True
    tiny_budget["optim"]["epochs"] = 1
    return tiny_budget


def test_resident_data_and_device_draws_give_the_host_engine_metrics(augmented) -> None:
    resident = build_config(augmented, preset("a7"), {"runtime": {"data_on_device": True}})
    on_host = build_config(augmented, preset("a7"), {"runtime": {"data_on_device": False}})
    assert _metrics(run_trial(resident)) == _metrics(run_trial(on_host))


def test_resident_trial_keeps_every_image_set_on_the_training_device(augmented) -> None:
    parts = prepare_trial(build_config(augmented, preset("a2"), {"runtime": {"data_on_device": True}}))
    bench = parts.bench
    for images in (bench.train_normal, bench.oe, bench.val_images, bench.test_images):
        assert images.device == parts.device and images.dtype == torch.uint8
    assert parts.generator.device == parts.device


def test_cuda_graph_is_ignored_on_the_cpu(augmented) -> None:
    graphed = build_config(augmented, preset("a2"), {"runtime": {"cuda_graph": True}})
    assert _metrics(run_trial(graphed)) == _metrics(run_trial(build_config(augmented, preset("a2"))))


def test_cuda_graph_and_reduce_overhead_are_one_too_many() -> None:
    with pytest.raises(ValidationError, match="choose one"):
        build_config({"runtime": {"cuda_graph": True, "compile": "reduce-overhead"}})


def test_packed_trials_give_exactly_their_metrics_alone(augmented) -> None:
    # different arms and seeds, a method that draws from torch's global generator (rot_msp rotates at random) and
    # one that keeps a frozen prefix, over two epochs (a schedule, an evaluation between): each packed trial must
    # see only its own random states
    augmented["optim"]["epochs"] = 2
    cfgs = [build_config(augmented, preset("a7"), {"seed": 1}),
            build_config(augmented, preset("rot_msp"), {"seed": 2, "data": {"benchmark": "leave_one_out"}}),
            build_config(augmented, preset("a2"), {"data": {"augment": False}, "model": {"train_stages": 1}})]
    alone = [run_trial(cfg) for cfg in cfgs]
    packed = run_packed(cfgs)
    assert [_metrics(row) for row in packed] == [_metrics(row) for row in alone]


def test_a_failing_packed_trial_leaves_the_others_running(tiny_budget) -> None:
    tiny_budget["optim"]["epochs"] = 1
    diverging = build_config(tiny_budget, preset("a2"), {"optim": {"lr": 1e12}})
    fine = build_config(tiny_budget, preset("a2"))
    reports: list[list[int]] = [[], []]
    rows = run_packed([diverging, fine], reports=[lambda m: reports[0].append(m["epoch"]),
                                                  lambda m: reports[1].append(m["epoch"])])
    assert rows[0]["status"] == "failed" and "NonFiniteLossError" in rows[0]["message"]
    assert _metrics(rows[1]) == _metrics(run_trial(fine))
    assert reports == [[], [1]]

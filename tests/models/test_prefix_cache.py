"""The frozen prefix's outputs (model.train_stages), cached on disk and shared: equal to running the
prefix, computed once when two trials ask at once, rebuilt (with a warning) when a file is corrupt,
kept under the size limit; and a trial with a frozen prefix trains only the last stages."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
import torch

from adcore import build_config, run_trial
from adcore.data.transforms import BatchTransform
from adcore.models import create_backbone
from adcore.presets import preset
from adcore.prefix import PrefixCache, prefix_key, prefix_outputs


@pytest.fixture(scope="module")
def prefix() -> tuple:
    backbone = create_backbone("efficientnet_lite0", pretrained=True).eval()
    backbone.freeze_prefix(3)
    transform = BatchTransform(backbone.input_mean, backbone.input_std, torch.device("cpu"), augment=False)
    images = torch.randint(0, 256, (24, 1, 32, 32), dtype=torch.uint8)
    return backbone, transform, images, prefix_key(backbone, transform.mean, transform.std)


def test_cached_outputs_equal_running_the_prefix(prefix, tmp_path: Path) -> None:
    backbone, transform, images, key = prefix
    cache = PrefixCache(tmp_path, limit_mb=100)
    first = prefix_outputs(backbone, images, transform.eval, cache, key, batch=8)
    assert torch.equal(first, backbone.prefix(transform.eval(images)))
    assert len(list(tmp_path.glob("*.pt"))) == 1
    again = prefix_outputs(backbone, images, transform.eval, cache, key, batch=8)
    assert torch.equal(again, first)
    assert len(list(tmp_path.glob("*.pt"))) == 1  # read back, not computed again
    other = prefix_outputs(backbone, images[:5], transform.eval, cache, key, batch=8)
    assert torch.equal(other, first[:5]) and len(list(tmp_path.glob("*.pt"))) == 2  # other images: their own file


def test_two_trials_asking_at_once_compute_once_and_read_a_whole_file(prefix, tmp_path: Path) -> None:
    backbone, transform, images, key = prefix
    calls, results = [], []

    def normalise(batch: torch.Tensor) -> torch.Tensor:
        calls.append(len(batch))
        return transform.eval(batch)

    def trial() -> None:
        results.append(prefix_outputs(backbone, images, normalise, PrefixCache(tmp_path, 100), key, batch=24))

    threads = [threading.Thread(target=trial) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [24] and torch.equal(results[0], results[1])  # one computed it, the other read it
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_corrupted_file_is_rebuilt_with_a_warning_never_used(prefix, tmp_path: Path, caplog) -> None:
    backbone, transform, images, key = prefix
    cache = PrefixCache(tmp_path, limit_mb=100)
    good = prefix_outputs(backbone, images, transform.eval, cache, key, batch=8)
    (path,) = tmp_path.glob("*.pt")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated, as a killed writer without os.replace
    with caplog.at_level(logging.WARNING, logger="adcore.prefix"):
        rebuilt = prefix_outputs(backbone, images, transform.eval, cache, key, batch=8)
    assert torch.equal(rebuilt, good) and "rebuilding" in caplog.text
    saved = torch.load(path, weights_only=True)
    saved["outputs"][0].add_(1.0)  # well-formed but altered: the checksum catches it
    torch.save(saved, path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="adcore.prefix"):
        assert torch.equal(prefix_outputs(backbone, images, transform.eval, cache, key, batch=8), good)
    assert "checksum" in caplog.text


def test_the_cache_stays_under_its_size_limit(prefix, tmp_path: Path) -> None:
    backbone, transform, images, key = prefix
    cache = PrefixCache(tmp_path, limit_mb=0)  # room for the newest file only
    for n in (6, 7, 8):
        prefix_outputs(backbone, images[:n], transform.eval, cache, key, batch=8)
    assert len(list(tmp_path.glob("*.pt"))) == 1


def test_a_trial_with_a_frozen_prefix_trains_only_the_last_stages(tiny_budget, tmp_path: Path) -> None:
    tiny_budget["data"]["augment"] = False
    tiny_budget["runtime"]["cache_dir"] = str(tmp_path)
    cfg = build_config(tiny_budget, preset("a7"), {"model": {"train_stages": 2}})
    first, second = run_trial(cfg), run_trial(cfg)
    assert first["status"] == "ok" and len(list((tmp_path / "prefix").glob("*.pt"))) == 4  # normal, OE, val, test
    assert {k: first[k] for k in ("test_ap", "val_ap", "weight_shift")} == {k: second[k] for k in ("test_ap", "val_ap", "weight_shift")}
    assert first["weight_shift"] > 0
    uncached = run_trial(build_config(cfg.model_dump(), {"runtime": {"prefix_cache": False}}))
    assert uncached["test_ap"] == pytest.approx(first["test_ap"], abs=1e-6)  # the frozen stages run on every batch
    refused = run_trial(build_config(tiny_budget, preset("geom"), {"model": {"train_stages": 2}, "data": {"augment": False}}))
    assert refused["status"] == "failed" and "leave model.train_stages unset" in refused["message"]
    with pytest.raises(ValueError, match="set data.augment=false"):
        build_config(tiny_budget, preset("a7"), {"model": {"train_stages": 2}, "data": {"augment": True}})

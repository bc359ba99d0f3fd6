"""The procedural OE corpus: fixed images, the ImageSet contract, usable as any benchmark's OE corpus."""
from __future__ import annotations

import torch

from adcore.data.config import DataConfig
from adcore.data import make_benchmark
from adcore.data.sources import SOURCES, load_source
from adcore.data.sources.smooth_noise import SIDE, SIZE


def test_the_corpus_is_the_same_on_every_load_and_uint8_grey() -> None:
    first, second = load_source("smooth_noise", "train"), load_source("smooth_noise", "train")
    assert "smooth_noise" in SOURCES.names()
    assert first.images.shape == (SIZE, 1, SIDE, SIDE) and first.images.dtype == torch.uint8
    assert torch.equal(first.images, second.images) and first.images is not second.images
    assert (first.labels == -1).all() and first.class_names == ()
    per_image = first.images.flatten(1).float()
    assert per_image.std(dim=1).min() > 5  # every image has structure, none is flat
    assert len({img.numpy().tobytes() for img in first.images[:500]}) == 500


def test_it_serves_as_the_oe_corpus_of_a_benchmark() -> None:
    cfg = DataConfig(benchmark="one_vs_rest", fold=0, oe_corpus="smooth_noise", image_size=16,
                     n_normal=32, n_oe=48, n_val=8, n_test=64)
    bench = make_benchmark(cfg, seed=0)
    assert bench.oe.shape == (48, 1, 16, 16) and bench.oe.dtype == torch.uint8
    assert bench.val_labels.tolist() == [0] * 8 + [1] * 8  # held-out noise images are the validation anomalies
    other = make_benchmark(cfg, seed=1)
    assert not torch.equal(bench.oe, other.oe)  # the trial seed subsamples the fixed corpus

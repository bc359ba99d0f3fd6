"""Class make-up of every benchmark on real Fashion-MNIST, and the no-peek validation sets."""
import pytest
import torch

from adcore.data.config import DataConfig
from adcore.data import make_benchmark
from adcore.data.sources import load_source
from adcore.data.transforms import resize_images

SMALL = dict(image_size=16, n_normal=200, n_oe=100, n_val=20, n_test=500)


def _train_classes(bench, cfg: DataConfig, candidates: list[int]) -> torch.Tensor:
    """Recover the classes of the training normals by matching them to the resized source images."""
    train = load_source(cfg.dataset, "train")
    keep = torch.isin(train.labels, torch.tensor(candidates))
    resized = resize_images(train.images[keep], cfg.image_size)
    lookup = {img.numpy().tobytes(): int(label) for img, label in zip(resized, train.labels[keep])}
    return torch.tensor([lookup[img.numpy().tobytes()] for img in bench.train_normal])


def test_leave_one_out_makeup() -> None:
    cfg = DataConfig(benchmark="leave_one_out", fold=3, **SMALL)
    bench = make_benchmark(cfg, seed=0)
    assert bench.info["normal_classes"] == [c for c in range(10) if c != 3]
    assert bench.info["anomaly_classes"] == [3]
    anomalous = bench.test_labels == 1
    assert torch.equal(anomalous, bench.test_classes == 3)
    assert bench.train_normal.shape == (200, 1, 16, 16) and bench.train_normal.dtype == torch.uint8
    assert bench.oe.shape[0] == 100
    # validation: held-out normals vs held-out OE images, never the test anomaly class
    assert bench.val_labels.tolist() == [0] * 20 + [1] * 20
    assert bench.info["val_protocol"] == "oe_holdout"


def test_leave_one_out_class_holdout_keeps_test_class_out_of_validation() -> None:
    cfg = DataConfig(benchmark="leave_one_out", fold=3, val_protocol="class_holdout", **SMALL)
    bench = make_benchmark(cfg, seed=0)
    held = bench.info["val_anomaly_class"]
    assert held not in (3,) and held not in bench.info["normal_classes"]
    assert not (bench.test_classes == held).any()  # removed from the test as well
    assert set(bench.test_classes[bench.test_labels == 1].tolist()) == {3}


def test_one_vs_rest_makeup() -> None:
    bench = make_benchmark(DataConfig(benchmark="one_vs_rest", fold=7, **SMALL), seed=1)
    assert torch.equal(bench.test_labels == 0, bench.test_classes == 7)
    assert bench.info["anomaly_classes"] == [c for c in range(10) if c != 7]


@pytest.mark.parametrize("ratio,expected_secondary", [(0.0, 0), (0.5, 67), (1.0, 100)])
def test_minor_mode_makeup(ratio: float, expected_secondary: int) -> None:
    cfg = DataConfig(benchmark="minor_mode", fold=7, secondary_class=9, minor_ratio=ratio, **SMALL)
    bench = make_benchmark(cfg, seed=0)
    assert bench.info["n_secondary"] == expected_secondary  # round(200 * r / (1 + r))
    classes = _train_classes(bench, cfg, [7, 9])
    assert (classes == 9).sum().item() == expected_secondary
    assert (classes == 7).sum().item() == 200 - expected_secondary
    normal_test = bench.test_labels == 0
    assert set(bench.test_classes[normal_test].tolist()) == {7, 9}


def test_same_seed_same_images_other_seed_other_images() -> None:
    cfg = DataConfig(**SMALL)
    a, b, c = make_benchmark(cfg, 0), make_benchmark(cfg, 0), make_benchmark(cfg, 1)
    assert torch.equal(a.train_normal, b.train_normal) and torch.equal(a.test_images, b.test_images)
    assert not torch.equal(a.train_normal, c.train_normal)


def test_oe_corpus_equal_to_dataset_is_refused() -> None:
    with pytest.raises(ValueError, match="oe_corpus"):
        make_benchmark(DataConfig(oe_corpus="fashion_mnist", **SMALL), 0)


def test_budget_larger_than_data_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="lower the budget"):
        make_benchmark(DataConfig(benchmark="one_vs_rest", n_normal=10_000, **{k: v for k, v in SMALL.items() if k != "n_normal"}), 0)


def test_all_normals_leaves_the_validation_normals_out() -> None:
    cfg = DataConfig(benchmark="one_vs_rest", fold=2, image_size=16, n_normal=None, n_oe=100, n_val=20, n_test=200)
    bench = make_benchmark(cfg, 0)
    assert len(bench.train_normal) == 6000 - 20 and bench.val_labels.tolist().count(0) == 20


def test_an_oe_corpus_of_another_image_size() -> None:
    bench = make_benchmark(DataConfig(oe_corpus="digits", **SMALL), 0)  # 8x8 OE, 28x28 normals
    assert bench.val_images.shape[1:] == bench.oe.shape[1:] == (1, 16, 16)

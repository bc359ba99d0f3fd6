"""Class make-up of every benchmark on real Fashion-MNIST, and the no-peek validation sets."""
import pytest
import torch
from pydantic import ValidationError

from adcore.data import make_benchmark
from adcore.data.config import DataConfig
from adcore.data.overlap import overlap_error
from adcore.data.protocols import checked
from adcore.data.sources import SOURCES, ImageSet, load_source
from adcore.data.transforms import resize_images

SMALL = dict(image_size=16, n_normal=200, n_oe=100, n_val=20, n_test=500)


def _source_classes(images: torch.Tensor, image_size: int, candidates: list[int] | None = None) -> torch.Tensor:
    """The Fashion-MNIST train class of each resized image, found by matching it to the source images."""
    train = load_source("fashion_mnist", "train")
    keep = torch.isin(train.labels, torch.tensor(candidates)) if candidates else torch.ones(len(train), dtype=torch.bool)
    resized = resize_images(train.images[keep], image_size)
    lookup = {img.numpy().tobytes(): int(label) for img, label in zip(resized, train.labels[keep])}
    return torch.tensor([lookup[img.numpy().tobytes()] for img in images])


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
    classes = _source_classes(bench.train_normal, cfg.image_size, [7, 9])
    assert (classes == 9).sum().item() == expected_secondary
    assert (classes == 7).sum().item() == 200 - expected_secondary
    normal_test = bench.test_labels == 0
    assert set(bench.test_classes[normal_test].tolist()) == {7, 9}


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


SPLIT = dict(dataset="fashion_mnist", classes=[0, 2, 4, 6, 8], oe_corpus="fashion_mnist", oe_classes=[1, 3, 5, 7, 9])


def _classes_of(images: torch.Tensor, cfg: DataConfig) -> set[int]:
    return set(_source_classes(images, cfg.image_size).tolist())


def test_a_class_split_keeps_benchmark_and_oe_classes_apart() -> None:
    cfg = DataConfig(benchmark="leave_one_out", fold=4, **SPLIT, **SMALL)
    bench = make_benchmark(cfg, seed=0)
    assert bench.info["normal_classes"] == [0, 2, 6, 8] and bench.info["anomaly_classes"] == [4]
    assert set(bench.train_classes.tolist()) == {0, 2, 6, 8}
    assert set(bench.test_classes.tolist()) == {0, 2, 4, 6, 8}  # the odd classes are neither normal nor tested
    assert torch.equal(bench.test_labels == 1, bench.test_classes == 4)
    assert _classes_of(bench.oe, cfg) <= {1, 3, 5, 7, 9} and len(bench.oe) == 100
    one_vs_rest = make_benchmark(DataConfig(benchmark="one_vs_rest", fold=2, **SPLIT, **SMALL), seed=0)
    assert one_vs_rest.info["anomaly_classes"] == [0, 4, 6, 8]


def test_the_overlap_guard_refuses_oe_of_the_benchmarks_own_classes() -> None:
    with pytest.raises(ValueError, match="every one of its classes is a benchmark class"):
        make_benchmark(DataConfig(oe_corpus="fashion_mnist", **SMALL), 0)
    # left unset, the OE classes of the dataset's own collection are the classes outside data.classes
    cfg = DataConfig(oe_corpus="fashion_mnist", classes=[0, 2, 4], **SMALL)
    bench = make_benchmark(cfg, 0)
    assert bench.info["oe_classes"] == [1, 3, 5, 6, 7, 8, 9] and _classes_of(bench.oe, cfg) <= {1, 3, 5, 6, 7, 8, 9}
    with pytest.raises(ValueError, match=r"hold the benchmark's classes \(coat\)"):  # class 4 is Coat
        make_benchmark(DataConfig(oe_corpus="fashion_mnist", classes=[0, 2, 4], oe_classes=[4, 5], **SMALL), 0)
    with pytest.raises(ValidationError, match="fold 1 is not one of data.classes"):
        checked(DataConfig(fold=1, classes=[0, 2, 4]))


def _digits(n_classes: int = 10, concepts=None) -> ImageSet:
    return ImageSet(torch.zeros(n_classes, 1, 2, 2, dtype=torch.uint8), torch.arange(n_classes),
                    tuple(str(d) for d in range(n_classes)), concepts)


@pytest.mark.parametrize("dataset,oe,oe_classes,refused", [
    ("mnist", "mnist5k", None, "same collection (mnist)"),  # a subset of the same images
    ("mnist", "digits", None, "same vocabulary (digits)"),  # other images, the same ten classes
    ("mnist", "svhn", None, "same vocabulary (digits)"),
    ("mnist", "digits", [5, 6, 7, 8, 9], None),  # a class split: OE digits the benchmark does not use
    ("fashion_mnist", "mnist5k", None, None),  # other images, other classes
])
def test_the_overlap_guard_compares_collections_and_classes_not_names(dataset, oe, oe_classes, refused) -> None:
    error = overlap_error(SOURCES.get(dataset), _digits(), [0, 1, 2, 3, 4], SOURCES.get(oe), _digits(), oe_classes)
    assert (error is None) if refused is None else (refused in error and "data.oe_classes" in error)


def test_the_overlap_guard_reads_a_superclass_as_its_fine_classes() -> None:
    fine = ImageSet(torch.zeros(3, 1, 2, 2, dtype=torch.uint8), torch.arange(3), ("beaver", "dolphin", "maple_tree"))
    coarse = ImageSet(torch.zeros(2, 1, 2, 2, dtype=torch.uint8), torch.arange(2), ("aquatic_mammals", "trees"),
                      (frozenset({"beaver", "dolphin"}), frozenset({"maple_tree"})))
    cifar100, coarse_source = SOURCES.get("cifar100"), SOURCES.get("cifar100_coarse")
    assert "beaver" in overlap_error(cifar100, fine, [0, 2], coarse_source, coarse, None)
    assert overlap_error(cifar100, fine, [2], coarse_source, coarse, [0]) is None  # trees vs aquatic mammals
    car = ImageSet(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), torch.arange(1), ("car",))
    automobile = ImageSet(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), torch.arange(1), ("automobile",),
                          (frozenset({"automobile", "car"}),))
    assert "car" in overlap_error(SOURCES.get("stl10"), car, [0], SOURCES.get("cifar10"), automobile, None)


@pytest.mark.parametrize("fold", [0, 2, 4, 6, 8])
def test_oe_class_holdout_validates_on_an_oe_class_never_a_test_class(fold: int) -> None:
    cfg = DataConfig(benchmark="leave_one_out", fold=fold, val_protocol="oe_class_holdout", **SPLIT, **SMALL)
    bench = make_benchmark(cfg, seed=0)
    held = bench.info["val_anomaly_oe_class"]
    assert held == fold + 1  # a different OE class for each fold
    val_anomalies = bench.val_images[bench.val_labels == 1]
    assert _classes_of(val_anomalies, cfg) == {held} and held not in set(bench.test_classes.tolist())
    assert held not in _classes_of(bench.oe, cfg)  # held out of the training OE
    assert _classes_of(bench.val_images[bench.val_labels == 0], cfg) <= set(bench.info["normal_classes"])

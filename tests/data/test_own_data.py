"""A researcher's own data on tiny datasets written here: an image folder (one split, or train/ and
test/), the MVTec AD layout, an .npz and paper 002's ImageNet subsets on a fake synset tree. Their
class make-up, the drawn test split (seeded, stratified, disjoint from training), and the decode
cache: equal to a direct decode, decoded once and reused, unreadable files reported by path."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adcore.data import make_benchmark
from adcore.data.config import DataConfig
from adcore.data.decode_cache import DecodeSpec, decode_image, decoded_images
from adcore.data.sources import DataConfigError, LoadSettings, load_split, resolve_source
from adcore.data.sources.imagenet_subsets import MEMBERS
from adcore.data.sources.imagenet_names import synset_of, synsets
from adcore.data.splits import n_test_images
from own_data import identity, pixels, write_classes, write_mvtec, write_npz

SMALL = dict(image_size=8, n_normal=10, n_oe=20, n_val=4, n_test=None)
FLOWERS = {"daisy": 20, "rose": 20, "tulip": 20}


def folder(root: Path, **params) -> dict:
    return {"name": "image_folder", "root": str(root), **params}


def bench_of(tmp_path: Path, seed: int = 0, **data):
    return make_benchmark(DataConfig(**{**SMALL, **data}), seed, tmp_path / "cache")


def ids(images) -> list[tuple[int, int]]:
    return identity(images.numpy())


def test_an_image_folder_is_one_split_with_its_test_split_drawn(tmp_path: Path) -> None:
    write_classes(tmp_path / "flowers", FLOWERS)
    bench = bench_of(tmp_path, dataset=folder(tmp_path / "flowers"), benchmark="one_vs_rest", fold=1)
    assert bench.info["class_names"] == ["daisy", "rose", "tulip"] and bench.info["test_split"] == "drawn"
    assert bench.train_normal.shape == (10, 3, 8, 8)
    assert {label for label, _ in ids(bench.train_normal)} == {1}
    test = ids(bench.test_images)
    assert len(test) == 3 * n_test_images(20, 0.2) == 12
    assert [label for label, _ in test] == bench.test_classes.tolist()
    assert bench.test_labels.tolist() == [int(label != 1) for label, _ in test]


@pytest.mark.parametrize("benchmark", ["one_vs_rest", "leave_one_out"])
def test_the_drawn_test_split_is_seeded_stratified_and_never_trained_on(tmp_path: Path, benchmark: str) -> None:
    write_classes(tmp_path / "flowers", FLOWERS)
    every = {(label, index) for label in range(3) for index in range(20 * label, 20 * label + 20)}
    tests = {}
    for seed in (0, 0, 1):
        bench = bench_of(tmp_path, seed, dataset=folder(tmp_path / "flowers"), benchmark=benchmark, fold=0,
                         n_normal=None)
        test = set(ids(bench.test_images))
        assert all(sum(label == c for label, _ in test) == n_test_images(20, 0.2) for c in range(3))  # stratified
        normals = set(ids(bench.train_normal)) | set(ids(bench.val_images[bench.val_labels == 0]))
        assert not normals & test
        chosen = {c for c in range(3) if c != 0} if benchmark == "leave_one_out" else {0}
        assert normals == {item for item in every - test if item[0] in chosen}  # n_normal null: all the rest
        tests.setdefault(seed, []).append(test)
    assert tests[0][0] == tests[0][1] and tests[0][0] != tests[1][0]


def test_a_folder_with_train_and_test_holds_the_classes_of_both(tmp_path: Path) -> None:
    write_classes(tmp_path / "parts" / "train", {"good": 30, "worn": 10})
    write_classes(tmp_path / "parts" / "test", {"good": 5, "worn": 3, "cracked": 4}, start=500)
    bench = bench_of(tmp_path, dataset=folder(tmp_path / "parts"), benchmark="one_vs_rest", fold=1)
    assert bench.info["class_names"] == ["cracked", "good", "worn"] and bench.info["test_split"] == "source"
    assert {index for _, index in ids(bench.test_images)} == set(range(500, 512))
    assert sorted(bench.test_classes.tolist()) == [0] * 4 + [1] * 5 + [2] * 3
    chosen = bench_of(tmp_path, dataset=folder(tmp_path / "parts", classes=["worn", "good"]), benchmark="one_vs_rest",
                      fold=1)
    assert chosen.info["class_names"] == ["worn", "good"] and chosen.info["n_test"] == 8  # no cracked images


def test_the_mvtec_layout_gives_image_level_labels(tmp_path: Path) -> None:
    write_mvtec(tmp_path / "mvtec")
    cfg = dict(dataset={"name": "mvtec", "root": str(tmp_path / "mvtec"), "category": "bottle"},
               benchmark="one_vs_rest", fold=0)
    bench = bench_of(tmp_path, **cfg)
    assert bench.info["class_names"] == ["good", "broken_large", "contamination"]
    assert sorted(bench.test_classes.tolist()) == [0] * 6 + [1] * 5 + [2] * 4
    assert bench.test_labels.tolist() == (bench.test_classes != 0).long().tolist()  # good = 0, any defect = 1
    assert {label for label, _ in ids(bench.train_normal)} == {0} and bench.info["test_split"] == "source"
    with pytest.raises(DataConfigError, match="data.dataset.category: no folder .*cable; categories under .*: bottle"):
        bench_of(tmp_path, **{**cfg, "dataset": {**cfg["dataset"], "category": "cable"}})


def test_an_npz_with_and_without_a_test_split(tmp_path: Path) -> None:
    write_npz(tmp_path / "two.npz", [15, 15, 15], [4, 4, 4], names=["ant", "bee", "cat"])
    bench = bench_of(tmp_path, dataset={"name": "npz", "path": str(tmp_path / "two.npz")}, benchmark="leave_one_out",
                     fold=2)
    assert bench.info["class_names"] == ["ant", "bee", "cat"] and bench.info["test_split"] == "source"
    assert bench.train_normal.shape == (10, 3, 8, 8) and {label for label, _ in ids(bench.train_normal)} == {0, 1}
    assert sorted(index for _, index in ids(bench.test_images)) == list(range(5000, 5012))
    write_npz(tmp_path / "one.npz", [20, 20])
    bench = bench_of(tmp_path, dataset={"name": "npz", "path": str(tmp_path / "one.npz")}, benchmark="one_vs_rest")
    assert bench.info["class_names"] == ["0", "1"] and bench.info["test_split"] == "drawn"
    np.savez(tmp_path / "float.npz", x_train=np.zeros((4, 8, 8), np.float32), y_train=np.zeros(4, int))
    with pytest.raises(DataConfigError, match=r"data.dataset.path: .*x_train is float32 \(4, 8, 8\); images are uint8"):
        bench_of(tmp_path, dataset={"name": "npz", "path": str(tmp_path / "float.npz")})


def test_the_decode_cache_equals_a_direct_decode_and_is_decoded_once(tmp_path: Path, monkeypatch) -> None:
    files = write_classes(tmp_path / "images", {"a": 6, "b": 6})
    wide = tmp_path / "images" / "b" / "wide.png"  # 20 x 12: cropped to its centre square
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)).save(wide)
    files.append(wide)
    calls = []
    original = decode_image
    monkeypatch.setattr("adcore.data.decode_cache.decode_image", lambda path, spec: calls.append(path) or original(path, spec))
    spec = DecodeSpec(8)
    first = decoded_images(files, spec, tmp_path / "cache")
    assert first.decoded == len(files) == len(calls) and first.images.shape == (13, 3, 8, 8)
    assert np.array_equal(first.images, np.stack([original(path, spec) for path in files]))
    assert all(np.array_equal(first.images[i], np.asarray(Image.open(path)).transpose(2, 0, 1))  # at size: the pixels
               for i, path in enumerate(files[:-1]))
    cropped = np.asarray(Image.open(wide).resize((8, 8), Image.Resampling.BILINEAR, box=(4, 0, 16, 12)))  # centre square
    assert np.array_equal(first.images[-1], cropped.transpose(2, 0, 1))
    again = decoded_images(files, spec, tmp_path / "cache")
    assert again.decoded == 0 and len(calls) == len(files) and np.array_equal(again.images, first.images)
    Image.fromarray(pixels(0, 99)).save(files[0])  # a changed file is a new entry
    assert decoded_images(files, spec, tmp_path / "cache").decoded == len(files)


def test_trials_on_one_node_decode_a_folder_once(tmp_path: Path, monkeypatch) -> None:
    write_classes(tmp_path / "flowers", FLOWERS)
    calls = []
    original = decode_image
    monkeypatch.setattr("adcore.data.decode_cache.decode_image", lambda path, spec: calls.append(path) or original(path, spec))
    # the OE corpus: the folder's daisies, kept apart from the benchmark's roses and tulips
    cfg = dict(dataset=folder(tmp_path / "flowers"), oe_corpus=folder(tmp_path / "flowers", classes=["daisy"]),
               classes=[1, 2], fold=1, benchmark="one_vs_rest", n_oe=10)
    with ThreadPoolExecutor(2) as pool:  # two trials at once, then a third
        benches = [future.result() for future in [pool.submit(bench_of, tmp_path, **cfg) for _ in range(2)]]
    benches.append(bench_of(tmp_path, **cfg))
    assert len(calls) == 60 + 20  # the folder once, the one-class OE folder once
    assert all(np.array_equal(bench.train_normal, benches[0].train_normal) for bench in benches)


def test_unreadable_images_are_listed_by_path_or_skipped_with_a_count(tmp_path: Path) -> None:
    files = write_classes(tmp_path / "photos", {"cat": 12, "dog": 12}, suffix=".jpg")
    truncated, garbage = files[3], files[15]
    truncated.write_bytes(truncated.read_bytes()[:200])
    garbage.write_bytes(b"not a jpeg at all")
    cfg = dict(dataset=folder(tmp_path / "photos"), benchmark="one_vs_rest", n_normal=4)
    with pytest.raises(DataConfigError) as error:
        bench_of(tmp_path, **cfg)
    assert error.value.key == "data.dataset.unreadable"
    assert str(truncated) in error.value.message and str(garbage) in error.value.message
    assert "2 of 24 image files" in error.value.message and "unreadable: skip" in error.value.message
    skip = folder(tmp_path / "photos", unreadable="skip")
    bench = bench_of(tmp_path, **{**cfg, "dataset": skip})
    assert bench.info["n_skipped_images"] == 2
    images = load_split(resolve_source(DataConfig(dataset=skip).dataset, "data.dataset", LoadSettings(image_size=8,
                                       cache_dir=tmp_path / "cache")), "train")
    assert len(images) == 22 and images.unreadable == (str(truncated), str(garbage))


def test_a_damaged_cache_entry_is_decoded_again(tmp_path: Path, caplog) -> None:
    files = write_classes(tmp_path / "images", {"a": 5, "b": 5})
    first = decoded_images(files, DecodeSpec(8), tmp_path / "cache")
    (entry,) = (tmp_path / "cache").glob("*.npy")
    del first
    entry.write_bytes(entry.read_bytes()[:300])  # truncated
    again = decoded_images(files, DecodeSpec(8), tmp_path / "cache")
    assert again.decoded == 10 and "incomplete or damaged" in caplog.text
    assert np.array_equal(again.images, np.stack([decode_image(path, DecodeSpec(8)) for path in files]))


# --- paper 002's ImageNet subsets -----------------------------------------------------------------


def test_every_member_of_table_8_is_one_imagenet_class() -> None:
    assert {subset: len(members) for subset, members in MEMBERS.items()} == {"dog": 12, "car": 10, "snake": 9,
                                                                               "spider": 6, "fungus": 6}  # Table 1
    found = [synset_of(member) for members in MEMBERS.values() for member in members]
    assert len(set(found)) == 43 and set(found) <= set(synsets())
    assert synset_of("beagle") == "n02088364" and synset_of("basset hound") == "n02088238"
    assert synset_of("race car") == "n04037443" and synset_of("Argiope aurantia") == "n01773157"


def write_imagenet(root: Path, subset: str, extra: tuple[str, ...] = ("n01440764", "n01443537")) -> list[str]:
    """train/<synset>/ (8 images) and val/<synset>/ (2) for the subset's members and some other classes."""
    folders = [synset_of(member) for member in MEMBERS[subset]] + list(extra)
    write_classes(root / "train", dict.fromkeys(folders, 8))
    write_classes(root / "val", dict.fromkeys(folders, 2), start=5000)
    return folders


def test_an_imagenet_subset_on_a_fake_synset_tree(tmp_path: Path) -> None:
    write_imagenet(tmp_path / "imagenet", "spider")
    cfg = dict(dataset={"name": "imagenet_subset", "root": str(tmp_path / "imagenet"), "subset": "spider"},
               benchmark="leave_one_out", fold=2, n_normal=20)
    bench = bench_of(tmp_path, **cfg)
    assert bench.info["class_names"] == list(MEMBERS["spider"]) and bench.info["anomaly_classes"] == [2]
    assert len(bench.test_labels) == 12 and int(bench.test_labels.sum()) == 2  # skew 1/6, as Table 5's
    assert {label for label, _ in ids(bench.train_normal)} <= {0, 1, 3, 4, 5}
    whole = {"name": "image_folder", "root": str(tmp_path / "imagenet"), "test": "val"}  # every synset folder
    with pytest.raises(DataConfigError, match="data.oe_classes: .*same collection.*n01775062"):
        bench_of(tmp_path, **cfg, oe_corpus=whole, oe_classes=[0, 7], n_oe=10)  # tench and a member
    for chosen in ({"oe_classes": [0, 1]}, {}):  # tench and goldfish; left unset, the folders that are no member
        bench = bench_of(tmp_path, **cfg, **chosen, oe_corpus=whole, n_oe=10)
        assert bench.info["oe_classes"] == [0, 1] and {label for label, _ in ids(bench.oe)} == {6, 7}

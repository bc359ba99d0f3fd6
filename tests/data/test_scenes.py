"""Paper 000 §5.1's data: MPI3D's factor layout, rendered scenes, the MPI3D reader and DCI.

Scenes are checked through their per-pixel coverage (the fraction of each pixel's samples on the
background, the arm and the object), so "only object pixels change" is exact: pixels with no
object sample must be byte-identical, pixels wholly on the object must all differ.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from adcore.cache import default_cache_dir
from adcore.data.factors import FACTOR_NAMES, NUM_IMAGES, SIZES, check_codes, codes_of, flat_index, select
from adcore.data.sources import DataNotFoundError, factor_source, factor_sources
from adcore.data.sources import scenes as sc
from adcore.data.sources.base import DATA_ROOT_ENV
from adcore.data.sources.mpi3d import MPI3D
from adcore.disentanglement import dci
from adcore.registry import UnknownNameError

# a red small cone, center camera, purple background, arm at horizontal 10, vertical 15
BASE = np.array([2, 0, 0, 1, 0, 10, 15])
BACKGROUND, ARM, OBJECT = sc.BACKGROUND, sc.ARM, sc.OBJECT


def varied(factor: str, values: list[int], base: np.ndarray = BASE) -> np.ndarray:
    """(len(values), 7) codes equal to ``base`` except ``factor``, which takes ``values``."""
    codes = np.repeat(base[None], len(values), axis=0)
    codes[:, FACTOR_NAMES.index(factor)] = values
    return codes


def coverage(codes: np.ndarray) -> torch.Tensor:
    """(N, 3, 64, 64): fraction of each pixel's samples on background, arm, object."""
    return sc.shading_of(codes).coverage


def object_centre(codes: np.ndarray) -> torch.Tensor:
    """(N, 2) coverage-weighted (row, column) of the object."""
    cover = coverage(codes)[:, OBJECT]
    rows, cols = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    area = cover.sum((1, 2))
    return torch.stack([(cover * rows).sum((1, 2)) / area, (cover * cols).sum((1, 2)) / area], dim=1)


# --- the factor layout --------------------------------------------------------------------------

def test_layout_is_mpi3ds() -> None:
    assert FACTOR_NAMES == ("object_color", "object_shape", "object_size", "camera_height",
                            "background_color", "horizontal_axis", "vertical_axis")
    assert SIZES == (6, 6, 2, 3, 3, 40, 40) and NUM_IMAGES == 1_036_800
    source = factor_source("scenes")
    assert source.factor_values[1] == ("cone", "cube", "cylinder", "hexagonal", "pyramid", "sphere")
    assert source.factor_values[4] == ("purple", "sea_green", "salmon")


def test_flat_index_is_row_major() -> None:
    flat = np.array([0, 1, 39, 40, 1600, 123_456, NUM_IMAGES - 1])
    codes = codes_of(flat)
    np.testing.assert_array_equal(flat_index(codes), flat)
    # the index MPI3D's reshape([6, 6, 2, 3, 3, 40, 40, ...]) gives each tuple
    grid = np.arange(NUM_IMAGES).reshape(SIZES)
    np.testing.assert_array_equal(grid[tuple(codes.T)], flat)
    np.testing.assert_array_equal(codes[-1], np.array(SIZES) - 1)


def test_select_counts_are_products_of_the_free_factor_sizes() -> None:
    red_cones = select({"object_color": "red", "object_shape": "cone"})
    assert red_cones.shape == (2 * 3 * 3 * 40 * 40, 7)
    assert (red_cones[:, 0] == 2).all() and (red_cones[:, 1] == 0).all()
    assert (np.diff(flat_index(red_cones)) > 0).all()  # row-major order, no repeats
    some = select({"object_color": ["red", 3], "horizontal_axis": [0, "39"], "object_size": "large"})
    assert len(some) == 2 * 6 * 1 * 3 * 3 * 2 * 40
    assert set(some[:, 0]) == {2, 3} and set(some[:, 5]) == {0, 39} and set(some[:, 2]) == {1}
    np.testing.assert_array_equal(select({"object_color": 2, "object_shape": 0}), red_cones)
    assert len(select({})) == NUM_IMAGES


def test_select_rejects_unknown_names_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown factor.*'colour'.*valid factors: object_color, object_shape"):
        select({"colour": "red"})
    with pytest.raises(ValueError, match="'pink' is not a value of object_color; valid values: white, green, red"):
        select({"object_color": ["red", "pink"]})
    with pytest.raises(ValueError, match="40 is not a value of vertical_axis; valid values: 0..39"):
        select({"vertical_axis": 40})
    with pytest.raises(ValueError, match="out of range 0..1"):
        check_codes(np.array([[0, 0, 2, 0, 0, 0, 0]]))
    with pytest.raises(ValueError, match=r"\(N, 7\) int array"):
        check_codes(np.zeros((3, 6), dtype=int))


def test_registry_holds_the_scenes_and_every_mpi3d_variant() -> None:
    assert {"scenes", "mpi3d_toy", "mpi3d_realistic", "mpi3d_real"} <= set(factor_sources().names())
    with pytest.raises(UnknownNameError, match="valid factor sources: mpi3d_real, mpi3d_realistic"):
        factor_source("mpi3d")


# --- rendered scenes: each factor changes only its own attribute ------------------------------------

def test_scene_images_are_uint8_rgb_64() -> None:
    images = sc.render(varied("object_shape", list(range(6))))
    assert images.dtype == torch.uint8 and images.shape == (6, 3, 64, 64)
    cover = coverage(varied("object_shape", list(range(6))))
    torch.testing.assert_close(cover.sum(1), torch.ones(6, 64, 64))


def test_background_colour_changes_only_background_pixels() -> None:
    codes = varied("background_color", [0, 1, 2])
    images, cover = sc.render(codes).int(), coverage(codes)
    assert (cover == cover[:1]).all()  # the same geometry
    no_background = cover[0, BACKGROUND] == 0
    only_background = cover[0, BACKGROUND] == 1
    assert no_background.sum() > 50 and only_background.sum() > 3000
    for other in (1, 2):
        diff = (images[other] - images[0]).abs().amax(0)
        assert (diff[no_background] == 0).all()  # arm and object pixels are identical
        assert (diff[only_background] > 0).all()  # every pure background pixel changed


def test_object_colour_changes_only_object_pixels() -> None:
    codes = varied("object_color", list(range(6)))
    images, cover = sc.render(codes).int(), coverage(codes)
    assert (cover == cover[:1]).all()
    no_object, only_object = cover[0, OBJECT] == 0, cover[0, OBJECT] == 1
    assert only_object.sum() >= 30
    for other in range(1, 6):
        diff = (images[other] - images[0]).abs().amax(0)
        assert (diff[no_object] == 0).all() and (diff[only_object] > 0).all()
    # six distinguishable colours: mean object colours at least 30 apart (0..255) in some channel
    means = torch.stack([images[i][:, only_object].float().mean(1) for i in range(6)])
    gaps = (means[:, None] - means[None]).abs().amax(-1) + 1000 * torch.eye(6)
    assert gaps.min() > 30


def test_size_scales_the_object_area_only() -> None:
    for camera in range(3):
        codes = varied("object_size", [0, 1], varied("camera_height", [camera])[0])
        cover = coverage(codes)
        area = cover[:, OBJECT].sum((1, 2))
        assert 1.6 < area[1] / area[0] < 2.4  # linear scale 0.42 / 0.3 = 1.4, area 1.96
        images = sc.render(codes).int()
        background_in_both = (cover[:, BACKGROUND] == 1).all(0)
        assert (images[1] - images[0]).abs().amax(0)[background_in_both].eq(0).all()


def test_shape_changes_the_object_mask_but_not_the_background() -> None:
    codes = varied("object_shape", list(range(6)))
    images, cover = sc.render(codes).int(), coverage(codes)
    masks = cover[:, OBJECT] > 0.5
    for a in range(6):
        for b in range(a + 1, 6):
            assert (masks[a] != masks[b]).sum() >= 4, (a, b)  # every pair of silhouettes differs
            background_in_both = (cover[[a, b], BACKGROUND] == 1).all(0)
            assert (images[a] - images[b]).abs().amax(0)[background_in_both].eq(0).all()


def test_shapes_are_shaded_not_flat() -> None:
    """A cube shows faces of different brightness, a sphere a gradient: the object's pixels span a
    wide range of diffuse factors, where a flat silhouette would have one."""
    cover = sc.shading_of(varied("object_shape", [1, 5], varied("object_size", [1])[0]))
    for i in range(2):
        inside = cover.coverage[i, OBJECT] == 1
        shade = cover.diffuse[i, OBJECT][inside]
        assert shade.max() - shade.min() > 0.3


def test_camera_height_moves_the_view() -> None:
    codes = varied("camera_height", [0, 1, 2])
    cover = coverage(codes)
    rows = object_centre(codes)[:, 0]
    assert rows[0] - rows[1] > 2 and rows[1] - rows[2] > 2  # top, center, bottom: the object rises in the frame
    for a, b in ((0, 1), (1, 2), (0, 2)):
        assert ((cover[a] - cover[b]).abs().sum(0) > 0).sum() > 100  # floor, wall, arm and object move


def test_axes_move_the_arm_and_the_object() -> None:
    steps = [0, 13, 26, 39]
    cols = object_centre(varied("horizontal_axis", steps))[:, 1]
    assert (cols.diff() > 5).all()  # the horizontal axis sweeps the object left to right
    rows = object_centre(varied("vertical_axis", steps))[:, 0]
    assert (rows.diff() > 3).all()  # the vertical axis lowers it
    for factor in ("horizontal_axis", "vertical_axis"):
        arm = coverage(varied(factor, steps))[:, ARM] > 0.5
        assert all((arm[i] != arm[i + 1]).sum() > 10 for i in range(3))  # the arm's pose shows


# --- rendered scenes: determinism, exact culling, cache ------------------------------------------

def random_codes(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, size, n) for size in SIZES], axis=1)


def test_renders_depend_on_the_tuple_and_seed_only(monkeypatch: pytest.MonkeyPatch) -> None:
    codes = random_codes(12, seed=0)
    first = sc.render(codes)
    torch.testing.assert_close(sc.render(codes), first, rtol=0, atol=0)
    torch.testing.assert_close(sc.render(codes[5:6]), first[5:6], rtol=0, atol=0)  # not the batch
    monkeypatch.setattr(sc, "CHUNK", 5)  # scenes cast in several chunks, with repeats across them
    torch.testing.assert_close(sc.render(np.concatenate([codes, codes[::-1]])), torch.cat([first, first.flip(0)]),
                               rtol=0, atol=0)
    noisy = sc.render(codes, noise_std=8.0, seed=1)
    torch.testing.assert_close(sc.render(codes, noise_std=8.0, seed=1), noisy, rtol=0, atol=0)
    torch.testing.assert_close(sc.render(codes[3:4], noise_std=8.0, seed=1), noisy[3:4], rtol=0, atol=0)
    other_seed = sc.render(codes, noise_std=8.0, seed=2)
    assert (other_seed != noisy).float().mean() > 0.5 and (noisy != first).float().mean() > 0.5
    assert 6 < (noisy.float() - first.float()).std() < 10


def test_culling_never_changes_an_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """Casting only inside each part's projected box gives the bytes a full-frame cast gives."""
    codes = np.concatenate([random_codes(12, seed=1), select({"object_shape": "pyramid", "object_size": "large",
                                                              "horizontal_axis": [0, 39], "vertical_axis": [0, 39],
                                                              "background_color": 0, "object_color": 0})])
    culled = sc.render(codes)
    monkeypatch.setattr(sc, "_pixel_box", lambda part, camera: torch.tensor([0, sc.SIDE, 0, sc.SIDE]).expand(len(camera), 4))
    torch.testing.assert_close(sc.render(codes), culled, rtol=0, atol=0)


def test_the_cache_returns_the_same_images_without_rendering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    render = sc.render
    monkeypatch.setattr(sc, "render", lambda *args: calls.append(args) or render(*args))
    source = sc.SceneSource(cache_dir=tmp_path)
    codes = select({"object_color": "red", "object_shape": "cone", "object_size": 0, "camera_height": 1,
                    "horizontal_axis": [0, 20], "vertical_axis": [5, 6, 7]})
    first = source.images(codes)
    again = sc.SceneSource(cache_dir=tmp_path).images(codes)
    assert len(calls) == 1
    torch.testing.assert_close(again, first, rtol=0, atol=0)
    assert [p.suffix for p in tmp_path.iterdir()] == [".npy"]  # one file, no temporary left behind
    source.images(codes[:3])
    sc.SceneSource(noise_std=2.0, seed=0, cache_dir=tmp_path).images(codes)
    sc.SceneSource(noise_std=2.0, seed=1, cache_dir=tmp_path).images(codes)
    assert len(calls) == 4 and len(list(tmp_path.iterdir())) == 4  # other codes, noise or seed: other keys
    assert factor_source("scenes").cache_dir == default_cache_dir(None) / "scenes"


def test_the_cache_removes_the_batches_used_longest_ago(tmp_path: Path) -> None:
    codes = select({**dict(zip(FACTOR_NAMES, BASE.tolist())), "horizontal_axis": [0, 1, 2]})
    one_file = 12_416  # 64 x 64 x 3 bytes and the .npy header
    source = sc.SceneSource(cache_dir=tmp_path, limit_mb=2.5 * one_file / 2**20)
    first, second, third = codes[:1], codes[1:2], codes[2:3]
    for batch in (first, second, first):  # reading the first batch again makes it the newest
        source.images(batch)
        time.sleep(0.02)
    assert source.cache_path(first).stat().st_size == one_file
    source.images(third)  # three files do not fit: the one used longest ago goes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(source.cache_path(c).name for c in (first, third))


# --- the MPI3D reader ---------------------------------------------------------------------------------

def encoded_images() -> np.ndarray:
    """MPI3D's layout with 2 x 2 images: pixel (0, 0) holds the image's flat index in base 256,
    the other pixels fixed values that differ by row, column and channel."""
    index = np.arange(NUM_IMAGES)
    images = np.empty((NUM_IMAGES, 2, 2, 3), np.uint8)
    images[:, 0, 0] = np.stack([index >> 16, (index >> 8) & 255, index & 255], axis=1)
    images[:, 0, 1], images[:, 1, 0], images[:, 1, 1] = [1, 2, 3], [4, 5, 6], [7, 8, 9]
    return images


@pytest.fixture(scope="module")
def mpi3d_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mpi3d")
    images = encoded_images()
    np.savez(root / "mpi3d_real.npz", images=images)  # as the dataset ships: np.savez, stored, 12 MB
    np.save(root / "mpi3d_toy.npy", images)  # extracted beside a compressed npz
    np.savez_compressed(root / "mpi3d_toy.npz", images=images[:1])
    np.savez_compressed(root / "mpi3d_realistic.npz", images=images[:1])
    return root


def decoded(images: torch.Tensor) -> np.ndarray:
    pixel = images[:, :, 0, 0].numpy().astype(np.int64)
    return (pixel[:, 0] << 16) | (pixel[:, 1] << 8) | pixel[:, 2]


@pytest.mark.parametrize("variant", ["real", "toy"])
def test_mpi3d_maps_factor_tuples_to_their_images(mpi3d_root: Path, variant: str) -> None:
    source = factor_source(f"mpi3d_{variant}", str(mpi3d_root))
    assert isinstance(source.array, np.memmap) and source.array.shape == (NUM_IMAGES, 2, 2, 3)
    codes = np.concatenate([select({"object_color": "red", "vertical_axis": [3, 39]}), random_codes(500, seed=2),
                            codes_of(np.array([NUM_IMAGES - 1, 0, 0]))])
    images = source.images(codes)
    assert images.dtype == torch.uint8 and images.shape == (len(codes), 3, 2, 2)
    np.testing.assert_array_equal(decoded(images), flat_index(codes))
    np.testing.assert_array_equal(images[:, :, 1, 1].numpy(), np.tile([7, 8, 9], (len(codes), 1)))  # HWC -> CHW
    np.testing.assert_array_equal(images[:, :, 0, 1].numpy(), np.tile([1, 2, 3], (len(codes), 1)))


def test_mpi3d_reads_an_npz_in_place(mpi3d_root: Path) -> None:
    source = factor_source("mpi3d_real", str(mpi3d_root))
    assert Path(source.array.filename) == mpi3d_root / "mpi3d_real.npz" and source.array.offset > 0


def test_mpi3d_explains_a_compressed_npz(mpi3d_root: Path) -> None:
    with pytest.raises(ValueError, match=r"compressed.*unzip -p .*mpi3d_realistic.npz images.npy > .*mpi3d_realistic.npy"):
        factor_source("mpi3d_realistic", str(mpi3d_root))


def test_mpi3d_rejects_other_layouts(tmp_path: Path) -> None:
    np.savez(tmp_path / "mpi3d_real.npz", images=np.zeros((10, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"expected a C-ordered uint8 array \(1036800, S, S, 3\).*\(10, 64, 64, 3\)"):
        MPI3D("real", tmp_path)
    with pytest.raises(ValueError, match="valid variants: toy, realistic, real"):
        MPI3D("photo", tmp_path)


def test_mpi3d_missing_files_say_where_they_come_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataNotFoundError, match=r"mpi3d_real: no data at .*mpi3d_real.npz\. download mpi3d_real.npz "
                                                r"from https://github.com/rr-learning/disentanglement_dataset"):
        factor_source("mpi3d_real", str(tmp_path))
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    with pytest.raises(DataNotFoundError, match="data.data_root is not set.*mpi3d_toy.npz, mpi3d_realistic.npz"):
        factor_source("mpi3d_toy", None)


# --- DCI ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    return random_codes(2000, seed=3)


def test_dci_of_a_perfectly_disentangled_code_is_one(factors: np.ndarray) -> None:
    """Each factor in its own dimension (scaled, noise-free), plus two dimensions of pure noise."""
    noise = np.random.default_rng(4).normal(size=(len(factors), 2))
    code = np.hstack([factors * np.array([0.5, 2, 1, 3, 1, 0.1, 0.2]), noise])
    scores = dci(code, factors, seed=0)
    assert set(scores) == {"disentanglement", "completeness", "informativeness"}
    assert scores["disentanglement"] > 0.99 and scores["completeness"] > 0.99 and scores["informativeness"] > 0.99
    assert dci(code, factors, seed=0) == scores  # seeded


def test_dci_of_a_random_code_is_zero(factors: np.ndarray) -> None:
    code = np.random.default_rng(5).normal(size=(len(factors), 10))
    scores = dci(code, factors, seed=0)
    assert scores["disentanglement"] < 0.05 and scores["completeness"] < 0.05
    assert scores["informativeness"] < 0.4  # chance: the mean of 1 / (factor size) is 0.21


def test_dci_leaves_out_constant_factors(factors: np.ndarray) -> None:
    red = factors.copy()
    red[:, 0] = 2
    code = red[:, 1:].astype(float)  # a perfect code of the six varying factors
    assert dci(code, red)["disentanglement"] > 0.99
    with pytest.raises(ValueError, match="more than one value"):
        dci(code, np.zeros_like(red))

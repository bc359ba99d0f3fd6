"""Tiny datasets in a researcher's layouts, written with Pillow and NumPy: image folders, an MVTec AD
tree, an .npz and an ImageNet tree with synset folders. Every image encodes its class and its index
(class in the red channel, index in green and blue), so a test can tell which file any decoded
image came from."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 8  # pixels: the test studies use data.image_size 8, so a decoded image is the file's pixels


def pixels(label: int, index: int, side: int = SIDE) -> np.ndarray:
    """(side, side, 3) uint8: red = 20 * class + 10, green and blue = the image's index (base 256)."""
    image = np.empty((side, side, 3), np.uint8)
    image[..., 0] = 20 * label + 10
    image[..., 1], image[..., 2] = index // 256, index % 256
    return image


def identity(images: np.ndarray) -> list[tuple[int, int]]:
    """(class, index) of each decoded (N, 3, S, S) image, read back from its centre pixel."""
    centre = images[:, :, images.shape[2] // 2, images.shape[3] // 2].astype(int)
    return [((r - 10) // 20, 256 * g + b) for r, g, b in centre]


def write_classes(directory: Path, counts: dict[str, int], start: int = 0, suffix: str = ".png",
                  side: int = SIDE) -> list[Path]:
    """``directory/<class>/<index>.png`` for each class in order; indices run on from ``start``."""
    written, index = [], start
    for label, (name, count) in enumerate(counts.items()):
        (directory / name).mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            path = directory / name / f"{index:05d}{suffix}"
            Image.fromarray(pixels(label, index, side)).save(path, **({"quality": 100} if suffix == ".jpg" else {}))
            written.append(path)
            index += 1
    return written


def write_mvtec(root: Path, category: str = "bottle", train_good: int = 30, test: dict[str, int] | None = None) -> Path:
    """An MVTec AD category: train/good, test/good and a folder per defect (classes in MVTec's order)."""
    test = test or {"good": 6, "broken_large": 5, "contamination": 4}
    write_classes(root / category / "train", {"good": train_good})
    ordered = {"good": test["good"], **{k: v for k, v in sorted(test.items()) if k != "good"}}
    for label, (name, count) in enumerate(ordered.items()):  # the labels a reader gives them: good first
        (root / category / "test" / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(pixels(label, 1000 + 100 * label + i)).save(root / category / "test" / name / f"{i:03d}.png")
    (root / category / "ground_truth" / "broken_large").mkdir(parents=True)  # masks: not images of a class
    return root


def write_npz(path: Path, per_class: list[int], test_per_class: list[int] | None = None,
              names: list[str] | None = None) -> Path:
    """x_train (N, S, S, 3) uint8 channels last, y_train; x_test, y_test and class_names when given."""
    def split(counts: list[int], start: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(len(counts)), counts)
        return np.stack([pixels(int(c), start + i) for i, c in enumerate(labels)]), labels

    arrays = dict(zip(("x_train", "y_train"), split(per_class, 0)))
    if test_per_class is not None:
        arrays.update(zip(("x_test", "y_test"), split(test_per_class, 5000)))
    if names is not None:
        arrays["class_names"] = np.array(names)
    np.savez(path, **arrays)
    return path

"""The MVTec AD layout (Bergmann et al., CVPR 2019), the benchmark anomalib users start from:

    <root>/<category>/train/good/*.png          normal training images
    <root>/<category>/test/good/*.png           normal test images
    <root>/<category>/test/<defect>/*.png       anomalous test images, one folder per defect type
    <root>/<category>/ground_truth/...          pixel masks (not used: labels here are per image)

As data a study names: ``dataset: {name: mvtec, root: /data/mvtec_anomaly_detection, category: bottle}``
with ``benchmark: one_vs_rest`` and ``fold: 0``: class 0 is ``good`` (normal), classes 1.. are the
defect types in sorted order (anomalies), so AP and AUROC are image-level, good against any defect.
Every category is its own family (its own images); class names live in no shared vocabulary.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from adcore.data.sources.base import DataConfigError, Source
from adcore.data.sources.folder import ImageFileParams, class_folders, folder_source, require_dir
from adcore.data.sources.layouts import LAYOUTS, Layout, LoadSettings, resolve_path

GOOD = "good"
_HOW = ("download the MVTec AD archive from https://www.mvtec.com/company/research/datasets/mvtec-ad and unpack it "
        "so that <root>/<category>/train/good/ exists")


@LAYOUTS.register("mvtec")
class MVTec(Layout):
    class Params(ImageFileParams):
        root: str = Field(description="the folder holding the category folders (bottle/, cable/, ...)")
        category: str = Field(description="the category folder, e.g. bottle")

    @classmethod
    def source(cls, params: Any, settings: LoadSettings) -> Source:
        root = require_dir("root", resolve_path(params.root, settings.data_root), _HOW)
        categories = [name for name in class_folders(root) if (root / name / "train").is_dir()]
        folder = require_dir("category", root / params.category,
                             f"categories under {root}: {', '.join(categories) or 'none'}")
        train = require_dir("category", folder / "train" / GOOD, f"an MVTec category has train/{GOOD}/; {_HOW}").parent
        test = require_dir("category", folder / "test", f"an MVTec category has test/{GOOD}/ and test/<defect>/; {_HOW}")
        defects = [name for name in class_folders(test) if name != GOOD]
        if not defects:
            raise DataConfigError("category", f"{test} has no defect folders besides {GOOD}/: nothing to detect")
        classes = [GOOD, *defects]
        return folder_source(f"mvtec {params.category} ({root})", {"train": train, "test": test}, classes, classes,
                             params, settings, vocabulary=None)

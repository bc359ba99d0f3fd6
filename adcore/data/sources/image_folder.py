"""A folder of class folders in torchvision's ``ImageFolder`` convention, as data a study names:

    data:
      dataset: {name: image_folder, root: /data/flowers}

``root/<class>/*.jpg`` is one split (the test split is then drawn from it, ``data.test_fraction`` of
each class); ``root/train/<class>/`` with ``root/test/<class>/`` are two (other names: ``train:`` and
``test:``). Classes are the class folders' names in sorted order (the union of both splits: a test
split may hold classes training never sees, as anomaly folders do), or ``classes: [...]`` in the
order given, which also restricts the folder to them. ``data.fold`` and ``data.classes`` index
this order.

For the OE overlap guard a folder's family is its training directory, and its vocabulary is
``imagenet`` when every class folder is an ImageNet-1k synset (``n02088364``: then its classes are
compared with any other ImageNet folder's), else ``vocabulary:`` if given (e.g. ``objects``, the
label space of CIFAR-10 and STL-10), else its own.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from adcore.data.sources.base import DataConfigError, Source
from adcore.data.sources.folder import ImageFileParams, class_folders, folder_source, require_dir
from adcore.data.sources.imagenet_names import synsets
from adcore.data.sources.layouts import LAYOUTS, Layout, LoadSettings, resolve_path

IMAGENET = "imagenet"


@LAYOUTS.register("image_folder")
class ImageFolder(Layout):
    class Params(ImageFileParams):
        root: str = Field(description="the folder of class folders (or of train/ and test/ folders of class folders)")
        classes: list[str] | None = Field(None, min_length=1, description="class folder names to use, in this order "
                                          "(default: all, sorted)")
        train: str = Field("train", description="subfolder of the training split, where root has one")
        test: str = Field("test", description="subfolder of the test split (ImageNet's: val); without it, the test "
                          "split is drawn from the training images (data.test_fraction)")
        vocabulary: str | None = Field(None, description="label space of the class names, for the OE overlap guard "
                                       "(default: imagenet for synset folders, else this folder's own)")

    @classmethod
    def source(cls, params: Any, settings: LoadSettings) -> Source:
        root = require_dir("root", resolve_path(params.root, settings.data_root), "point root at your folder of class "
                           "folders (relative paths are below data.data_root)")
        split_dirs = {"train": root}
        if (root / params.train).is_dir():  # train/ and (maybe) test/; else root itself is the one split
            split_dirs = {"train": root / params.train}
            if (root / params.test).is_dir():
                split_dirs["test"] = root / params.test
        found = sorted({name for directory in split_dirs.values() for name in class_folders(directory)})
        folders = params.classes if params.classes is not None else found
        missing = [name for name in folders if name not in found]
        if missing:
            raise DataConfigError("classes", f"no class folder {', '.join(missing)} in {', '.join(map(str, split_dirs.values()))}; "
                                  f"its class folders: {', '.join(found) or 'none'}")
        if not folders:
            raise DataConfigError("root", f"{split_dirs['train']} has no class folders: put each class's images in "
                                  "a folder of its own (an OE corpus without classes: one folder, e.g. all/)")
        vocabulary = params.vocabulary or (IMAGENET if set(folders) <= set(synsets()) else None)
        return folder_source(f"image_folder {root}", split_dirs, folders, folders, params, settings, vocabulary)

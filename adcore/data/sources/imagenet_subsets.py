"""Paper 002's fine-grained ImageNet subsets (Ahmed & Courville, AAAI 2020, Table 1; members in its
Table 8), read from an ImageNet folder in the ImageFolder layout (``train/<synset>/``, ``val/<synset>/``):

    dataset: {name: imagenet_subset, root: /data/imagenet, subset: dog}

The members, as the paper names them, map to synsets through ImageNet's class list in timm
(``adcore.data.sources.imagenet_names``); a subset's classes are its members in Table 8's order,
named as there, and ``data.fold`` holds one member out (leave_one_out). The paper's test set is the
50 validation images per member; its training set about 1,300 per member (Table 1).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from adcore.data.sources.base import DataConfigError, Source
from adcore.data.sources.folder import ImageFileParams, folder_source, require_dir
from adcore.data.sources.image_folder import IMAGENET
from adcore.data.sources.imagenet_names import synset_of
from adcore.data.sources.layouts import LAYOUTS, Layout, LoadSettings, resolve_path

# Table 8, in its order
MEMBERS: dict[str, tuple[str, ...]] = {
    "dog": ("Ibizan hound", "bluetick", "beagle", "Afghan hound", "Weimaraner", "Saluki", "redbone", "otterhound",
            "Norwegian elkhound", "basset hound", "Scottish deerhound", "bloodhound"),
    "car": ("Model T", "race car", "sports car", "minivan", "ambulance", "cab", "beach wagon", "jeep", "convertible",
            "limo"),
    "snake": ("ringneck snake", "vine snake", "hognose snake", "thunder snake", "garter snake", "king snake",
              "night snake", "green snake", "water snake"),
    "spider": ("tarantula", "Argiope aurantia", "barn spider", "black widow", "garden spider", "wolf spider"),
    "fungus": ("stinkhorn", "bolete", "hen-of-the-woods", "earthstar", "gyromitra", "coral fungus"),
}
Subset = Literal["dog", "car", "snake", "spider", "fungus"]


@LAYOUTS.register("imagenet_subset")
class ImageNetSubset(Layout):
    class Params(ImageFileParams):
        root: str = Field(description="the ImageNet folder: train/<synset>/ and val/<synset>/ (relative paths are "
                          "below data.data_root)")
        subset: Subset = Field(description="paper 002's subset: dog (hound), car, snake (colubrid), spider, fungus")
        train: str = Field("train", description="subfolder of the training images")
        test: str = Field("val", description="subfolder of the test images (the paper's: ImageNet's validation set)")

    @classmethod
    def source(cls, params: Any, settings: LoadSettings) -> Source:
        root = require_dir("root", resolve_path(params.root, settings.data_root),
                           "point root at ImageNet in the ImageFolder layout (train/<synset>/, val/<synset>/)")
        split_dirs = {"train": require_dir("train", root / params.train, "ImageNet's training images, by synset"),
                      "test": require_dir("test", root / params.test, "ImageNet's validation images, by synset "
                                          "(torchvision's ImageNet layout: val/<synset>/)")}
        members = MEMBERS[params.subset]
        folders = [synset_of(member) for member in members]
        missing = [f"{synset} ({member})" for synset, member in zip(folders, members)
                   if not (split_dirs["train"] / synset).is_dir()]
        if missing:
            raise DataConfigError("root", f"{split_dirs['train']} has no folder for {', '.join(missing)}")
        concepts = tuple(frozenset([synset]) for synset in folders)
        return folder_source(f"imagenet_subset {params.subset} ({root})", split_dirs, folders, members, params,
                             settings, IMAGENET, concepts)

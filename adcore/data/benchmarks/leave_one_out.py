"""Leave-one-out (paper 000's semantic benchmark, paper 002's hold-out-class benchmark): class
``fold`` is the anomaly, every other class (of ``data.classes``) is normal. With ``val_protocol:
class_holdout`` the next class after the fold is held out of the normals as the validation anomaly
(and out of the test)."""
from __future__ import annotations

import torch

from adcore.data.benchmarks.base import BENCHMARKS, Protocol, Selection, n_train, of_classes, take
from adcore.data.config import DataConfig
from adcore.data.sources import ImageSet


@BENCHMARKS.register("leave_one_out")
class LeaveOneOut(Protocol):
    val_protocols = (*Protocol.val_protocols, "class_holdout")

    def select(self, cfg: DataConfig, train: ImageSet, classes: list[int], generator: torch.Generator) -> Selection:
        others = [c for c in classes if c != cfg.fold]
        normal_classes, held = others, None
        if cfg.val_protocol == "class_holdout":
            held = others[classes.index(cfg.fold) % len(others)]  # the next class after the fold
            normal_classes = [c for c in others if c != held]
        pool = of_classes(train.labels, normal_classes)
        train_index, rest = take(pool, n_train(cfg.n_normal, pool, cfg.n_val), generator)
        return Selection(normal_classes, [cfg.fold], train_index, rest, held)

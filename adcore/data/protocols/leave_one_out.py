"""Leave-one-out (paper 000's semantic benchmark, paper 002's hold-out-class benchmark): class
``fold`` is the anomaly, every other class (of ``data.classes``) is normal. With ``val_protocol:
class_holdout`` the next class after the fold is held out of the normals as the validation anomaly
(and out of the test)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from adcore.data.config import DataConfig
from adcore.data.protocols.base import BENCHMARKS, Need, Protocol, Selection, n_train, normal_need, of_classes, take
from adcore.data.sources import Census, ImageSet

if TYPE_CHECKING:
    import torch


@BENCHMARKS.register("leave_one_out")
class LeaveOneOut(Protocol):
    val_protocols = (*Protocol.val_protocols, "class_holdout")

    @staticmethod
    def normal_and_held(cfg: DataConfig, classes: list[int]) -> tuple[list[int], int | None]:
        """The normal classes, and the class held out of them as the validation anomaly (class_holdout)."""
        others = [c for c in classes if c != cfg.fold]
        if cfg.val_protocol != "class_holdout":
            return others, None
        held = others[classes.index(cfg.fold) % len(others)]  # the next class after the fold
        return [c for c in others if c != held], held

    def select(self, cfg: DataConfig, train: ImageSet, classes: list[int], generator: torch.Generator) -> Selection:
        normal_classes, held = self.normal_and_held(cfg, classes)
        pool = of_classes(train.labels, normal_classes)
        train_index, rest = take(pool, n_train(cfg.n_normal, pool, cfg.n_val), generator)
        return Selection(normal_classes, [cfg.fold], train_index, rest, held)

    def demand(self, cfg: DataConfig, train: Census, classes: list[int]) -> list[Need]:
        normal_classes, held = self.normal_and_held(cfg, classes)
        needs = [normal_need(normal_classes, cfg.n_normal, cfg.n_val)]
        if held is not None:  # its validation anomalies
            needs.append(Need((held,), cfg.n_val, "data.n_val"))
        return needs

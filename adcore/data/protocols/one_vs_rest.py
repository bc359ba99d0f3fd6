"""One-vs-rest (papers 001, 004 and paper 000's Table 5): class ``fold`` is normal, every other
class (of ``data.classes``) is an anomaly."""
from __future__ import annotations

from typing import TYPE_CHECKING

from adcore.data.config import DataConfig
from adcore.data.protocols.base import BENCHMARKS, Need, Protocol, Selection, n_train, normal_need, of_classes, take
from adcore.data.sources import Census, ImageSet

if TYPE_CHECKING:
    import torch


@BENCHMARKS.register("one_vs_rest")
class OneVsRest(Protocol):
    def select(self, cfg: DataConfig, train: ImageSet, classes: list[int], generator: torch.Generator) -> Selection:
        pool = of_classes(train.labels, [cfg.fold])
        train_index, rest = take(pool, n_train(cfg.n_normal, pool, cfg.n_val), generator)
        anomalies = [c for c in classes if c != cfg.fold]
        return Selection([cfg.fold], anomalies, train_index, rest)

    def demand(self, cfg: DataConfig, train: Census, classes: list[int]) -> list[Need]:
        return [normal_need([cfg.fold], cfg.n_normal, cfg.n_val)]

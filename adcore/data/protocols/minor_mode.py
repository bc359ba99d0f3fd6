"""Minor modes (paper 000, Figure 5): the normal data mix a primary class y_a (``fold``) and a
secondary class y_b (``secondary_class``) as S_n ~ 1/(r+1) P(y_a) + r/(r+1) P(y_b), r = ``minor_ratio``;
every other class is an anomaly. Besides AP and AUROC it reports the AUROC of each normal mode
against the anomalies, ``test_auroc_primary`` and ``test_auroc_secondary``."""
from __future__ import annotations

from typing import TYPE_CHECKING

from adcore.data.config import DataConfig
from adcore.data.protocols.base import (BENCHMARKS, Benchmark, Need, Protocol, Selection, check_class, n_train,
                                        of_classes, take)
from adcore.data.sources import Census, ImageSet

if TYPE_CHECKING:
    import torch

MODES = ("primary", "secondary")


@BENCHMARKS.register("minor_mode")
class MinorMode(Protocol):
    metric_names = tuple(f"test_auroc_{mode}" for mode in MODES)

    def check(self, cfg: DataConfig) -> None:
        super().check(cfg)
        if cfg.secondary_class is None:
            raise ValueError("data.secondary_class is required when data.benchmark is minor_mode")
        if cfg.secondary_class == cfg.fold:
            raise ValueError("data.secondary_class must differ from data.fold")
        if cfg.classes is not None and cfg.secondary_class not in cfg.classes:
            raise ValueError(f"data.secondary_class {cfg.secondary_class} is not one of data.classes {cfg.classes}")

    def select(self, cfg: DataConfig, train: ImageSet, classes: list[int], generator: torch.Generator) -> Selection:
        import torch

        assert cfg.secondary_class is not None
        check_class("secondary_class", cfg.secondary_class, len(train.class_names))
        primary, secondary = cfg.fold, cfg.secondary_class
        primary_idx = of_classes(train.labels, [primary])
        n_total = n_train(cfg.n_normal, primary_idx, cfg.n_val)
        n_secondary = self.secondary_count(cfg, n_total)
        take_a, rest_a = take(primary_idx, n_total - n_secondary, generator)
        take_b, _ = take(of_classes(train.labels, [secondary]), n_secondary, generator)
        anomalies = [c for c in classes if c not in (primary, secondary)]
        info = dict(primary_class=primary, secondary_class=secondary, minor_ratio=cfg.minor_ratio,
                    n_secondary=n_secondary)
        # validation normals: the primary class
        return Selection([primary, secondary], anomalies, torch.cat([take_a, take_b]), rest_a, info=info)

    @staticmethod
    def secondary_count(cfg: DataConfig, n_total: int) -> int:
        """Secondary images among ``n_total`` training normals: n r / (1 + r)."""
        return round(n_total * cfg.minor_ratio / (1.0 + cfg.minor_ratio))

    def demand(self, cfg: DataConfig, train: Census, classes: list[int]) -> list[Need]:
        assert cfg.secondary_class is not None
        n_total = train.counts[cfg.fold] - cfg.n_val if cfg.n_normal is None else cfg.n_normal
        n_secondary = self.secondary_count(cfg, n_total)
        # the primary's training and validation images; the secondary's training images
        return [Need((cfg.fold,), max(n_total - n_secondary, 1) + cfg.n_val, "data.n_normal + data.n_val"),
                Need((cfg.secondary_class,), n_secondary, "data.n_normal (with data.minor_ratio)")]

    def test_metrics(self, bench: Benchmark, scores: torch.Tensor) -> dict[str, float]:
        """Each normal mode against the anomalies."""
        from adcore.metrics import auroc

        metrics = {}
        for mode in MODES:
            keep = (bench.test_labels == 1) | (bench.test_classes == bench.info[f"{mode}_class"])
            metrics[f"test_auroc_{mode}"] = auroc(bench.test_labels[keep], scores[keep])
        return metrics

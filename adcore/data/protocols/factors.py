"""Interventions on ground-truth factors (paper 000 §5.1, Figures 1 and 2): the images of a factor
source (rendered scenes, or MPI3D read from its files) chosen by their factors.

``data.factors`` says which images play which part:

- ``normal``: a factor filter, e.g. every view of a small red cone (Figure 1);
- ``intervention``: the anomalies are the normal filter with these factors replaced, e.g. colour ->
  blue, shape -> cube or size -> large (Figure 1); a list frees a factor among its values, so
  ``{object_shape: cube, object_color: [all six]}`` makes a cube of any colour the anomaly (Figure 2);
- ``oe``: a filter on the OE images; normal images, and every image that shows an intervened value (a
  value an intervened factor takes in the anomalies and never in the normal images), are always left
  out. Without a filter the OE is every other image that shows none of them: under colour -> blue
  white, green, brown and olive objects but no blue one, as the paper's "SAD has never seen a blue
  example" (§5.1); under size -> large only small objects. ``oe_within_normal`` limits factors of the
  OE to the normal values (Figure 2: "never additional colors");
- ``val``: with ``val_protocol: oe_factor_holdout`` the OE images it allows are held out of the
  training OE and are the validation anomalies (with ``oe_holdout``: random held-out OE images); drawn
  from the OE, they show no intervened value either, so validation never sees the test intervention.

The test holds as many normal images as anomalies, ``n_test`` in all (None: every anomaly and as
many normals). Validation, test and training normals are distinct factor tuples. With
``dci_samples`` > 0 the benchmark also draws that many tuples uniformly from all 1,036,800 and, after
the last epoch, reports the DCI disentanglement, completeness and informativeness
(``adcore.disentanglement``) of the trained method's features on their images against all seven
factors, on the features' ``dci_code_dims`` most variable dimensions, and beside them the same
scores of a random code of the features' shape reduced the same way (``test_dci_*_random``): the floor
the estimate has at these settings. Paper 000 reports DCI disentanglement 0.068 for DSVDD and 0.103 for
SAD on MPI3D.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

from adcore.data.config import DataConfig, FactorConfig, FactorFilter
from adcore.data.factors import FACTOR_NAMES, FACTORS, NUM_IMAGES, allowed, codes_of, count, flat_index, select
from adcore.data.protocols.base import BENCHMARKS, Benchmark, Embed, Protocol, take
from adcore.data.sources import factor_source, factor_sources

DCI_SCORES = ("disentanglement", "completeness", "informativeness")
DCI_METRICS = tuple(f"test_dci_{score}{kind}" for kind in ("", "_random") for score in DCI_SCORES)


def anomaly_filter(factors: FactorConfig) -> FactorFilter:
    """The anomalies' filter: the normal one with the intervention's factors replaced."""
    return {**factors.normal, **factors.intervention}


def intervened_values(factors: FactorConfig) -> dict[str, list[str]]:
    """Per factor the intervention moves, the values the anomalies take and the normal images never do:
    colour -> blue gives {object_color: [blue]}; Figure 2's cube of any colour beside red cones gives
    {object_shape: [cube], object_color: [the five other colours]}."""
    normal, anomaly = allowed(factors.normal), allowed(anomaly_filter(factors))
    moved = {}
    for axis, name in enumerate(FACTOR_NAMES):
        new = np.setdiff1d(anomaly[axis], normal[axis]) if name in factors.intervention else []
        if len(new):
            moved[name] = [FACTORS[name][code] for code in new]
    return moved


def oe_filter(factors: FactorConfig) -> FactorFilter:
    """The OE filter: ``oe``, with the factors of ``oe_within_normal`` limited to the normal filter's values (a
    factor the normal filter leaves free stays free) and every intervened value taken out, so no OE image
    shows what the anomalies change (the anomalies themselves are among those). Normal images are removed
    after it."""
    within = {name: factors.normal[name] for name in factors.oe_within_normal if name in factors.normal}
    spec: FactorFilter = {**(factors.oe or {}), **within}
    axes = allowed(spec)
    for name, values in intervened_values(factors).items():
        kept = [value for value in (FACTORS[name][code] for code in axes[FACTOR_NAMES.index(name)])
                if value not in values]
        if not kept:
            raise ValueError(f"the OE filter {spec or 'every image'} allows no OE image once the intervened values "
                             f"{name} {values} are left out (the OE never shows what the anomalies change); widen "
                             "data.factors.oe")
        spec[name] = kept
    return spec


@dataclass(frozen=True)
class Draw:
    """The factor codes, (N, 7) int64 each, of every part of one trial's benchmark."""

    train: np.ndarray
    oe: np.ndarray
    val_normal: np.ndarray
    val_anomaly: np.ndarray
    test_normal: np.ndarray
    test_anomaly: np.ndarray
    dci: np.ndarray  # (0, 7) without DCI

    def parts(self) -> list[np.ndarray]:
        return [self.train, self.oe, self.val_normal, self.val_anomaly, self.test_normal, self.test_anomaly, self.dci]


def _flat(spec: FactorFilter) -> torch.Tensor:
    import torch

    return torch.from_numpy(flat_index(select(spec)))


def _n_test_each(cfg: DataConfig, anomalies: int) -> int:
    return anomalies if cfg.n_test is None else cfg.n_test // 2


def draw(cfg: DataConfig, seed: int) -> Draw:
    """Which factor tuples a trial's benchmark holds, drawn with the trial seed."""
    import torch

    factors = cfg.factors
    assert factors is not None  # Factors.check
    generator = torch.Generator().manual_seed(seed)
    normal, anomaly = _flat(factors.normal), _flat(anomaly_filter(factors))
    oe_pool = _flat(oe_filter(factors))  # shows no intervened value, so holds no anomaly
    oe_pool = oe_pool[~torch.isin(oe_pool, normal)]
    val_pool = None
    if cfg.val_protocol == "oe_factor_holdout":
        assert factors.val is not None
        held = torch.isin(oe_pool, _flat(factors.val))
        val_pool, oe_pool = oe_pool[held], oe_pool[~held]

    n_each = _n_test_each(cfg, len(anomaly))
    val_normal, rest = take(normal, cfg.n_val, generator)
    test_normal, rest = take(rest, n_each, generator)
    train, _ = take(rest, cfg.n_normal, generator)
    test_anomaly, _ = take(anomaly, n_each, generator)
    n_oe_val = cfg.n_val if cfg.val_protocol == "oe_holdout" else 0
    oe, _ = take(oe_pool, None if cfg.n_oe is None else cfg.n_oe + n_oe_val, generator)
    val_anomaly, oe = oe[:n_oe_val], oe[n_oe_val:]
    if val_pool is not None:
        val_anomaly, _ = take(val_pool, cfg.n_val, generator)
    dci_index = take(torch.arange(NUM_IMAGES), factors.dci_samples, generator)[0] if factors.dci_samples \
        else torch.empty(0, dtype=torch.long)
    parts = [train, oe, val_normal, val_anomaly, test_normal, test_anomaly, dci_index]
    return Draw(*(codes_of(part.numpy()) for part in parts))


@BENCHMARKS.register("factors")
class Factors(Protocol):
    metric_names = DCI_METRICS
    val_protocols = ("oe_holdout", "oe_factor_holdout")
    draws_classes = False

    def check(self, cfg: DataConfig) -> None:
        """Every error a trial would meet in its data, found by counting (nothing is enumerated)."""
        self.check_val_protocol(cfg)
        factors = cfg.factors
        if factors is None:
            raise ValueError("benchmark factors needs data.factors with at least normal and intervention, e.g. "
                             "{normal: {object_color: red, object_shape: cone, object_size: small}, "
                             "intervention: {object_color: blue}}")
        factor_sources().known(cfg.dataset)
        if cfg.oe_corpus != cfg.dataset:
            raise ValueError(f"benchmark factors draws its OE images from data.dataset ({cfg.dataset}) by "
                             f"data.factors.oe; set data.oe_corpus={cfg.dataset} (now {cfg.oe_corpus})")
        for key in ("classes", "oe_classes", "secondary_class"):
            if getattr(cfg, key) is not None:
                raise ValueError(f"data.{key} does not apply to benchmark factors, which chooses images by "
                                 "data.factors; remove it")
        both = set(factors.oe_within_normal) & set(factors.oe or {})
        if both:
            raise ValueError(f"data.factors names {', '.join(sorted(both))} in both oe and oe_within_normal; keep one")
        normal, anomaly, oe = factors.normal, anomaly_filter(factors), oe_filter(factors)
        count(dict.fromkeys(factors.oe_within_normal))  # every name is a factor
        n_normal, n_anomaly = count(normal), count(anomaly)  # count validates every factor name and value
        if count(normal, anomaly):
            raise ValueError(f"data.factors.intervention {factors.intervention} leaves {count(normal, anomaly)} "
                             "anomalous images that are also normal; it must move a factor to values the normal "
                             f"images ({normal}) never take")
        n_oe = count(oe) - count(oe, normal)  # the OE filter already leaves every anomaly out
        if not n_oe:
            raise ValueError(f"the OE filter {oe} allows no OE image once the normal images are left out; widen "
                             "data.factors.oe")
        held = 0
        if cfg.val_protocol == "oe_factor_holdout":
            if factors.val is None:
                raise ValueError("data.val_protocol oe_factor_holdout needs data.factors.val, the OE images held out "
                                 "as validation anomalies, e.g. {object_shape: hexagonal}")
            held = count(oe, factors.val) - count(oe, factors.val, normal)
            if not held:
                raise ValueError(f"data.factors.val {factors.val} allows no OE image (the OE is {oe or 'every image'} "
                                 "minus the normal ones); name values the OE images take")
        elif factors.val is not None:
            raise ValueError("data.factors.val is read by data.val_protocol oe_factor_holdout only; set that "
                             "protocol or remove data.factors.val")
        self._check_budget(cfg, n_normal, n_anomaly, n_oe - held, held)

    @staticmethod
    def _check_budget(cfg: DataConfig, n_normal: int, n_anomaly: int, n_oe: int, n_held: int) -> None:
        n_each = _n_test_each(cfg, n_anomaly)
        needs = {
            "normal images (n_val + n_test / 2 + n_normal)": (cfg.n_val + n_each + (cfg.n_normal or 1), n_normal),
            "anomalous images (n_test / 2)": (n_each, n_anomaly),
            "OE images (n_oe" + (" + n_val)" if cfg.val_protocol == "oe_holdout" else ")"):
                ((cfg.n_oe or 1) + (cfg.n_val if cfg.val_protocol == "oe_holdout" else 0), n_oe),
            "held-out OE images (n_val)": (cfg.n_val if cfg.val_protocol == "oe_factor_holdout" else 0, n_held),
        }
        for what, (needed, available) in needs.items():
            if needed > available:
                raise ValueError(f"benchmark factors needs {needed} {what} but data.factors allows {available}; "
                                 "lower the budget or widen the filters")

    def build(self, cfg: DataConfig, seed: int, cache_dir: Path | None = None) -> Benchmark:
        """The drawn tuples' images, read (or rendered) in one call so a factor source caches them as one
        batch, resized to data.image_size (a factor source keeps its own cache; ``cache_dir`` is the
        decode cache of image files, which factor sources do not read)."""
        import torch

        from adcore.data.transforms import resize_images

        codes = draw(cfg, seed)
        parts = codes.parts()
        images = factor_source(cfg.dataset, cfg.data_root).images(np.concatenate(parts))
        images = resize_images(images, cfg.image_size)
        train, oe, val_normal, val_anomaly, test_normal, test_anomaly, dci_images = images.split([len(p) for p in parts])
        test_labels = torch.cat([torch.zeros(len(test_normal)), torch.ones(len(test_anomaly))]).long()
        factors = cfg.factors
        assert factors is not None
        info = {"benchmark": cfg.benchmark, "val_protocol": cfg.val_protocol, "normal": factors.normal,
                "anomaly": anomaly_filter(factors), "n_train_normal": len(train), "n_oe": len(oe),
                "n_test": len(test_labels), "n_test_anomalies": len(test_anomaly),
                "test_split": "factors", "n_skipped_images": 0,  # test tuples drawn apart from every other part
                "dci_code_dims": factors.dci_code_dims}
        return Benchmark(
            train_normal=train, oe=oe,
            val_images=torch.cat([val_normal, val_anomaly]),
            val_labels=torch.cat([torch.zeros(len(val_normal)), torch.ones(len(val_anomaly))]).long(),
            test_images=torch.cat([test_normal, test_anomaly]), test_labels=test_labels,
            test_classes=test_labels.clone(),  # two classes: the normal object (0) and its intervention (1)
            protocol=self, info=info,
            train_classes=torch.zeros(len(train), dtype=torch.long),
            dci_images=dci_images if len(dci_images) else None,
            dci_factors=torch.from_numpy(codes.dci) if len(dci_images) else None)

    def representation_metrics(self, bench: Benchmark, embed: Embed) -> dict[str, float]:
        """DCI of the features of the drawn tuples' images against their factors, and of a random code of the
        features' shape computed the same way (without DCI: none)."""
        if bench.dci_images is None or bench.dci_factors is None:
            return {}
        from adcore.disentanglement import dci, random_code_dci

        features, codes = embed(bench.dci_images).numpy(), bench.dci_factors.numpy()  # (N, D), (N, 7)
        scores = dci(features, codes, code_dims=bench.info["dci_code_dims"])
        floor = random_code_dci(features.shape, codes, code_dims=bench.info["dci_code_dims"])
        return {**{f"test_dci_{name}": scores[name] for name in DCI_SCORES},
                **{f"test_dci_{name}_random": floor[name] for name in DCI_SCORES}}

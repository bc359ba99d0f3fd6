"""Benchmark protocols, one module each, registered in BENCHMARKS (``data.benchmark`` names one).

This package is the one place that loads them, so what needs every protocol registered lives here:
``protocol_of`` (the named protocol, once it has accepted the config), ``make_benchmark`` (a
trial's images) and ``checked`` (a DataConfig its protocol has accepted; ``CheckedDataConfig``, the
type a trial config and the check before Ray hold). ``adcore.data.config`` sits below the protocols,
which read it, so a bare ``DataConfig`` is checked here, not when it is built.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ValidationError

from adcore.data.config import DataConfig
from adcore.data.protocols import factors, leave_one_out, minor_mode, one_vs_rest  # noqa: F401  (registration)
from adcore.data.protocols.base import BENCHMARKS, Benchmark, Protocol, Selection

__all__ = ["BENCHMARKS", "Benchmark", "CheckedDataConfig", "Protocol", "Selection", "checked", "make_benchmark",
           "protocol_of"]


def protocol_of(cfg: DataConfig) -> Protocol:
    """The protocol ``data.benchmark`` names, after it has accepted ``cfg`` (``Protocol.check``: a
    ValueError saying what to change); an unknown name lists the registered ones."""
    protocol = BENCHMARKS.get(cfg.benchmark)()
    protocol.check(cfg)
    return protocol


def make_benchmark(cfg: DataConfig, seed: int, cache_dir: Path | None = None) -> Benchmark:
    """Build the configured benchmark from its sources (nothing downloads); image files are decoded
    through the decode cache under ``cache_dir`` (None: adcore's default cache directory)."""
    return protocol_of(cfg).build(cfg, seed, cache_dir)


def checked(cfg: DataConfig) -> DataConfig:
    """``cfg`` once ``data.benchmark`` names a registered protocol that accepts it; otherwise a pydantic
    ValidationError, so a model holding the config reports the key path: ``data.benchmark`` for an
    unknown name, ``data`` for what the protocol refuses."""
    try:
        BENCHMARKS.known(cfg.benchmark)
    except ValueError as error:
        raise _invalid(("benchmark",), cfg.benchmark, error) from None
    try:
        protocol_of(cfg)
    except ValueError as error:
        raise _invalid((), cfg, error) from None
    return cfg


def _invalid(where: tuple[str, ...], value: object, error: ValueError) -> ValidationError:
    line = {"type": "value_error", "loc": where, "input": value, "ctx": {"error": error}}
    return ValidationError.from_exception_data("DataConfig", [line])


CheckedDataConfig = Annotated[DataConfig, AfterValidator(checked)]

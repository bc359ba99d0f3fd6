"""Benchmark protocols, one module each, registered in BENCHMARKS; ``make_benchmark`` builds one."""
from adcore.data.protocols import factors, leave_one_out, minor_mode, one_vs_rest  # noqa: F401  (registration)
from adcore.data.protocols.base import BENCHMARKS, Benchmark, Protocol, Selection, make_benchmark

__all__ = ["BENCHMARKS", "Benchmark", "Protocol", "Selection", "make_benchmark"]

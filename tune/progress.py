"""The line a study prints when a trial ends, the same for every runner (Ray Tune's driver and
``scripts/adcore_grid.py``): how far the study is, what the trial reached, the time the session has
taken and an estimate of the time left (the session's mean time per ended trial times the trials left).

    [12/70] a3-fold4-seed0          ok             test_ap  51.2  val_ap  80.3  epochs 8  17.3 s  elapsed 2:41  eta 12:59
"""
from __future__ import annotations

import math
import time
from typing import Any


def clock(seconds: float) -> str:
    """125 -> '2:05'; 3725 -> '1:02:05'."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class StudyClock:
    """Counts the trials of one session as they end and times them."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.started = time.monotonic()

    def tick(self, seen: int = 0) -> str:
        """'[done/total]', counting the trial that has just ended (``seen``: trials the runner knows of, if more)."""
        self.done += 1
        self.total = max(self.total, seen)
        return self.counter()

    def counter(self) -> str:
        return f"[{self.done:>{len(str(self.total))}}/{self.total}]"

    def times(self) -> str:
        """'elapsed 2:41  eta 12:59' (no eta before the first trial has ended, or after the last)."""
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        eta = f"  eta {clock(elapsed / self.done * left)}" if self.done and left > 0 else ""
        return f"elapsed {clock(elapsed)}{eta}"


def trial_line(clock_: StudyClock, name: str, status: str, metrics: dict[str, Any], keys: tuple[str, ...],
               epochs: Any, wall_s: float | None, seen: int = 0) -> str:
    """One ended trial: counter, name, status, ``keys`` of ``metrics`` in percent, epochs, wall time, times."""
    parts = [f"{clock_.tick(seen)} {name:<22} {status:<13}"]
    for key in dict.fromkeys(keys):
        value = metrics.get(key)
        if isinstance(value, float) and math.isfinite(value):
            parts.append(f"{key} {100 * value:5.1f}")
    parts.append(f"epochs {epochs or 0}" + (f"  {wall_s:.1f} s" if isinstance(wall_s, (int, float)) else ""))
    parts.append(clock_.times())
    return "  ".join(parts)

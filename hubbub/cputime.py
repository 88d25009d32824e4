"""CPU seconds used by named processes between two moments, for the benchmarks.

Read from ``/proc/<pid>/stat`` (user plus system time of every thread), so it works only on
Linux; elsewhere, or for a process that is gone or not ours to read, the figure is None and
the benchmark prints "n/a". A process that exits between the two readings keeps its last
reading, which undercounts it; the benchmarks read before they stop anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of ``pid`` so far, or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis
    # start at field 3, so utime (field 14) and stime (field 15) are at offsets 11 and 12.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class CpuMeter:
    """CPU seconds per named process from ``start()`` to ``stop()``."""

    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self.pids = dict(pids)
        self._start: dict[str, float | None] = {}

    def start(self) -> CpuMeter:
        self._start = {name: _read(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> dict[str, float | None]:
        """Seconds used per name since ``start`` (None where either reading failed)."""
        used: dict[str, float | None] = {}
        for name, pid in self.pids.items():
            before, after = self._start.get(name), _read(pid)
            used[name] = None if before is None or after is None else round(after - before, 2)
        return used


def _read(pid: int | None) -> float | None:
    return None if pid is None else cpu_seconds(pid)

"""Finds source partitions whose offsets Faust will never commit again, so the worker re-reads them.

Seen with faust-streaming 0.15.3 when a rebalance lands in the middle of a burst (a second worker
joining): a record fetched before the rebalance is delivered after the consumer has been sought
back to the committed offset, which moves Faust's read position past the records in between.
Faust then drops those records as already read: they are never processed and never acknowledged,
so the partition's committed offset stays where it was for good, while the worker goes on
processing what comes after. Nothing is lost (the offsets stay uncommitted, so a restarted worker
reads them again) but the pipeline looks stuck and those events wait for a restart.

The signature: the partition's committed offset (the next one Faust must see acknowledged) has
not moved for ``stall_s`` although there is something past it (a record was read beyond it, or
the log's end is beyond it: nothing came at all, e.g. a partition Faust no longer fetches), and
the record at that offset is not among those delivered and awaiting acknowledgement. A healthy
partition either commits within Faust's commit interval, has that record in flight (a batch
being processed), or is caught up (committed = end of the log; right after Faust's own seek on
assignment the read offset equals it too). ``GapWatch.check`` is the pure decision; the worker
seeks such a partition back to its committed offset, which re-delivers the skipped records and,
again, the ones after them (duplicates, which every fold drops).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Position:
    """A partition as the consumer sees it. ``committed``: the next offset to commit from (None
    before the first commit); ``read``: the last offset delivered, or the offset last sought
    (None before either); ``lowest_in_flight``: the lowest offset delivered but not yet
    acknowledged (None if none); ``end``: the log's end offset as last fetched (None if not
    known)."""

    committed: int | None
    read: int | None
    lowest_in_flight: int | None
    end: int | None = None


@dataclass
class GapWatch(Generic[K]):
    """Remembers since when each partition's commit has stood still with something past it;
    ``check`` says which to re-read."""

    stall_s: float = 15.0
    _since: dict[K, tuple[int | None, float]] = field(default_factory=dict)

    def check(self, now: float, positions: Mapping[K, Position]) -> list[K]:
        """Partitions stuck for at least ``stall_s`` (each reported once per stuck spell)."""
        stuck: list[K] = []
        for tp in list(self._since):
            if tp not in positions:  # revoked
                del self._since[tp]
        for tp, pos in positions.items():
            skipped = pos.read is not None and (pos.committed is None or pos.committed < pos.read)
            waiting = pos.end is not None and pos.end > (pos.committed or 0)
            behind = skipped or waiting
            if not behind:
                self._since.pop(tp, None)
                continue
            seen = self._since.get(tp)
            if seen is None or seen[0] != pos.committed:
                self._since[tp] = (pos.committed, now)
                continue
            waiting_for = pos.committed or 0
            in_flight = pos.lowest_in_flight is not None and pos.lowest_in_flight <= waiting_for
            if not in_flight and now - seen[1] >= self.stall_s:
                stuck.append(tp)
                del self._since[tp]
        return stuck

"""Which delivered records an agent may fold: each source partition strictly in offset order.

A thread's events are folded in log order; that is what makes a live run, a restarted run and a
replay agree. faust-streaming 0.15.3 does not always deliver in that order: around a rebalance (a
worker joining, or restarting after SIGKILL) a record prefetched before the consumer was sought
back to its committed offset can be delivered first, and Faust then drops the records between
the committed offset and that one as already read. Folding it would put a thread's later event
before its earlier ones (seen as reaction groups that differed from an undisturbed run).

``InOrder`` knows, per partition, the next offset that may be folded: it starts at the group's
committed offset when the partition is first seen in a consumer generation, and moves one by one
as records are folded. A record

- at that offset is folded (``FOLD``);
- below it was folded before and is delivered again (``AGAIN``): folding it is a duplicate the
  state drops, and it is acknowledged as usual;
- above it is early (``EARLY``): it is neither folded nor acknowledged, and the agent re-reads the
  partition from the expected offset (``reread``), which delivers the missing records and then it.

Our source topics are never compacted and never written in transactions, so their offsets have no
holes and every early record means missing ones. Should a partition hold a real hole all the same
(a transactional producer writing to it), re-reading would never deliver the offset: after
``give_up_after`` re-reads over at least ``give_up_s`` without it, the lowest early offset seen
becomes the expected one, and ``reread`` says so (the caller logs it as an error).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Verdict(Enum):
    FOLD = "fold"
    AGAIN = "again"
    EARLY = "early"


@dataclass(slots=True)
class _Partition:
    expected: int
    generation: int
    rereads: int = 0  # re-reads since the expected offset last arrived
    waiting_since: float | None = None
    lowest_early: int | None = None


@dataclass(frozen=True, slots=True)
class Reread:
    """Where to seek a partition, and whether the wait for ``offset`` was given up."""

    offset: int
    gave_up: bool = False
    skipped: int = 0  # offsets given up on (only when ``gave_up``)


@dataclass
class InOrder(Generic[K]):
    """Per partition, the next offset that may be folded (see the module docstring)."""

    give_up_after: int = 10
    give_up_s: float = 60.0
    _parts: dict[K, _Partition] = field(default_factory=dict)

    def knows(self, tp: K, generation: int) -> bool:
        """Whether ``tp`` has a starting point in this consumer generation. After a rebalance
        the partition may have been processed elsewhere: its start is looked up again."""
        part = self._parts.get(tp)
        return part is not None and part.generation == generation

    def start(self, tp: K, offset: int, *, generation: int) -> None:
        """``offset``: the next one to fold, i.e. the group's committed offset (or the log's
        first offset when nothing was committed yet)."""
        self._parts[tp] = _Partition(offset, generation)

    def check(self, tp: K, offset: int, *, now: float) -> Verdict:
        """The verdict on a delivered record; ``FOLD`` advances the expected offset."""
        part = self._parts[tp]
        if offset == part.expected:
            part.expected += 1
            part.rereads = 0
            part.waiting_since = None
            part.lowest_early = None
            return Verdict.FOLD
        if offset < part.expected:
            return Verdict.AGAIN
        if part.waiting_since is None:
            part.waiting_since = now
        if part.lowest_early is None or offset < part.lowest_early:
            part.lowest_early = offset
        return Verdict.EARLY

    def reread(self, tp: K, *, now: float) -> Reread:
        """Where to re-read ``tp`` from after early records (once per batch that held some)."""
        part = self._parts[tp]
        part.rereads += 1
        waited = now - (part.waiting_since if part.waiting_since is not None else now)
        if (
            part.rereads > self.give_up_after
            and waited >= self.give_up_s
            and part.lowest_early is not None
        ):
            skipped = part.lowest_early - part.expected
            part.expected = part.lowest_early
            part.rereads = 0
            part.waiting_since = None
            part.lowest_early = None
            return Reread(part.expected, gave_up=True, skipped=skipped)
        return Reread(part.expected)

    def expected(self, tp: K) -> int | None:
        part = self._parts.get(tp)
        return None if part is None else part.expected

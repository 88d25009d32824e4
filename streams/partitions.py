"""Keeps each source partition's records in order and its commits moving, over Faust's consumer.

Two guards against faust-streaming 0.15.3's rebalance race (a prefetched record delivered after a
seek back to the committed offset, and the records before it then dropped as already read):

- ``Admission`` (per batch, in each agent): only records in offset order are folded
  (``streams.order``); an early one is held back (neither folded nor acknowledged) and its
  partition is re-read from the expected offset;
- ``watch_gaps`` (a timer): a partition whose commit has stood still while records were skipped
  (``streams.gapwatch``) is re-read from its committed offset, for when the early record itself
  never reaches an agent;
- ``no_gap_filling``: Faust's "gap" bookkeeping is off for our source topics (see there).

They read and adjust Faust's private consumer bookkeeping (``_unacked_messages``, ``_gap``,
``_acked``, ``_committed_offset``, ``_read_offset``) and reach the aiokafka consumer through Faust's consumer
thread: that is why faust-streaming is pinned, and why all of it lives here and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import faust
from faust.types import TP, EventT

from streams.gapwatch import GapWatch, Position
from streams.order import InOrder, Verdict

log = logging.getLogger("hubbub.streams")

_LOOKUP_TIMEOUT_S = 30.0


async def reread(consumer: Any, tp: TP, offset: int) -> None:
    """Seek ``tp`` back to ``offset`` so Faust delivers from there again.

    Faust records a jump in offsets as a "gap" that it later counts as acknowledged (meant for
    compacted or transactional topics, which ours are not); after a jump caused by the race,
    that would let the commit move past records that were never folded. The gap is cleared.

    The seek runs on Faust's consumer thread (``seek_wait``): Faust's plain ``seek`` calls
    aiokafka from the event loop's thread while the consumer thread may be taking fetched
    records, and the two together crashed a worker's fetcher (``KeyError`` in aiokafka's
    ``fetched_records``) when partitions were re-read several times a second.
    """
    consumer._gap.pop(tp, None)
    await consumer.seek_wait({tp: offset})


def no_gap_filling(app: faust.App, *, sources: set[str]) -> None:
    """Turn off Faust's gap filling for the ``sources`` topics, on every assignment.

    When a delivered offset jumps past the last one read, Faust records the offsets in between
    as a "gap" and, at the next commit, appends them to its list of acknowledged offsets (meant
    for compacted and transactional topics, whose offsets have holes; ours have none). After the
    rebalance race the jump is over records that were never folded, so the commit could pass
    them; and when those offsets had been acknowledged already (read once before Faust's own
    seek on assignment, then skipped), they stand twice in that list, and Faust's commit then
    advances one offset per commit interval: seen as a restarted worker crawling at about ten
    events a second with thousands of records processed and uncommitted. With no gaps, a jump
    shows as an early record (``Admission``) or a stuck commit (``watch_gaps``) instead.
    """

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode types the signal kwarg
    async def _install(sender: Any, *args: Any, **kwargs: Any) -> None:
        consumer: Any = app.consumer
        if getattr(consumer, "_hubbub_no_gaps", False):
            return
        original = consumer._add_gap

        async def add_gap(tp: TP, offset_from: int, offset_to: int) -> None:
            if tp.topic not in sources:
                await original(tp, offset_from, offset_to)

        consumer._add_gap = add_gap
        consumer._hubbub_no_gaps = True


def drop_duplicate_acks(consumer: Any, tps: Sequence[TP]) -> dict[TP, int]:
    """Remove offsets that stand more than once in Faust's acknowledged list of ``tps`` (see
    ``no_gap_filling``: they make the commit advance one offset per interval); how many, per
    partition that had any."""
    dropped: dict[TP, int] = {}
    for tp in tps:
        acked = consumer._acked.get(tp)
        if not acked:
            continue
        unique = sorted(set(acked))
        if len(unique) != len(acked):
            dropped[tp] = len(acked) - len(unique)
            acked[:] = unique
            consumer._acked_index[tp] = set(unique)
    return dropped


def _hold(consumer: Any, message: Any) -> None:
    """Neither fold nor acknowledge ``message``: the stream's acknowledgement after the batch
    then does not reach the consumer, so the offset cannot be committed before it is folded."""
    message.acked = True
    consumer._unacked_messages.discard(message)


class Admission:
    """Filters each batch down to the records that may be folded now (``streams.order``)."""

    def __init__(self, app: faust.App) -> None:
        self.app = app
        self.order: InOrder[TP] = InOrder()

    async def admit(self, batch: Sequence[EventT[bytes]]) -> list[EventT[bytes]]:
        """The batch's records in order; held-back ones are re-read, once per partition."""
        consumer: Any = self.app.consumer
        generation = self.app.consumer_generation_id
        assignment = consumer.assignment()
        now = time.monotonic()
        admitted: list[EventT[bytes]] = []
        early: dict[TP, int] = {}
        unknown: set[TP] = set()
        for event in batch:
            message = event.message
            tp = message.tp
            if tp not in assignment or tp in unknown:
                # Revoked while buffered (the new owner folds it), or no starting point.
                _hold(consumer, message)
                continue
            if not self.order.knows(tp, generation):
                start = await self._start_of(consumer, tp)
                if start is None:
                    unknown.add(tp)
                    _hold(consumer, message)
                    continue
                self.order.start(tp, start, generation=generation)
            if self.order.check(tp, message.offset, now=now) is Verdict.EARLY:
                _hold(consumer, message)
                early.setdefault(tp, message.offset)
                continue
            admitted.append(event)
        for tp, first in early.items():
            where = self.order.reread(tp, now=now)
            if where.gave_up:
                log.error(
                    "%s[%s]: offsets %s..%s never arrived after repeated re-reads; folding on "
                    "from %s (is something writing transactions to this topic?)",
                    tp.topic,
                    tp.partition,
                    where.offset - where.skipped,
                    where.offset - 1,
                    where.offset,
                )
            else:
                log.warning(
                    "%s[%s]: record %s arrived while %s was next (a Faust rebalance race); "
                    "held back, re-reading from %s",
                    tp.topic,
                    tp.partition,
                    first,
                    where.offset,
                    where.offset,
                )
            await reread(consumer, tp, where.offset)
        return admitted

    async def _start_of(self, consumer: Any, tp: TP) -> int | None:
        """The group's committed offset of ``tp`` (the log's first when none), from the broker:
        Faust's own copy is not yet set when the race delivers the first record."""
        thread = consumer._thread
        try:
            committed = await asyncio.wait_for(
                thread.call_thread(thread._ensure_consumer().committed, tp), _LOOKUP_TIMEOUT_S
            )
            if committed is None:
                committed = (await consumer.earliest_offsets(tp))[tp]
        except Exception as exc:  # the gap watch re-reads the partition later
            log.warning("%s[%s]: committed offset unavailable (%r)", tp.topic, tp.partition, exc)
            return None
        return int(committed)


def watch_gaps(app: faust.App, *, sources: set[str], stall_s: float) -> None:
    """Re-read source partitions whose commit Faust has stopped advancing (``streams.gapwatch``)."""
    watch: GapWatch[Any] = GapWatch(stall_s=stall_s)

    @app.timer(max(1.0, stall_s / 5), name=f"{app.conf.id}.gapwatch")  # type: ignore[untyped-decorator]
    async def reread_skipped() -> None:
        consumer: Any = app.consumer
        lowest: dict[Any, int] = {}
        for message in list(consumer._unacked_messages):
            lowest[message.tp] = min(message.offset, lowest.get(message.tp, message.offset))
        tps = [tp for tp in consumer.assignment() if tp.topic in sources]
        for tp, n in drop_duplicate_acks(consumer, tps).items():
            log.warning(
                "%s[%s]: %d offsets were acknowledged twice in Faust's bookkeeping (its commit "
                "then crawls one offset a second); duplicates dropped",
                tp.topic,
                tp.partition,
                n,
            )
        try:  # from the broker: a partition never fetched has no end offset of its own yet
            ends = await consumer.highwaters(*tps)
        except Exception as exc:
            log.debug("end offsets unavailable: %r", exc)
            ends = {}
        positions = {
            tp: Position(
                consumer._committed_offset.get(tp),
                consumer._read_offset.get(tp),
                lowest.get(tp),
                ends.get(tp),
            )
            for tp in tps
        }
        for tp in watch.check(time.monotonic(), positions):
            pos = positions[tp]
            fetching = ensure_fetching(consumer, tp)
            if pos.committed is None:
                log.warning("%s[%s]: nothing committed yet, read up to %s", *tp, pos.read)
                continue
            log.warning(
                "%s[%s]: commit stuck at %s for %.0f s with more past it (read up to %s, log "
                "end %s; %s); re-reading from %s",
                tp.topic,
                tp.partition,
                pos.committed,
                stall_s,
                pos.read,
                pos.end,
                fetching,
                pos.committed,
            )
            await reread(consumer, tp, pos.committed)


def ensure_fetching(consumer: Any, tp: TP) -> str:
    """Put a stuck partition back among those Faust fetches; say where it was.

    Faust stops fetching a partition while its stream's buffer is full and starts again when the
    buffer drains; a rebalance in between can leave it out of the fetched set with nothing
    buffered, so nothing ever drains it again (a stalled partition, not a skipped offset).
    """
    active = consumer._get_active_partitions()
    if tp in active:
        return "it was being fetched"
    if tp in consumer._paused_partitions:
        return "it is paused by Faust (recovery), left alone"
    was_buffered = tp in consumer._buffered_partitions
    consumer._buffered_partitions.discard(tp)
    active.add(tp)
    return (
        "it was no longer fetched since its buffer filled, fetching it again"
        if was_buffered
        else "it was no longer fetched, fetching it again"
    )

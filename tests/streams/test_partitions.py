"""The Faust adapter of the in-order admission, against a stand-in for Faust's consumer.

The race itself needs a rebalance at the wrong moment (the SIGKILL test provokes it in some runs);
here the exact delivery it produces is replayed into ``Admission`` with Faust's own message and
event types, and the consumer's bookkeeping is checked afterwards: what was folded, what may be
acknowledged, where the partition was sought, and that Faust's gap record was cleared.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams.partitions import Admission, drop_duplicate_acks, ensure_fetching, no_gap_filling

CONTENT_5 = TP("t.content", 5)
GRAPH_0 = TP("t.graph", 0)


@dataclass
class _Consumer:
    """The parts of Faust's consumer that ``Admission`` touches."""

    assigned: set[TP]
    committed: dict[TP, int | None]
    earliest: dict[TP, int] = field(default_factory=dict)
    _unacked_messages: set[Any] = field(default_factory=set)
    _gap: dict[TP, Any] = field(default_factory=dict)
    seeks: list[tuple[TP, int]] = field(default_factory=list)
    acked: list[tuple[TP, int]] = field(default_factory=list)
    lookups: int = 0

    @property
    def _thread(self) -> Any:
        consumer = self

        class Thread:
            def _ensure_consumer(self) -> Any:
                return self

            async def committed(self, tp: TP) -> int | None:
                consumer.lookups += 1
                return consumer.committed.get(tp)

            async def call_thread(self, fun: Any, *args: Any) -> Any:
                return await fun(*args)

        return Thread()

    def assignment(self) -> set[TP]:
        return self.assigned

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.earliest.get(tp, 0) for tp in tps}

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.seeks.extend(partitions.items())

    def ack(self, message: Any) -> bool:  # what ConsumerMessage.on_final_ack calls
        self.acked.append((message.tp, message.offset))
        self._unacked_messages.discard(message)
        return True


@dataclass
class _App:
    consumer: _Consumer
    consumer_generation_id: int = 1


@dataclass
class _Event:
    message: ConsumerMessage


def _deliver(consumer: _Consumer, tp: TP, offsets: list[int]) -> list[_Event]:
    events = []
    for offset in offsets:
        message = ConsumerMessage(tp.topic, tp.partition, offset, 0.0, 0, None, b"k", b"v", None)
        message.incref()  # the stream's reference, released by its ack after the batch
        consumer._unacked_messages.add(message)
        events.append(_Event(message))
    return events


def _admit(app: _App, batch: list[_Event]) -> list[int]:
    admission = Admission(app)  # type: ignore[arg-type]
    return [e.message.offset for e in asyncio.run(admission.admit(batch))]  # type: ignore[arg-type]


def _stream_acks(consumer: _Consumer, batch: list[_Event]) -> None:
    """What Faust's take_events does after the batch: acknowledge every event it delivered."""
    for event in batch:
        event.message.ack(consumer)  # type: ignore[arg-type]


def test_the_race_delivery_folds_nothing_early_and_rereads_from_the_committed_offset() -> None:
    consumer = _Consumer(assigned={CONTENT_5}, committed={CONTENT_5: 24})
    consumer._gap[CONTENT_5] = "Faust counted 25..2315 as a gap"
    batch = _deliver(consumer, CONTENT_5, [2315, 2316, 2317])
    assert _admit(_App(consumer), batch) == []
    assert consumer.seeks == [(CONTENT_5, 24)]  # once per partition and batch
    assert CONTENT_5 not in consumer._gap
    _stream_acks(consumer, batch)
    assert consumer.acked == []  # held back: the commit cannot pass them
    assert not consumer._unacked_messages  # and not counted as in flight by the gap watch


def test_records_in_order_are_folded_and_acknowledged_as_usual() -> None:
    consumer = _Consumer(assigned={CONTENT_5}, committed={CONTENT_5: 24})
    app = _App(consumer)
    admission = Admission(app)  # type: ignore[arg-type]
    first = _deliver(consumer, CONTENT_5, [24, 25, 26])
    admitted = asyncio.run(admission.admit(first))  # type: ignore[arg-type]
    assert [e.message.offset for e in admitted] == [24, 25, 26]
    _stream_acks(consumer, first)
    assert consumer.acked == [(CONTENT_5, 24), (CONTENT_5, 25), (CONTENT_5, 26)]
    # The next batch continues from 27 without asking the broker again; a redelivered 26 is
    # folded (the state drops it as a duplicate), an early 29 is held back.
    second = _deliver(consumer, CONTENT_5, [26, 27, 29])
    admitted = asyncio.run(admission.admit(second))  # type: ignore[arg-type]
    assert [e.message.offset for e in admitted] == [26, 27]
    assert consumer.lookups == 1
    assert consumer.seeks == [(CONTENT_5, 28)]


def test_a_partition_never_committed_starts_at_the_log_start() -> None:
    consumer = _Consumer(assigned={GRAPH_0}, committed={}, earliest={GRAPH_0: 7})
    assert _admit(_App(consumer), _deliver(consumer, GRAPH_0, [7, 8, 10])) == [7, 8]
    assert consumer.seeks == [(GRAPH_0, 9)]


def test_records_of_a_partition_revoked_while_buffered_are_left_to_its_new_owner() -> None:
    consumer = _Consumer(assigned={GRAPH_0}, committed={CONTENT_5: 24, GRAPH_0: 0})
    batch = _deliver(consumer, CONTENT_5, [24, 25]) + _deliver(consumer, GRAPH_0, [0])
    assert _admit(_App(consumer), batch) == [0]
    _stream_acks(consumer, batch)
    assert consumer.acked == [(GRAPH_0, 0)]
    assert consumer.seeks == []


def test_a_new_generation_looks_the_starting_point_up_again() -> None:
    consumer = _Consumer(assigned={CONTENT_5}, committed={CONTENT_5: 24})
    app = _App(consumer)
    admission = Admission(app)  # type: ignore[arg-type]
    asyncio.run(admission.admit(_deliver(consumer, CONTENT_5, [24, 25])))  # type: ignore[arg-type]
    # A rebalance; another worker had the partition meanwhile and committed up to 90.
    app.consumer_generation_id = 2
    consumer.committed[CONTENT_5] = 90
    again = asyncio.run(admission.admit(_deliver(consumer, CONTENT_5, [90, 91])))  # type: ignore[arg-type]
    assert [e.message.offset for e in again] == [90, 91]
    assert consumer.lookups == 2
    assert consumer.seeks == []


@dataclass
class _Fetching:
    """The parts of Faust's consumer that decide which partitions are fetched."""

    active: set[TP]
    _paused_partitions: set[TP] = field(default_factory=set)
    _buffered_partitions: set[TP] = field(default_factory=set)

    def _get_active_partitions(self) -> set[TP]:
        return self.active


def test_a_stuck_partition_left_out_of_fetching_is_fetched_again() -> None:
    consumer = _Fetching(active={GRAPH_0}, _buffered_partitions={CONTENT_5})
    assert "buffer filled" in ensure_fetching(consumer, CONTENT_5)
    assert consumer.active == {GRAPH_0, CONTENT_5}
    assert consumer._buffered_partitions == set()
    assert "it was being fetched" in ensure_fetching(consumer, CONTENT_5)


def test_a_partition_paused_for_recovery_is_left_alone() -> None:
    consumer = _Fetching(active=set(), _paused_partitions={CONTENT_5})
    assert "left alone" in ensure_fetching(consumer, CONTENT_5)
    assert consumer.active == set()


@dataclass
class _Acks:
    _acked: dict[TP, list[int]]
    _acked_index: dict[TP, set[int]] = field(default_factory=dict)


def test_offsets_acknowledged_twice_are_dropped_so_the_commit_can_jump() -> None:
    # Gap filling had appended 29..31 again to offsets 28..33 already acknowledged: Faust would
    # commit one offset per interval from there.
    consumer = _Acks({CONTENT_5: [28, 29, 30, 31, 32, 33, 29, 30, 31], GRAPH_0: [5, 6]})
    assert drop_duplicate_acks(consumer, [CONTENT_5, GRAPH_0]) == {CONTENT_5: 3}
    assert consumer._acked[CONTENT_5] == [28, 29, 30, 31, 32, 33]
    assert consumer._acked_index[CONTENT_5] == {28, 29, 30, 31, 32, 33}
    assert consumer._acked[GRAPH_0] == [5, 6] and GRAPH_0 not in consumer._acked_index


class _Signal:
    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def connect(self, fun: Any) -> Any:
        self.handlers.append(fun)
        return fun

    async def send(self, *args: Any) -> None:
        for handler in self.handlers:
            await handler(self, *args)


def test_gap_filling_is_off_for_the_source_topics_only() -> None:
    filled: list[tuple[TP, int, int]] = []

    class Consumer:
        async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
            filled.append((tp, offset_from, offset_to))

    app = type("App", (), {"consumer": Consumer(), "on_partitions_assigned": _Signal()})()
    no_gap_filling(app, sources={CONTENT_5.topic})  # type: ignore[arg-type]
    for _ in range(2):  # every assignment; installed once
        asyncio.run(app.on_partitions_assigned.send({CONTENT_5, GRAPH_0}))
    asyncio.run(app.consumer._add_gap(CONTENT_5, 25, 2315))
    asyncio.run(app.consumer._add_gap(GRAPH_0, 3, 9))
    assert filled == [(GRAPH_0, 3, 9)]

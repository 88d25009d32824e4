"""The Faust app: thin agents that decode, call ``streams.processors`` and emit.

Built by ``create_app(settings, config)``; nothing here exists at import time (no module-level app).

Ordering that makes a crash harmless (at-least-once everywhere, idempotent everywhere):
1. a batch is decoded and grouped by key; each key's state is loaded from its table;
2. the processors fold the batch and collect the rows and events to emit;
3. every emitted record is sent, and the new states go to the table's local store;
4. once the output is acknowledged, each changed state is sent to the table's changelog topic;
5. once those are acknowledged, the batch's source events are acknowledged to Faust, which
   commits their offsets. Steps 4-5 run in order per agent while it processes the next batch
   (``_Finisher``), so the agent does not sit idle waiting for the broker.
A crash before 4 leaves the state behind the emitted rows: the batch is processed again and emits
the same rows with the same versions. A crash between 4 and 5 leaves the state ahead of the
offsets: the redelivered events are duplicates the state drops, and their rows already landed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from faust.types import EventT, StreamT

from infra.kafka import DLQ_TOPIC, dead_letter_headers, partition_for, topic_name
from infra.settings import Settings
from schemas.codec import decode, encode, record_headers
from schemas.errors import DecodeError, HubbubError, InvalidEvent
from schemas.events import Event
from streams import bundle, folds
from streams.domain.feeds import FeedConfig
from streams.gapwatch import GapWatch, Position
from streams.processors import Output

log = logging.getLogger("hubbub.streams")

ACTIVITY_TOPIC = "activity"  # content events re-keyed by their actor, for the feeds
_ROWS_PER_MESSAGE = 1000


@dataclass(frozen=True, kw_only=True)
class StreamConfig:
    """How the processors run. ``app_id`` names the consumer group and the tables' changelogs:
    a replay into fresh state uses a new id."""

    feed: FeedConfig = field(default_factory=FeedConfig)
    batch_size: int = 2000
    batch_within_s: float = 0.1
    web_port: int = 6066
    workdir: Path = Path(".hubbub/streams")
    app_id: str | None = None
    gap_stall_s: float = 15.0  # see streams.gapwatch


class _Emitter:
    """Sends a batch's output and waits for every acknowledgement."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        def topic(logical: str) -> faust.TopicT:
            return app.topic(
                topic_name(settings, logical),
                key_type=bytes,
                value_type=bytes,
                partitions=settings.partitions,
            )

        self.settings = settings
        self.producer = app.producer
        self.names = {
            logical: topic_name(settings, logical)
            for logical in ("content", ACTIVITY_TOPIC, DLQ_TOPIC)
        }
        self.content = topic("content")
        self.dlq = topic(DLQ_TOPIC)
        self.topic = topic

    async def send(self, outputs: Sequence[tuple[bytes, Output]]) -> list[Awaitable[Any]]:
        """Send a batch's output; return the acknowledgements to wait for.

        Rows are grouped per derived topic and per the partition their source key maps to, so one
        key's rows stay in order on one partition (the sinks' "last written wins on equal
        versions" relies on it) while a batch costs a few messages rather than one per key.
        Forwarded activity goes the same way, as one bundle per partition (``streams.bundle``).
        Records go straight to the transport producer: they belong to the batch, not to one
        source event, so Faust's per-event attachment bookkeeping has nothing to add.
        """
        grouped: dict[tuple[str, int], list[Any]] = {}
        bundles: dict[int, list[tuple[bytes, bytes]]] = {}  # activity, per partition
        partitions = self.settings.partitions
        send = self.producer.send
        pending: list[Awaitable[Any]] = []
        for key, out in outputs:
            partition = partition_for(key, partitions)
            for name, rows in out.rows.items():
                grouped.setdefault((name, partition), []).extend(rows)
            for event in out.published:
                pending.append(
                    await send(
                        self.names["content"],
                        event.key().encode(),
                        encode(event),
                        None,
                        None,
                        record_headers(event),
                    )
                )
            for event in out.forwarded:
                author_key = f"{event.tenant}/{event.actor}".encode()
                bundles.setdefault(partition_for(author_key, partitions), []).append(
                    (author_key, encode(event))
                )
        for partition, entries in bundles.items():
            pending.append(
                await send(
                    self.names[ACTIVITY_TOPIC], None, bundle.pack(entries), partition, None, None
                )
            )
        for (name, partition), rows in grouped.items():
            topic = self.names.get(name) or self.names.setdefault(
                name, topic_name(self.settings, name)
            )
            for i in range(0, len(rows), _ROWS_PER_MESSAGE):
                value = json.dumps(
                    {"rows": rows[i : i + _ROWS_PER_MESSAGE]},
                    separators=(",", ":"),
                    ensure_ascii=False,
                ).encode()
                pending.append(await send(topic, None, value, partition, None, None))
        return pending

    async def dead_letter(
        self, message: Any, *, reason: str, stage: str, entry: tuple[bytes, bytes] | None = None
    ) -> None:
        """Park ``message`` (or one ``entry`` of the bundle it carries) with ``reason``."""
        log.warning(
            "dead letter from %s[%s]@%s: %s",
            message.topic,
            message.partition,
            message.offset,
            reason,
        )
        key, value = entry or (message.key, message.value if message.value is not None else b"")
        fut = await self.dlq.send(
            key=key,
            value=value,
            headers=dead_letter_headers(
                reason=reason,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                stage=stage,
                original=list(message.headers or ()),
            ),
            force=True,
        )
        await fut


@dataclass(frozen=True, slots=True)
class _Item:
    """One event of a batch, with the message it came in (alone, or in a bundle) and its bytes."""

    event: Event
    source: EventT[bytes]
    entry: tuple[bytes, bytes] | None  # (key, value) when it came in a bundle

    async def dead_letter(self, emitter: _Emitter, *, reason: str, stage: str) -> None:
        await emitter.dead_letter(self.source.message, reason=reason, stage=stage, entry=self.entry)


async def _decode_batch(
    batch: Sequence[EventT[bytes]],
    emitter: _Emitter,
    *,
    stage: str,
    topics: tuple[str, ...],
) -> dict[bytes, list[_Item]]:
    """Decode and group by key; a record that cannot be used goes to the dead letters.

    A message on the activity topic is a bundle of events (``streams.bundle``); each of its
    entries is checked and parked on its own. A single event there (a dead letter replayed by
    ``hubbub dlq replay``) is read as it is.
    """
    by_key: dict[bytes, list[_Item]] = {}
    for source in batch:
        message = source.message
        value = message.value or b""
        if value.startswith(bundle.MAGIC):
            try:
                entries: list[tuple[tuple[bytes, bytes] | None, bytes, bytes]] = [
                    ((k, v), k, v) for k, v in bundle.unpack(value)
                ]
            except DecodeError as exc:
                await emitter.dead_letter(message, reason=str(exc), stage=stage)
                continue
        else:
            entries = [(None, message.key or b"", value)]
        for entry, key, raw in entries:
            try:
                event = decode(raw)
            except (DecodeError, InvalidEvent) as exc:
                await emitter.dead_letter(message, reason=str(exc), stage=stage, entry=entry)
                continue
            # The authors agent reads events re-keyed by author; the others read them as
            # published.
            expected = (
                f"{event.tenant}/{_author_of(event)}" if stage == "authors" else event.key()
            ).encode()
            if event.topic not in topics or key != expected:
                await emitter.dead_letter(
                    message,
                    stage=stage,
                    entry=entry,
                    reason=f"{event.event_type} {event.event_id} does not belong here: key "
                    f"{key!r}, expected {expected!r} on a {'/'.join(topics)} topic",
                )
                continue
            by_key.setdefault(key, []).append(_Item(event, source, entry))
    return by_key


async def _send_changelog(
    table: Any, saves: dict[bytes, bytes], partitions: dict[bytes, int], producer: Any
) -> list[Awaitable[Any]]:
    """Send each changed key's state to the table's changelog; return the acknowledgements.

    Faust's own table write queues the changelog record in a buffer that its offset commit does
    not reliably drain (the drain gives up after 0.1 s), so a worker killed at the wrong moment
    could commit offsets whose state was never written: seen as a replay that differed from an
    undisturbed run. Here the record is sent directly, to the partition of the key's source
    records (the partition table recovery reads it from), and the batch's source events are
    acknowledged only once Kafka has them all (``_Finisher``).
    """
    changelog = table.changelog_topic.get_topic_name()
    return [
        await producer.send(changelog, key, value, partitions[key], None, None)
        for key, value in saves.items()
    ]


class _Finisher:
    """Completes an agent's batches in order while the agent goes on with the next one.

    For each batch, in the order they were processed: wait for its output's acknowledgements,
    then send its changed states to the changelog and wait for those, then acknowledge its
    source events to Faust (which may then commit their offsets). So at any moment the
    committed offsets are behind the saved states, which are behind the acknowledged output:
    the order that makes a crash harmless (module docstring). Processing of the next batch
    overlaps these waits; it reads the states from the local store, which is updated at once.
    At most ``depth`` batches wait to finish; beyond that the agent waits (backpressure).
    A failure (the broker refusing, a timeout) is raised into the agent, which stops.
    """

    def __init__(self, stream: Any, producer: Any, table: Any, *, depth: int = 2) -> None:
        self.stream, self.producer, self.table, self.depth = stream, producer, table, depth
        self.pending: list[asyncio.Task[None]] = []

    async def add(
        self,
        output_acks: list[Awaitable[Any]],
        saves: dict[bytes, bytes],
        partitions: dict[bytes, int],
        batch: Sequence[EventT[bytes]],
    ) -> None:
        previous = self.pending[-1] if self.pending else None

        async def finish() -> None:
            if previous is not None:
                await previous
            if output_acks:
                await asyncio.gather(*output_acks)
            saved = await _send_changelog(self.table, saves, partitions, self.producer)
            if saved:
                await asyncio.gather(*saved)
            for event in batch:
                await self.stream.ack(event)

        self.pending.append(asyncio.ensure_future(finish()))
        await self.settle(self.depth)

    async def settle(self, depth: int = 0) -> None:
        """Wait until at most ``depth`` batches are unfinished; raise the first failure."""
        while self.pending and (len(self.pending) > depth or self.pending[0].done()):
            await self.pending.pop(0)


def _author_of(event: Event) -> str:
    followee = getattr(event, "followee", None)
    return followee if isinstance(followee, str) else event.actor


def create_app(settings: Settings, config: StreamConfig) -> faust.App:
    """The stream processors as one Faust app (run it with ``run_worker``)."""
    app_id = config.app_id or f"{settings.topic_prefix}-streams"
    app = faust.App(
        app_id,
        broker=[f"kafka://{b}" for b in settings.kafka_bootstrap.split(",")],
        store="memory://",
        datadir=str(config.workdir),
        web_enabled=False,
        web_bind="127.0.0.1",
        web_port=config.web_port,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=0.005,  # seconds: lets aiokafka batch a batch's records per partition
        broker_commit_interval=1.0,
        # A worker that dies (SIGKILL, OOM) is noticed in 10 s, not the default 60 s, and its
        # partitions move to the others.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        stream_buffer_maxsize=max(4096, config.batch_size * 2),
        # No standby copies: each worker would otherwise read every other worker's changelogs
        # all the time. The tables are in memory and rebuilt from the changelog on assignment.
        table_standby_replicas=0,
    )
    emitter = _Emitter(app, settings)
    # Table writes queue their changelog records in the producer's buffer; Faust stalls the
    # stream whenever more than 100 wait, which with a batch's worth of keys (one write each)
    # halts processing every batch. Let a whole batch queue up: the batch is bounded anyway.
    app.producer.buffer.max_messages = max(10_000, 4 * config.batch_size)

    def table(name: str) -> Any:
        return app.Table(
            name, default=None, partitions=settings.partitions, key_type=bytes, value_type=bytes
        )

    def agent(
        source: faust.TopicT,
        stage: str,
        topics: tuple[str, ...],
        state: Any,
        fold: folds.Fold,
    ) -> None:
        cache = folds.StateCache()

        async def run(stream: StreamT[bytes]) -> None:
            try:
                await process(stream)
            except asyncio.CancelledError:  # the worker is stopping or rebalancing
                raise
            except BaseException as exc:
                # The local store may be ahead of output Kafka never acknowledged, and Faust
                # would restart this agent in the same process, on that store. Only a fresh
                # process (recovering its state from the changelog) is safe: exit for the
                # supervisor to restart, as after a SIGKILL.
                log.critical("%s agent failed, stopping the worker: %r", stage, exc)
                logging.shutdown()
                os._exit(70)

        async def process(stream: StreamT[bytes]) -> None:
            # Events are acknowledged by the finisher once their batch is saved, not by Faust
            # when the next batch is taken.
            manual: Any = stream.noack()  # type: ignore[attr-defined]  # not in StreamT
            finisher = _Finisher(manual, emitter.producer, state)
            batches = manual.take_events(config.batch_size, within=config.batch_within_s)
            async for batch in batches:
                by_key = await _decode_batch(batch, emitter, stage=stage, topics=topics)
                outputs: list[tuple[bytes, Output]] = []
                saves: dict[bytes, bytes] = {}
                for key, items in by_key.items():
                    out = Output()
                    try:
                        events = [i.event for i in items]
                        saved = fold(state.get(key), key, events, out, config.feed, cache)
                    except HubbubError as exc:  # an invariant broke: park the key's records
                        for item in items:
                            await item.dead_letter(emitter, reason=str(exc), stage=stage)
                        continue
                    outputs.append((key, out))
                    if saved is not None:
                        saves[key] = saved
                output_acks = await emitter.send(outputs)
                for key, value in saves.items():  # the local store: the next batch reads it
                    state.data[key] = value
                # The changelog partition of a key is that of its source records: the one
                # table recovery reads it from (a bundle's entries all map to its partition).
                partitions = {
                    key: items[-1].source.message.partition for key, items in by_key.items()
                }
                # The changelog only after the output is acknowledged (module docstring).
                await finisher.add(output_acks, saves, partitions, batch)
            await finisher.settle()

        run.__name__ = f"{stage}_agent"
        app.agent(source, name=f"{app_id}.{stage}")(run)

    graph_and_activity = app.topic(
        topic_name(settings, "graph"),
        topic_name(settings, ACTIVITY_TOPIC),
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
    )
    _watch_gaps(app, settings, config)
    agent(emitter.content, "threads", ("content",), table("threads"), folds.fold_thread)
    agent(graph_and_activity, "authors", ("graph", "content"), table("authors"), folds.fold_author)
    agent(emitter.topic("inbox"), "inboxes", ("inbox",), table("inboxes"), folds.fold_inbox)
    return app


def _watch_gaps(app: faust.App, settings: Settings, config: StreamConfig) -> None:
    """Re-read source partitions whose commit Faust has stopped advancing (``streams.gapwatch``).

    Reads Faust 0.15.3's consumer bookkeeping (committed and read offsets, unacknowledged
    messages): private attributes, which is why faust-streaming is pinned.
    """
    sources = {topic_name(settings, t) for t in ("content", "graph", "inbox", ACTIVITY_TOPIC)}
    watch: GapWatch[Any] = GapWatch(stall_s=config.gap_stall_s)

    @app.timer(max(1.0, config.gap_stall_s / 5), name=f"{app.conf.id}.gapwatch")  # type: ignore[untyped-decorator]
    async def reread_skipped() -> None:
        consumer: Any = app.consumer
        lowest: dict[Any, int] = {}
        for message in list(consumer._unacked_messages):
            lowest[message.tp] = min(message.offset, lowest.get(message.tp, message.offset))
        positions = {
            tp: Position(
                consumer._committed_offset.get(tp), consumer._read_offset.get(tp), lowest.get(tp)
            )
            for tp in consumer.assignment()
            if tp.topic in sources
        }
        for tp in watch.check(time.monotonic(), positions):
            pos = positions[tp]
            if pos.committed is None:
                log.warning("%s[%s]: nothing committed yet, read up to %s", *tp, pos.read)
                continue
            log.warning(
                "%s[%s]: offsets from %s were skipped and never committed (read up to %s, "
                "a Faust rebalance race); re-reading them from %s",
                tp.topic,
                tp.partition,
                pos.committed,
                pos.read,
                pos.committed,
            )
            await consumer.seek(tp, pos.committed)


def run_worker(settings: Settings, config: StreamConfig, *, loglevel: str = "warning") -> int:
    """Run the processors until SIGINT/SIGTERM; several workers share partitions by group."""
    from faust.worker import Worker

    config.workdir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, config)
    worker = Worker(app, loglevel=loglevel, quiet=True, workdir=str(config.workdir))
    # Faust's terminal spinner sets the root logger to DEBUG (so that every record reaches its
    # handler), which makes every debug call in aiokafka and Faust build a log record: about 4%
    # of a busy worker's CPU. Without it the root logger keeps ``loglevel``.
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0

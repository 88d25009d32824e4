"""The Faust app: thin agents that decode, call ``streams.processors`` and emit.

Built by ``create_app(settings, config)``; nothing here exists at import time (no module-level app).

Ordering that makes a crash harmless (at-least-once everywhere, idempotent everywhere):
0. only records in their partition's offset order are kept (``streams.partitions``);
1. a batch is decoded and grouped by key; each key's state is loaded from its table;
2. the processors fold the batch and collect the rows and events to emit;
3. every emitted record is sent and its acknowledgement awaited;
4. only then is each changed state written to its table (local store, and its changelog record
   sent and acknowledged);
5. Faust commits the source offsets after the batch is acknowledged (when the next is taken).
A crash before 4 leaves the state behind the emitted rows: the batch is processed again and emits
the same rows with the same versions. A crash between 4 and 5 leaves the state ahead of the
offsets: the redelivered events are duplicates the state drops, and their rows already landed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from faust.types import EventT, StreamT

from infra.kafka import topic_name
from infra.settings import Settings
from schemas.codec import decode
from schemas.errors import DecodeError, HubbubError, InvalidEvent
from schemas.events import Event
from streams import bundle, folds, partitions
from streams.domain.feeds import FeedConfig
from streams.emitter import Emitter
from streams.processors import Output
from streams.rows import ACTIVITY_TOPIC

log = logging.getLogger("hubbub.streams")


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


@dataclass(frozen=True, slots=True)
class _Item:
    """One event of a batch, with the message it came in (alone, or in a bundle) and its bytes."""

    event: Event
    source: EventT[bytes]
    entry: tuple[bytes, bytes] | None  # (key, value) when it came in a bundle

    async def dead_letter(self, emitter: Emitter, *, reason: str, stage: str) -> None:
        await emitter.dead_letter(self.source.message, reason=reason, stage=stage, entry=self.entry)


async def _decode_batch(
    batch: Sequence[EventT[bytes]],
    emitter: Emitter,
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


async def _save(
    table: Any, saves: dict[bytes, bytes], partitions: dict[bytes, int], producer: Any
) -> None:
    """Write each changed key's state and wait until its changelog record is acknowledged.

    Faust's own table write queues the changelog record in a buffer that its offset commit does
    not reliably drain (the drain gives up after 0.1 s), so a worker killed at the wrong moment
    could commit offsets whose state was never written: seen as a replay that differed from an
    undisturbed run. Here the local store is updated and the changelog record sent directly, to
    the partition of the key's source records (the partition table recovery reads it from), and
    the batch does not finish (so its offsets cannot be committed) until Kafka has them all.
    """
    changelog = table.changelog_topic.get_topic_name()
    pending = []
    for key, value in saves.items():
        table.data[key] = value
        pending.append(await producer.send(changelog, key, value, partitions[key], None, None))
    if pending:
        await asyncio.gather(*pending)


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
    emitter = Emitter(app, settings)
    admission = partitions.Admission(app)
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
            batches = stream.take_events(  # type: ignore[attr-defined]  # not in StreamT
                config.batch_size, within=config.batch_within_s
            )
            async for delivered in batches:
                batch = await admission.admit(delivered)
                if not batch:
                    continue
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
                acks = await emitter.send(outputs)
                if acks:
                    await asyncio.gather(*acks)
                # The changelog partition of a key is that of its source records: the one
                # table recovery reads it from (a bundle's entries all map to its partition).
                partitions = {
                    key: items[-1].source.message.partition for key, items in by_key.items()
                }
                # Only after the output is acknowledged (see the module docstring).
                await _save(state, saves, partitions, emitter.producer)

        run.__name__ = f"{stage}_agent"
        app.agent(source, name=f"{app_id}.{stage}")(run)

    graph_and_activity = app.topic(
        topic_name(settings, "graph"),
        topic_name(settings, ACTIVITY_TOPIC),
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
    )
    sources = {topic_name(settings, t) for t in ("content", "graph", "inbox", ACTIVITY_TOPIC)}
    partitions.no_gap_filling(app, sources=sources)
    partitions.watch_gaps(app, sources=sources, stall_s=config.gap_stall_s)
    agent(emitter.content, "threads", ("content",), table("threads"), folds.fold_thread)
    agent(graph_and_activity, "authors", ("graph", "content"), table("authors"), folds.fold_author)
    agent(emitter.topic("inbox"), "inboxes", ("inbox",), table("inboxes"), folds.fold_inbox)
    return app


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

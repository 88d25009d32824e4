"""The ClickHouse sink: derived topics and event topics in, read-model tables out, at least once.

One consumer group reads the derived topics (``{prefix}.feed-items`` ...) and the event topics
(``{prefix}.content|graph|inbox``), turns every record into rows (``consumers.rows``), buffers them
per table and, every ``batch_rows`` rows or ``batch_ms`` milliseconds, inserts each table's batch
and only then commits the offsets.

Guarantees
    * Nothing is lost: offsets are committed only after every row and every dead letter of
      everything consumed so far has been written (a failed insert aborts the commit). A crash
      at any point re-reads the uncommitted records.
    * Nothing is doubled: rows carry their source version, so a redelivered or re-inserted row
      collapses in its ReplacingMergeTree (and ``events`` collapse on the event id).
    * A record that cannot be loaded (not JSON, no ``rows`` list, a missing column or a value of
      the wrong type, bytes that are not an event) goes whole to the dead-letter topic
      ``{prefix}.dlq`` with its original key, value and headers plus ``dlq_reason``,
      ``dlq_topic``, ``dlq_partition``, ``dlq_offset`` and ``dlq_stage=sink``, and is skipped.

Outages
    ClickHouse unreachable (``SinkUnavailable``) or Kafka not acknowledging a dead letter
    (``BrokerUnavailable``): the sink keeps what it holds, pauses its partitions (so it reads
    nothing more while it cannot write), and retries with exponential backoff from
    ``backoff_initial_s`` doubling up to ``backoff_max_s``, logging one warning per failed attempt
    with the reason; it resumes when a write succeeds. A statement ClickHouse refuses
    (``HubbubError``, not retriable: a table missing or of another shape) is raised from
    ``poll_once``/``run`` with nothing committed; run ``hubbub infra migrate`` and restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from consumers.rows import DERIVED_TABLES, Row, Table, rows_of, table_for_topic
from infra.clickhouse import ClickHouse
from infra.kafka import (
    DLQ_TOPIC,
    EVENT_TOPICS,
    dead_letter_headers,
    make_consumer,
    make_producer,
    topic_name,
    translate,
)
from infra.settings import Settings
from schemas.errors import DecodeError, HubbubError, ServiceUnavailable

log = logging.getLogger("hubbub.sink")

SINK_GROUP = "hubbub-sink"
ALL_TOPICS: tuple[str, ...] = (*(t.topic for t in DERIVED_TABLES), *EVENT_TOPICS)
"""Logical topics a sink loads by default: every derived topic and every event topic."""

_DLQ_STAGE = "sink"


@dataclass(frozen=True, kw_only=True, slots=True)
class SinkStats:
    """Progress since the sink started.

    ``rows``: rows written per table. ``records``: records consumed. ``dead_letters``: records
    sent to the dead-letter topic. ``batches``: flushes that ended in a commit. ``retries``:
    failed write attempts. ``buffered``: rows read but not yet written. ``lag``: per Kafka topic,
    records after the last one read, summed over this sink's partitions whose end is known.
    ``uncommitted``: records read since the last commit (0: everything read is written and
    committed). ``last_error``: the reason of the latest failed attempt, None once a write
    succeeds.
    """

    rows: dict[str, int] = field(default_factory=dict)
    records: int = 0
    dead_letters: int = 0
    batches: int = 0
    retries: int = 0
    buffered: int = 0
    lag: dict[str, int] = field(default_factory=dict)
    uncommitted: int = 0
    last_error: str | None = None

    @property
    def rows_written(self) -> int:
        return sum(self.rows.values())


@dataclass(slots=True)
class _DeadLetter:
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class Sink:
    """Loads topics into ClickHouse; drive it with ``run`` or step it with ``poll_once``.

    ``clickhouse`` makes a connection (default ``ClickHouse(settings)``); it is called again after
    a connection failed, so it may raise ``SinkUnavailable`` while ClickHouse is down. ``topics``
    are logical names (default ``ALL_TOPICS``). Not thread-safe, except ``stats()``, which returns
    an immutable snapshot and may be read from another thread (a progress display).

    Raises ``BrokerUnavailable`` from the constructor when Kafka cannot be reached.
    """

    def __init__(
        self,
        settings: Settings,
        clickhouse: Callable[[], ClickHouse] | None = None,
        *,
        group_id: str = SINK_GROUP,
        topics: Sequence[str] = ALL_TOPICS,
        batch_rows: int = 50_000,
        batch_ms: int = 1_000,
        poll_timeout_ms: int = 500,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._connect = clickhouse or (lambda: ClickHouse(settings))
        self._tables: dict[str, Table] = {}
        for logical in topics:
            table = table_for_topic(logical)
            if table is None:
                raise HubbubError(
                    f"the sink has no table for topic {logical!r}; "
                    f"choose from {', '.join(ALL_TOPICS)}"
                )
            self._tables[topic_name(settings, logical)] = table
        self._batch_rows = batch_rows
        self._batch_s = batch_ms / 1000
        self._poll_timeout_ms = poll_timeout_ms
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._clock = clock
        self._stop = threading.Event()
        self._consumer = make_consumer(settings, sorted(self._tables), group_id=group_id)
        self._producer: Any = None
        self._ch: ClickHouse | None = None
        # Everything read since the last commit: rows per table and dead letters.
        self._buffers: dict[Table, list[Row]] = defaultdict(list)
        self._dead: list[_DeadLetter] = []
        self._uncommitted = 0
        self._first_read_at: float | None = None
        self._attempt = 0
        self._retry_at: float | None = None
        self._read_to: dict[Any, int] = {}  # partition -> next offset to read
        self._rows: dict[str, int] = defaultdict(int)
        self._counts = {"records": 0, "dead_letters": 0, "batches": 0, "retries": 0}
        self._last_error: str | None = None
        self._stats = SinkStats()

    # -- driving ----------------------------------------------------------------------------------

    def poll_once(self) -> int:
        """One step: read a batch of records and write if a batch is due; or, after a failed
        write, wait out the backoff and try that write again. Returns the rows written.

        Raises ``HubbubError`` when ClickHouse refuses the rows (not retriable); nothing is
        committed then. Outages are not raised: they show in ``stats().last_error``.
        """
        try:
            if self._retry_at is not None:
                self._keep_membership()
                self._stop.wait(max(0.0, self._retry_at - self._clock()))
                return self._flush()
            self._read()
            if self._due():
                return self._flush()
            return 0
        finally:
            self._stats = self._snapshot()

    def run(
        self, stop: threading.Event | None = None, *, idle_exit_s: float | None = None
    ) -> SinkStats:
        """Load until ``stop`` is set, or until nothing arrived for ``idle_exit_s`` seconds with
        everything written (a catch-up run). Then writes what it holds; if that write fails the
        offsets stay uncommitted and the next run reads those records again. Returns the stats.
        """
        self._stop = stop or threading.Event()
        idle_since = self._clock()
        while not self._stop.is_set():
            records = self._counts["records"]
            self.poll_once()
            if self._counts["records"] != records or self._holding():
                idle_since = self._clock()
            elif idle_exit_s is not None and self._clock() - idle_since >= idle_exit_s:
                break
        if self._holding() and self._retry_at is None:
            self._flush()
            self._stats = self._snapshot()
        return self._stats

    def stats(self) -> SinkStats:
        return self._stats

    def close(self) -> None:
        """Leave the group without committing anything not yet written, and close clients."""
        self._consumer.close(autocommit=False)
        if self._producer is not None:
            self._producer.close(timeout=5)
        if self._ch is not None:
            self._ch.close()
            self._ch = None

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    def _read(self) -> None:
        timeout_ms = self._poll_timeout_ms
        if self._first_read_at is not None:  # do not sleep past the batch deadline
            left = self._first_read_at + self._batch_s - self._clock()
            timeout_ms = max(0, min(timeout_ms, int(left * 1000)))
        try:
            batches = self._consumer.poll(timeout_ms=timeout_ms)
        except Exception as exc:
            error = translate(exc, where="reading records for the sink")
            if not error.retriable:
                raise error from exc
            self._fail(error, doing="read")
            return
        for partition, records in batches.items():
            for record in records:
                self._take(record)
            self._read_to[partition] = records[-1].offset + 1

    def _take(self, record: Any) -> None:
        table = self._tables[record.topic]
        self._counts["records"] += 1
        self._uncommitted += 1
        if self._first_read_at is None:
            self._first_read_at = self._clock()
        try:
            rows = rows_of(
                table,
                record.value,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
        except DecodeError as exc:
            log.warning("dead letter: %s", exc)
            self._dead.append(
                _DeadLetter(
                    key=record.key,
                    value=record.value or b"",
                    headers=dead_letter_headers(
                        reason=str(exc),
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        stage=_DLQ_STAGE,
                        original=list(record.headers or ()),
                    ),
                )
            )
            return
        self._buffers[table].extend(rows)

    def _keep_membership(self) -> None:
        # A poll (of nothing: every partition is paused) keeps the consumer in its group while
        # the sink waits; kafka-python drops a member that stops polling for max.poll.interval.
        try:
            self._consumer.pause(*self._consumer.assignment())
            for partition, records in self._consumer.poll(timeout_ms=0).items():
                for record in records:  # none are expected; if any come, they are kept
                    self._take(record)
                self._read_to[partition] = records[-1].offset + 1
        except Exception as exc:
            error = translate(exc, where="polling while the sink waits")
            if not error.retriable:
                raise error from exc

    # -- writing ----------------------------------------------------------------------------------

    def _holding(self) -> bool:
        return self._uncommitted > 0

    def _buffered(self) -> int:
        return sum(len(rows) for rows in self._buffers.values())

    def _due(self) -> bool:
        if not self._uncommitted or self._first_read_at is None:
            return False
        return (
            self._buffered() >= self._batch_rows
            or self._clock() - self._first_read_at >= self._batch_s
        )

    def _flush(self) -> int:
        written = 0
        try:
            if self._buffered():
                ch = self._ch or self._connect()
                self._ch = ch
                for table in list(self._buffers):
                    rows = self._buffers[table]
                    if rows:
                        ch.insert(
                            table.name,
                            rows,
                            columns=table.column_names,
                            column_types=table.column_types,
                        )
                        self._rows[table.name] += len(rows)
                        written += len(rows)
                    # Written tables leave the buffer at once: a later failure retries only
                    # the rest (re-inserting would be harmless, but costs).
                    del self._buffers[table]
            self._send_dead_letters()
        except ServiceUnavailable as exc:
            if self._ch is not None and not isinstance(exc, _KafkaDown):
                self._ch.close()
                self._ch = None
            self._fail(exc)
            return written
        self._commit()
        return written

    def _send_dead_letters(self) -> None:
        if not self._dead:
            return
        try:
            if self._producer is None:
                self._producer = make_producer(self.settings, client_id="hubbub-sink-dlq")
            topic = topic_name(self.settings, DLQ_TOPIC)
            futures = [
                self._producer.send(topic, key=d.key, value=d.value, headers=d.headers)
                for d in self._dead
            ]
            self._producer.flush(timeout=self.settings.publish_timeout_s)
            for future in futures:
                future.get(timeout=self.settings.publish_timeout_s)
        except Exception as exc:
            error = translate(exc, where="sending dead letters")
            if error.retriable:
                raise _KafkaDown(str(error)) from exc
            raise error from exc
        self._counts["dead_letters"] += len(self._dead)
        self._dead.clear()

    def _commit(self) -> None:
        # Every record consumed so far is written (the buffers are empty and no record is read
        # while a write is pending), so the consumer's own positions are exactly what to commit;
        # they cover only partitions it still owns after a rebalance.
        try:
            self._consumer.commit(timeout_ms=int(self.settings.publish_timeout_s * 1000))
        except Exception as exc:
            # The rows are written; an uncommitted offset only means those records are read
            # again (by this sink or the partition's new owner), which changes nothing.
            log.warning(
                "offset commit failed, records will be re-read: %s",
                translate(exc, where="committing sink offsets"),
            )
        self._uncommitted = 0
        self._first_read_at = None
        self._counts["batches"] += 1
        if self._retry_at is not None:
            log.info("sink resumed after %d failed attempt(s)", self._attempt)
            self._consumer.resume(*self._consumer.paused())
        self._attempt = 0
        self._retry_at = None
        self._last_error = None

    def _fail(self, error: HubbubError, *, doing: str = "write") -> None:
        self._attempt += 1
        self._counts["retries"] += 1
        initial, cap = self._backoff
        delay = min(cap, initial * 2 ** (self._attempt - 1))
        self._retry_at = self._clock() + delay
        self._last_error = str(error)
        log.warning(
            "sink %s attempt %d failed, holding %d rows and %d dead letters, "
            "retrying in %.1f s: %s",
            doing,
            self._attempt,
            self._buffered(),
            len(self._dead),
            delay,
            error,
        )
        try:
            self._consumer.pause(*self._consumer.assignment())
        except Exception as exc:  # pausing is an optimisation; a failure to pause loses nothing
            log.debug("could not pause partitions: %s", exc)

    def _snapshot(self) -> SinkStats:
        lag: dict[str, int] = defaultdict(int)
        try:
            for partition in self._consumer.assignment():
                end = self._consumer.highwater(partition)
                if end is not None and partition in self._read_to:
                    lag[partition.topic] += max(0, end - self._read_to[partition])
        except Exception as exc:  # lag is informative only
            log.debug("lag unavailable: %s", exc)
        return SinkStats(
            rows=dict(self._rows),
            records=self._counts["records"],
            dead_letters=self._counts["dead_letters"],
            batches=self._counts["batches"],
            retries=self._counts["retries"],
            buffered=self._buffered(),
            lag=dict(lag),
            uncommitted=self._uncommitted,
            last_error=self._last_error,
        )


class _KafkaDown(ServiceUnavailable):
    """Dead letters not acknowledged: retried like a ClickHouse outage, keeps the connection."""

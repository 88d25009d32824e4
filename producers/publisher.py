"""The producer library a platform embeds: ``Publisher(settings).publish(CommentPosted(...))``.

Guarantees:
- An event is validated (by its model) and encoded before anything is sent; a batch given to
  ``publish_many`` is encoded whole before its first record is sent, so one bad event sends nothing.
- Kafka acknowledges with acks=all on an idempotent producer: a retried send is not duplicated in the
  log. Each event is keyed so that what must be applied in order shares a partition (``Event.key``).
- Every wait is bounded by ``settings.publish_timeout_s``. ``flush()`` either returns with every event
  acknowledged or raises ``PublishFailed`` naming each event that was not; nothing is lost silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafka.producer.future import FutureRecordMetadata

from infra.kafka import EVENT_TOPICS, make_producer, partition_for, topic_name, translate
from infra.settings import Settings
from schemas.codec import encode, record_headers
from schemas.errors import HubbubError, PublishFailed
from schemas.events import Event

# Re-scan the in-flight list for settled futures this often, so memory stays bounded without flush();
# the partition counts behind the partition cache are re-read as often.
_PRUNE_EVERY = 20_000
# Keys whose partition is remembered (a thread's or a followee's key recurs with every event).
_PLACED_MAX = 100_000


@dataclass(frozen=True)
class Receipt:
    """Where an acknowledged event landed in the log."""

    event_id: str
    topic: str
    partition: int
    offset: int


class Delivery:
    """The future of one published event: ``result(timeout)`` returns its ``Receipt``."""

    __slots__ = ("event_type", "event_id", "_future")

    def __init__(
        self,
        event_type: str,
        event_id: str,
        future: FutureRecordMetadata | None,
    ) -> None:
        self.event_type = event_type
        self.event_id = event_id
        self._future = future

    def done(self) -> bool:
        return self._future is None or bool(self._future.is_done)

    def failed(self) -> bool:
        return self._future is None or (bool(self._future.is_done) and self._future.failed())

    def error(self) -> BaseException | None:
        """Why the broker did not acknowledge this event, once that is known."""
        if self._future is None or not self._future.is_done:
            return None
        exc: BaseException | None = self._future.exception
        return exc

    def result(self, timeout: float | None = None) -> Receipt:
        """Wait for the broker's acknowledgement; raise ``PublishFailed`` naming this event if none."""
        if self._future is None:
            raise PublishFailed([(self.event_type, self.event_id)], "never handed to the broker")
        try:
            meta = self._future.get(timeout=timeout)
        except Exception as exc:
            err = translate(exc, where=f"publishing {self.event_type} {self.event_id}")
            raise PublishFailed([(self.event_type, self.event_id)], str(err)) from exc
        return Receipt(self.event_id, meta.topic, meta.partition, meta.offset)


def _settled_ok(future: FutureRecordMetadata | None) -> bool:
    return future is not None and bool(future.is_done) and not future.failed()


class Publisher:
    """Publishes Hubbub events to Kafka. Not thread-safe across ``flush``; one per thread or process.

    Use as a context manager, or call ``close()``: closing flushes first and raises ``PublishFailed``
    if anything is left unacknowledged.
    """

    def __init__(
        self, settings: Settings, *, producer_overrides: dict[str, Any] | None = None
    ) -> None:
        self._settings = settings
        self._producer = make_producer(settings, **(producer_overrides or {}))
        self._topics: dict[str, str] = {}
        # In flight: the futures and, apart, the (event type, event id) labels that name them in a
        # failure. Not the Delivery objects: those are the caller's, and keeping 20,000 of them
        # alive made the garbage collector's full passes a measurable part of every publish.
        self._futures: list[FutureRecordMetadata | None] = []
        self._labels: list[tuple[str, str]] = []
        # Partitions computed here rather than by kafka-python's pure-Python murmur2 on every
        # send (1.4 us each): same function (``infra.kafka.partition_for``), remembered per key.
        self._partition_counts: dict[str, int] = {}
        self._placed: dict[tuple[str, bytes], int] = {}
        self._last_cause = ""
        # Set when the broker did not answer a metadata request: later sends in the same flush
        # window fail at once (named by flush) instead of each blocking for the whole timeout.
        self._unreachable = False
        self._warm_metadata()

    def _warm_metadata(self) -> None:
        # Fetch every event topic's partitions now, so that no publish waits on metadata later.
        for logical in EVENT_TOPICS:
            topic = self._topics[logical] = topic_name(self._settings, logical)
            try:
                self._partition_counts[topic] = len(self._producer.partitions_for(topic))
            except Exception as exc:
                self._last_cause = str(translate(exc, where=f"fetching metadata of {topic}"))
                self._unreachable = True
                return

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def publish(self, event: Event) -> Delivery:
        """Encode and send one event; returns at once with its ``Delivery``.

        Raises ``InvalidEvent`` (nothing sent) if the event cannot be encoded. A broker that cannot
        be reached within the timeout does not raise here: the delivery fails, and ``flush`` names it.
        """
        payload = encode(event)
        return self._send(event, payload)

    def publish_many(self, events: Iterable[Event]) -> list[Delivery]:
        """Encode every event first (all or nothing), then send them in order."""
        encoded = [(event, encode(event)) for event in events]
        return [self._send(event, payload) for event, payload in encoded]

    def publish_raw(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]],
        label: tuple[str, str],
    ) -> Delivery:
        """Send an already-encoded record as it is (re-driving a dead letter after a fix).

        ``label`` (event type, event id, as far as known) names the record in a failure.
        """
        try:
            future = self._producer.send(topic, value=value, key=key, headers=headers)
        except Exception as exc:
            self._last_cause = str(translate(exc, where=f"sending to {topic}"))
            future = None
        return self._track(Delivery(label[0], label[1], future))

    def _partition(self, topic: str, key: bytes) -> int | None:
        placed = self._placed.get((topic, key))
        if placed is None:
            count = self._partition_counts.get(topic)
            if not count:  # metadata unknown: let kafka-python wait for it (bounded) and place
                return None
            placed = partition_for(key, count)
            if len(self._placed) >= _PLACED_MAX:
                self._placed.clear()
            self._placed[(topic, key)] = placed
        return placed

    def _refresh_partition_counts(self) -> None:
        """Partitions added to a topic move keys (as with any Kafka producer): forget placements
        when a count changes. Metadata is refreshed in the background by kafka-python."""
        for topic, count in list(self._partition_counts.items()):
            try:
                now = len(self._producer.partitions_for(topic))
            except Exception:  # noqa: S112 - unknown for now: keep the last count
                continue
            if now != count:
                self._partition_counts[topic] = now
                self._placed.clear()

    def _send(self, event: Event, payload: bytes) -> Delivery:
        topic = self._topics.get(event.topic)
        if topic is None:
            topic = self._topics[event.topic] = topic_name(self._settings, event.topic)
        if self._unreachable:
            return self._track(Delivery(event.event_type, event.event_id, None))
        key = event.key().encode()
        try:
            future = self._producer.send(
                topic,
                value=payload,
                key=key,
                headers=record_headers(event),
                partition=self._partition(topic, key),
                timestamp_ms=int(event.occurred_at.timestamp() * 1000),
            )
        except Exception as exc:  # metadata wait timed out, buffer full, closed producer
            self._last_cause = str(translate(exc, where=f"sending to {topic}"))
            self._unreachable = True
            future = None
        return self._track(Delivery(event.event_type, event.event_id, future))

    def _track(self, delivery: Delivery) -> Delivery:
        self._futures.append(delivery._future)
        self._labels.append((delivery.event_type, delivery.event_id))
        if len(self._futures) >= _PRUNE_EVERY:
            keep = [i for i, f in enumerate(self._futures) if not _settled_ok(f)]
            self._futures = [self._futures[i] for i in keep]
            self._labels = [self._labels[i] for i in keep]
            self._refresh_partition_counts()
        return delivery

    def flush(self, timeout: float | None = None) -> int:
        """Wait until every event sent so far is acknowledged; return how many were.

        Raises ``PublishFailed`` naming each unacknowledged event (after at most ``timeout`` seconds,
        default ``publish_timeout_s``). The failed events are forgotten by the publisher after this
        raise: the caller owns them now (they are in the exception).
        """
        wait = self._settings.publish_timeout_s if timeout is None else timeout
        try:
            self._producer.flush(timeout=wait)
        except Exception as exc:
            self._last_cause = str(translate(exc, where="flushing"))
        futures, labels = self._futures, self._labels
        self._futures, self._labels = [], []
        unsent: list[tuple[str, str]] = []
        cause = self._last_cause
        for future, label in zip(futures, labels, strict=True):
            if future is None:
                unsent.append(label)
            elif not future.is_done:
                unsent.append(label)
                cause = cause or f"not acknowledged within {wait:.0f} s"
            elif future.failed():
                unsent.append(label)
                if not cause:
                    cause = str(translate(future.exception, where="publishing"))
        self._last_cause = ""
        self._unreachable = False  # the next publish tries the broker again
        if unsent:
            raise PublishFailed(unsent, cause or "broker did not acknowledge")
        return len(futures)

    def close(self, timeout: float | None = None) -> None:
        """Flush, then release the connection. Raises ``PublishFailed`` if events were left unsent."""
        try:
            self.flush(timeout)
        finally:
            try:
                self._producer.close(timeout=0 if timeout is None else timeout)
            except Exception as exc:  # closing a producer whose broker is gone
                raise HubbubError(f"closing the Kafka producer failed: {exc}") from exc

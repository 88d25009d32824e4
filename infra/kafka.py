"""The one way into Kafka: producers, consumers, admin, topic layout, error translation.

Every other module gets its Kafka clients here, configured from ``Settings``, and every kafka-python
exception is translated here into ``schemas.errors`` types, once.

Topic layout (see README, "Topics"): one topic per aggregate family, so that the events which must be
applied in order share a key and therefore a partition:

- ``{prefix}.content``: posts, comments, reactions and moderation verdicts, keyed by tenant/post id
  (the thread root). A whole thread is in order on one partition: a comment never overtakes its post,
  a delete never overtakes its create, and the processors can keep per-thread state locally.
- ``{prefix}.graph``: follows and unfollows, keyed by tenant/followee, so an author's follower set is
  built on one partition and follow/unfollow of a pair stay in order.
- ``{prefix}.inbox``: a user's own notification state (read/seen), keyed by tenant/user.

Event topics are kept forever (``retention.ms=-1``): the log is the source of truth.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import kafka.errors as kerrors
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from infra.settings import Settings
from schemas.errors import BrokerUnavailable, HubbubError

EVENT_TOPICS: tuple[str, ...] = ("content", "graph", "inbox")

# Topic-level configs of the event topics: kept forever, never compacted (every event matters).
EVENT_TOPIC_CONFIG: Mapping[str, str] = {
    "retention.ms": "-1",
    "retention.bytes": "-1",
    "cleanup.policy": "delete",
}


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: logical name, partitions (None = settings.partitions), configs."""

    logical: str
    partitions: int | None = None
    configs: Mapping[str, str] = field(default_factory=lambda: dict(EVENT_TOPIC_CONFIG))


def topic_name(settings: Settings, logical: str) -> str:
    """The Kafka topic behind a logical topic name (``content`` -> ``hubbub.content``)."""
    return f"{settings.topic_prefix}.{logical}"


def translate(exc: BaseException, *, where: str) -> HubbubError:
    """Turn a kafka-python exception into a Hubbub error that says where it happened."""
    if isinstance(exc, HubbubError):
        return exc
    unreachable = tuple(
        getattr(kerrors, name)
        for name in ("NoBrokersAvailable", "KafkaConnectionError")
        if hasattr(kerrors, name)  # kafka-python 3 dropped NoBrokersAvailable
    )
    if isinstance(exc, unreachable) or (
        isinstance(exc, kerrors.KafkaError) and getattr(exc, "retriable", False)
    ):
        return BrokerUnavailable(
            f"Kafka unreachable or not answering while {where}: {type(exc).__name__}: {exc}. "
            "Check HUBBUB_KAFKA_BOOTSTRAP and that the broker runs (`hubbub infra status`)."
        )
    return HubbubError(f"Kafka error while {where}: {type(exc).__name__}: {exc}")


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """An idempotent, acks=all producer whose every wait is bounded by ``publish_timeout_s``.

    ``max_block_ms`` bounds a send waiting for metadata or buffer space; ``delivery_timeout_ms``
    bounds a record's whole life in the client, retries included. After either, the record's future
    fails; nothing is dropped without its future saying so.
    """
    timeout_ms = int(settings.publish_timeout_s * 1000)
    linger_ms = 5
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "client_id": "hubbub-publisher",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": linger_ms,
        "batch_size": 256 * 1024,
        "max_block_ms": timeout_ms,
        "request_timeout_ms": max(1000, min(30_000, timeout_ms - linger_ms)),
        "delivery_timeout_ms": timeout_ms,
        "retry_backoff_ms": 200,
        "reconnect_backoff_max_ms": 2000,
        "allow_auto_create_topics": False,
    }
    config.update(overrides)
    try:
        return KafkaProducer(**config)
    except Exception as exc:
        raise translate(exc, where=f"connecting a producer to {settings.kafka_bootstrap}") from exc


def make_consumer(
    settings: Settings,
    topics: Sequence[str],
    *,
    group_id: str | None = None,
    from_beginning: bool = True,
    **overrides: Any,
) -> KafkaConsumer:
    """A consumer of raw records (bytes) on the given Kafka topic names.

    With ``group_id=None`` no offsets are committed (a plain reader, e.g. ``dlq list``).
    """
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "group_id": group_id,
        "auto_offset_reset": "earliest" if from_beginning else "latest",
        "enable_auto_commit": False,
        "isolation_level": "read_committed",
    }
    config.update(overrides)
    try:
        consumer = KafkaConsumer(**config)
        # Fetch every topic's metadata before joining the group: a group leader that joins
        # without it assigns itself nothing, and may not rebalance once the metadata arrives
        # (seen with kafka-python 3.0: a sink that consumed nothing until restarted).
        for topic in topics:
            consumer.partitions_for_topic(topic)
        if topics:
            consumer.subscribe(list(topics))
        return consumer
    except Exception as exc:
        raise translate(exc, where=f"connecting a consumer to {settings.kafka_bootstrap}") from exc


def _admin_client(settings: Settings, timeout_s: float) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap.split(","),
            client_id="hubbub-admin",
            request_timeout_ms=int(timeout_s * 1000),
        )
    except Exception as exc:
        raise translate(
            exc, where=f"connecting an admin client to {settings.kafka_bootstrap}"
        ) from exc


@contextlib.contextmanager
def admin(settings: Settings, *, timeout_s: float = 15.0) -> Iterator[KafkaAdminClient]:
    """An admin client, closed on exit; connection failures become ``BrokerUnavailable``."""
    client = _admin_client(settings, timeout_s)
    try:
        yield client
    finally:
        client.close()


def ensure_topics(settings: Settings, specs: Sequence[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Idempotent."""
    wanted = {topic_name(settings, s.logical): s for s in specs}
    with admin(settings) as client:
        try:
            existing = set(client.list_topics())
            missing = {
                name: {
                    "num_partitions": spec.partitions or settings.partitions,
                    "replication_factor": 1,
                    "configs": dict(spec.configs),
                }
                for name, spec in wanted.items()
                if name not in existing
            }
            if missing:
                client.create_topics(missing, wait_for_metadata=True, raise_errors=False)
            now = set(client.list_topics())
        except Exception as exc:
            raise translate(exc, where="creating topics") from exc
    absent = sorted(set(wanted) - now)
    if absent:
        raise HubbubError(f"topics still missing after create: {', '.join(absent)}")
    return sorted(missing)


def delete_topics(settings: Settings, *prefixes: str) -> list[str]:
    """Delete every topic whose name starts with one of ``prefixes``; return the names deleted.

    For throwaway runs (benchmarks) that made their own topics, Faust's changelogs included:
    left behind, each run's partitions would stay on the broker for good.
    """
    if not prefixes or not all(prefixes):
        raise HubbubError("refusing to delete topics by an empty prefix")
    with admin(settings) as client:
        try:
            doomed = sorted(t for t in client.list_topics() if t.startswith(prefixes))
            if doomed:
                client.delete_topics(doomed)
        except Exception as exc:
            raise translate(exc, where=f"deleting the topics {', '.join(prefixes)}*") from exc
    return doomed


def event_topic_specs() -> list[TopicSpec]:
    """The event topics every deployment has."""
    return [TopicSpec(logical) for logical in EVENT_TOPICS]


# Dead letters: records that could not be decoded or broke an invariant, kept with the original
# bytes and where they came from, so `hubbub dlq replay` can re-drive them after a fix.
DLQ_TOPIC = "dlq"
DLQ_HEADERS = ("dlq_reason", "dlq_topic", "dlq_partition", "dlq_offset", "dlq_stage")


def dead_letter_headers(
    *,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    stage: str,
    original: Sequence[tuple[str, bytes]] = (),
) -> list[tuple[str, bytes]]:
    """Headers of a dead letter: the reason, the source position, the stage that refused it,
    then the original record's own headers (kept so a replay is byte-for-byte the original)."""
    return [
        ("dlq_reason", reason[:2000].encode()),
        ("dlq_topic", topic.encode()),
        ("dlq_partition", str(partition).encode()),
        ("dlq_offset", str(offset).encode()),
        ("dlq_stage", stage.encode()),
        *[(k, v) for k, v in original if not k.startswith("dlq_")],
    ]


def group_members(settings: Settings, group_id: str) -> tuple[str, int]:
    """The group's state (``Stable``, ``PreparingRebalance``, ``Empty``, ...) and member count."""
    try:
        with admin(settings) as client:
            found = client.describe_groups([group_id]).get(group_id) or {}
    except HubbubError:
        raise
    except Exception as exc:
        raise translate(exc, where=f"describing consumer group {group_id}") from exc
    return str(found.get("group_state", "Dead")), len(found.get("members") or ())


class LagProbe:
    """Reads consumer groups' lag over clients kept open between reads.

    A fresh consumer and admin client per read cost about 37 ms of CPU in the reader (connects,
    metadata) and more in the broker: a benchmark polling a few times a second took a tenth of a
    core from the pipeline it measured. After a failure the clients are dropped and the next read
    connects afresh.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer: KafkaConsumer | None = None
        self._admin: KafkaAdminClient | None = None

    def __enter__(self) -> LagProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        self._consumer = self._admin = None

    def lag(self, group_id: str, topics: Sequence[str]) -> int:
        """Records on ``topics`` that ``group_id`` has not committed yet (end offset -
        committed); a partition the group never committed counts whole."""
        return sum(self.partition_lags(group_id, topics).values())

    def partition_lags(self, group_id: str, topics: Sequence[str]) -> dict[str, int]:
        """The lag per partition (``topic[partition]``), only those with a lag."""
        from kafka import TopicPartition

        try:
            if self._consumer is None:
                self._consumer = make_consumer(self.settings, [], group_id=None)
            if self._admin is None:
                self._admin = _admin_client(self.settings, 15.0)
            consumer, client = self._consumer, self._admin
            partitions = [
                TopicPartition(t, p)
                for t in topics
                for p in (consumer.partitions_for_topic(t) or ())
            ]
            ends = consumer.end_offsets(partitions)
            committed = client.list_group_offsets({group_id: None}).get(group_id, {})
        except Exception as exc:
            self.close()
            if isinstance(exc, HubbubError):
                raise
            raise translate(exc, where=f"reading the lag of group {group_id}") from exc
        lags: dict[str, int] = {}
        for tp in partitions:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag = max(0, ends.get(tp, 0) - done)
            if lag:
                lags[f"{tp.topic}[{tp.partition}]"] = lag
        return lags


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client and
    every Hubbub producer use), for senders that group records per partition themselves."""
    from kafka.partitioner.default import murmur2

    return int((murmur2(key) & 0x7FFFFFFF) % partitions)

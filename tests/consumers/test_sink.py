"""The sink against the real broker and ClickHouse: everything lands once, nothing is lost."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from consumers.rows import DERIVED_TABLES, Column
from consumers.sink import ALL_TOPICS, Sink, SinkStats
from infra.clickhouse import ClickHouse
from infra.kafka import (
    DLQ_TOPIC,
    TopicSpec,
    ensure_topics,
    make_consumer,
    make_producer,
    topic_name,
)
from infra.settings import Settings
from schemas.codec import encode, record_headers
from schemas.errors import SinkUnavailable
from schemas.examples import example_events

pytestmark = pytest.mark.integration


@pytest.fixture
def topics(settings: Settings, ch: ClickHouse) -> Settings:
    ensure_topics(settings, [TopicSpec(t) for t in (*ALL_TOPICS, DLQ_TOPIC)])
    return settings


@pytest.fixture
def producer(settings: Settings) -> Iterator[Any]:
    p = make_producer(settings)
    yield p
    p.close(timeout=5)


def send(
    producer: Any,
    settings: Settings,
    logical: str,
    rows: list[dict[str, Any]] | bytes,
    *,
    key: bytes = b"t/k",
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    value = rows if isinstance(rows, bytes) else json.dumps({"rows": rows}).encode()
    producer.send(topic_name(settings, logical), key=key, value=value, headers=headers or []).get(
        timeout=30
    )


def drain(sink: Sink, *, records: int, deadline_s: float = 60.0) -> SinkStats:
    """Step the sink until it has read ``records`` records and committed everything read."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        sink.poll_once()
        stats = sink.stats()
        if stats.records >= records and stats.uncommitted == 0:
            return stats
    raise AssertionError(f"sink did not drain {records} records in {deadline_s}s: {sink.stats()}")


def make_sink(
    settings: Settings, clickhouse: Callable[[], ClickHouse] | None = None, **options: Any
) -> Sink:
    options = {
        "group_id": f"{settings.topic_prefix}-sink",
        "batch_ms": 0,
        "poll_timeout_ms": 200,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        **options,
    }
    return Sink(settings, clickhouse, **options)


SAMPLE: dict[str, dict[str, Any]] = {
    "feed-items": {
        "tenant": "t",
        "owners": ["v"],
        "activity_id": "post/p1",
        "kind": "post",
        "author": "a",
        "post_id": "p1",
        "created_ms": 1000,
        "version": 1000,
        "is_deleted": 0,
    },
    "notification-groups": {
        "tenant": "t",
        "recipient": "a",
        "kind": "comment",
        "object_kind": "post",
        "object_id": "p1",
        "post_id": "p1",
        "actor_count": 1,
        "latest_actors": ["b"],
        "first_ms": 2000,
        "last_ms": 2000,
        "excerpt": "Hello",
        "version": 2,
        "is_deleted": 0,
    },
    "trend-contributions": {
        "tenant": "t",
        "dimension": "hashtag",
        "dim_value": "launch",
        "metric": "post",
        "source_id": "p1",
        "actor": "a",
        "at_ms": 1000,
        "version": 1,
        "is_deleted": 0,
    },
    "content-state": {
        "tenant": "t",
        "post_id": "p1",
        "object_id": "p1",
        "kind": "post",
        "author": "a",
        "title": "Hello",
        "body": "World",
        "in_reply_to": "",
        "created_ms": 1000,
        "edited_ms": 0,
        "deleted": 0,
        "spam": 0,
        "machine_verdict": "ham",
        "person_verdict": "",
        "version": 1,
    },
    "inbox-state": {
        "tenant": "t",
        "user": "a",
        "read_up_to_ms": 1500,
        "seen_up_to_ms": 1600,
        "group_reads": {"comment:post:p1": 2500},
        "version": 4,
    },
    "follows-state": {
        "tenant": "t",
        "follower": "v",
        "followee": "a",
        "since_ms": 900,
        "version": 1,
        "is_deleted": 0,
    },
    "author-state": {
        "tenant": "t",
        "author": "a",
        "read_fanout": 0,
        "follower_count": 1,
        "version": 1,
    },
}


def _columns(table: str) -> tuple[Column, ...]:
    spec = next(t for t in DERIVED_TABLES if t.read_model == table)
    if spec.lands_in:  # loaded through feed_fanout, one row per owner
        return tuple(Column("owner", "text") if c.name == "owners" else c for c in spec.columns)
    return spec.columns


def table_rows(ch: ClickHouse, table: str, *, final: bool = True) -> list[tuple[Any, ...]]:
    columns = ", ".join(
        f"toUnixTimestamp64Milli({c.name})"
        if c.kind == "ms"
        else f"mapApply((k, v) -> (k, toUnixTimestamp64Milli(v)), {c.name})"
        if c.kind == "ms_map"
        else c.name
        for c in _columns(table)
    )
    return sorted(
        ch.rows(f"SELECT {columns} FROM `{ch.database}`.{table}{' FINAL' if final else ''}")
    )


def test_the_sink_loads_every_table_and_the_event_log(
    topics: Settings, producer: Any, ch: ClickHouse
) -> None:
    for logical, row in SAMPLE.items():
        send(producer, topics, logical, [row])
    events = example_events()
    for event in events:
        producer.send(
            topic_name(topics, event.topic),
            key=event.key().encode(),
            value=encode(event),
            headers=record_headers(event),
        ).get(timeout=30)
    with make_sink(topics) as sink:
        stats = drain(sink, records=len(SAMPLE) + len(events))
    assert stats.rows == {**{t.name: 1 for t in DERIVED_TABLES}, "events": len(events)}
    assert (stats.dead_letters, stats.retries, stats.buffered, stats.last_error) == (0, 0, 0, None)
    assert stats.lag and set(stats.lag.values()) == {0}
    for table in DERIVED_TABLES:
        if table.lands_in:  # feed_fanout stores nothing: expanded into feed_items
            assert table_rows(ch, "feed_items") == [
                ("t", "v", "post/p1", "post", "a", "p1", 1000, 1000, 0)
            ]
        else:
            assert table_rows(ch, table.name) == [table.row(SAMPLE[table.topic])]
    logged = ch.rows(f"SELECT toString(event_id), event_type, topic FROM `{ch.database}`.events")
    assert sorted(logged) == sorted(
        (e.event_id, e.event_type, topic_name(topics, e.topic)) for e in events
    )


def test_redelivered_and_replaced_rows_never_double(
    topics: Settings, producer: Any, ch: ClickHouse
) -> None:
    feed = SAMPLE["feed-items"]
    group = SAMPLE["notification-groups"]
    send(producer, topics, "feed-items", [feed, dict(feed, activity_id="post/p2", post_id="p2")])
    send(producer, topics, "notification-groups", [group])
    with make_sink(topics) as sink:
        drain(sink, records=2)
    # the same messages again (a redelivery or a replay), then newer versions
    send(producer, topics, "feed-items", [feed, dict(feed, activity_id="post/p2", post_id="p2")])
    send(producer, topics, "notification-groups", [group])
    send(
        producer,
        topics,
        "feed-items",
        [dict(feed, activity_id="post/p2", post_id="p2", created_ms=0, version=3000, is_deleted=1)],
    )
    send(
        producer,
        topics,
        "notification-groups",
        [dict(group, actor_count=2, latest_actors=["c", "b"], last_ms=3000, version=3)],
    )
    with make_sink(topics) as sink:
        stats = drain(sink, records=4)
    assert stats.rows == {"feed_fanout": 3, "notification_groups": 2}
    assert table_rows(ch, "feed_items") == [("t", "v", "post/p1", "post", "a", "p1", 1000, 1000, 0)]
    assert table_rows(ch, "notification_groups") == [
        ("t", "a", "comment", "post", "p1", "p1", 2, ["c", "b"], 2000, 3000, "Hello", 3, 0)
    ]
    # a sink in a new group re-reads the whole log: still one row per key
    with make_sink(topics, group_id=f"{topics.topic_prefix}-replay") as sink:
        drain(sink, records=5)
    assert len(table_rows(ch, "feed_items", final=False)) > 1
    assert table_rows(ch, "feed_items") == [("t", "v", "post/p1", "post", "a", "p1", 1000, 1000, 0)]
    assert [r[6:] for r in table_rows(ch, "notification_groups")] == [
        (2, ["c", "b"], 2000, 3000, "Hello", 3, 0)
    ]


def test_a_feed_row_lands_once_per_owner_and_later_rows_win_ties(
    topics: Settings, producer: Any, ch: ClickHouse
) -> None:
    feed = SAMPLE["feed-items"]
    # One record: a fan-out to three owners, then a removal for one of them at the same
    # version. Expanded in order, the removal is the row written last for w.
    send(
        producer,
        topics,
        "feed-items",
        [dict(feed, owners=["v", "w", "x"]), dict(feed, owners=["w"], is_deleted=1)],
    )
    with make_sink(topics) as sink:
        stats = drain(sink, records=1)
    assert stats.rows == {"feed_fanout": 2}
    assert table_rows(ch, "feed_items") == [
        ("t", owner, "post/p1", "post", "a", "p1", 1000, 1000, 0) for owner in ("v", "x")
    ]


class FlakyClickHouse:
    """A ClickHouse factory that is down for the first ``failures`` connections."""

    def __init__(self, settings: Settings, failures: int) -> None:
        self.settings = settings
        self.failures = failures
        self.calls = 0

    def __call__(self) -> ClickHouse:
        self.calls += 1
        if self.calls <= self.failures:
            raise SinkUnavailable(f"ClickHouse unreachable (simulated outage {self.calls})")
        return ClickHouse(self.settings)


def test_an_outage_is_retried_with_backoff_and_loses_nothing(
    topics: Settings, producer: Any, ch: ClickHouse, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [
        dict(SAMPLE["feed-items"], activity_id=f"post/p{i}", post_id=f"p{i}") for i in range(50)
    ]
    send(producer, topics, "feed-items", rows[:25])
    send(producer, topics, "feed-items", rows[25:])
    factory = FlakyClickHouse(topics, failures=3)
    caplog.set_level(logging.WARNING, logger="hubbub.sink")
    with make_sink(topics, factory) as sink:
        end = time.monotonic() + 60
        while sink.stats().retries == 0 and time.monotonic() < end:
            sink.poll_once()
        read_before = sink.stats().records
        send(producer, topics, "feed-items", [dict(rows[0], activity_id="post/late")])
        sink.poll_once()
        sink.poll_once()
        during = sink.stats()
        # paused while it cannot write: nothing new is read, nothing written or committed
        assert (during.retries, during.records, during.rows) == (3, read_before, {})
        assert during.uncommitted == read_before > 0
        assert during.last_error == "ClickHouse unreachable (simulated outage 3)"
        assert ch.rows(f"SELECT count() FROM `{ch.database}`.feed_items") == [(0,)]
        stats = drain(sink, records=3)
    assert (stats.retries, stats.rows, stats.last_error) == (3, {"feed_fanout": 51}, None)
    attempts = [r.getMessage() for r in caplog.records if "write attempt" in r.getMessage()]
    assert [m.split(",")[0] for m in attempts] == [
        f"sink write attempt {n} failed" for n in (1, 2, 3)
    ]
    assert all(f"holding {25 * read_before} rows" in m for m in attempts)
    assert [m.rsplit(": ", 1)[1] for m in attempts] == [
        f"ClickHouse unreachable (simulated outage {n})" for n in (1, 2, 3)
    ]
    assert len(table_rows(ch, "feed_items")) == 51


def test_offsets_are_not_committed_before_a_successful_insert(
    topics: Settings, producer: Any, ch: ClickHouse
) -> None:
    rows = [dict(SAMPLE["author-state"], author=f"a{i}") for i in range(10)]
    send(producer, topics, "author-state", rows)
    down = FlakyClickHouse(topics, failures=10**6)
    sink = make_sink(topics, down)
    end = time.monotonic() + 60
    while sink.stats().retries == 0 and time.monotonic() < end:
        sink.poll_once()
    stats = sink.stats()
    assert (stats.records, stats.rows, stats.uncommitted, stats.buffered) == (1, {}, 1, 10)
    assert stats.last_error == "ClickHouse unreachable (simulated outage 1)"
    sink.close()  # the process dies here: nothing was written, nothing was committed
    with make_sink(topics) as again:
        stats = drain(again, records=1)
    assert (stats.records, stats.rows) == (1, {"author_state": 10})
    assert [r[1] for r in table_rows(ch, "author_state")] == sorted(f"a{i}" for i in range(10))
    # and now it is committed: a third sink of the group finds nothing to read
    with make_sink(topics) as third:
        for _ in range(5):
            third.poll_once()
        assert third.stats().records == 0


def test_a_record_that_cannot_be_loaded_goes_to_the_dead_letters(
    topics: Settings, producer: Any, ch: ClickHouse
) -> None:
    good = SAMPLE["follows-state"]
    missing = {k: v for k, v in good.items() if k != "followee"}
    send(producer, topics, "follows-state", b"{not json", key=b"t/x", headers=[("trace", b"abc")])
    send(producer, topics, "follows-state", [good, missing], key=b"t/y")
    send(producer, topics, "follows-state", [good], key=b"t/z")
    with make_sink(topics) as sink:
        stats = drain(sink, records=3)
    assert (stats.dead_letters, stats.rows) == (2, {"follows_state": 1})
    assert table_rows(ch, "follows_state") == [("t", "v", "a", 900, 1, 0)]

    reader = make_consumer(topics, [topic_name(topics, DLQ_TOPIC)], consumer_timeout_ms=1000)
    letters: list[Any] = []
    end = time.monotonic() + 30
    while len(letters) < 2 and time.monotonic() < end:
        for batch in reader.poll(timeout_ms=500).values():
            letters.extend(batch)
    reader.close()
    by_key = {r.key: r for r in letters}
    assert sorted(by_key) == [b"t/x", b"t/y"]
    source = topic_name(topics, "follows-state")
    bad_json = by_key[b"t/x"]
    headers = dict(bad_json.headers)
    assert bad_json.value == b"{not json"
    assert headers["dlq_topic"] == source.encode()
    assert headers["dlq_stage"] == b"sink"
    assert headers["trace"] == b"abc"
    assert (
        headers["dlq_reason"]
        .decode()
        .startswith(
            f"{source}[{headers['dlq_partition'].decode()}]@{headers['dlq_offset'].decode()}: "
            "not UTF-8 JSON"
        )
    )
    assert (
        b"follows_state row 1: column 'followee' is missing"
        in dict(by_key[b"t/y"].headers)["dlq_reason"]
    )
    assert json.loads(by_key[b"t/y"].value) == {"rows": [good, missing]}


def test_run_stops_when_idle_and_when_told(topics: Settings, producer: Any, ch: ClickHouse) -> None:
    send(producer, topics, "author-state", [SAMPLE["author-state"]])
    with make_sink(topics, batch_ms=50) as sink:
        stats = sink.run(idle_exit_s=3.0)
    assert (stats.records, stats.rows, stats.uncommitted) == (1, {"author_state": 1}, 0)
    stop = threading.Event()
    stop.set()
    with make_sink(topics) as sink:
        assert sink.run(stop).records == 0

"""The producer library against the real broker: what goes in comes out, and failures are named."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.kafka import ensure_topics, event_topic_specs, make_consumer, topic_name
from infra.launchers import common, services
from infra.launchers import kafka as kafka_launcher
from infra.settings import Settings
from producers.jsonl import produce_lines
from producers.publisher import Publisher
from schemas.codec import decode, fingerprint_of, to_json
from schemas.errors import InvalidEvent, PublishFailed
from schemas.events import CommentPosted
from schemas.examples import example_events

pytestmark = pytest.mark.integration


def _read_all(settings: Settings, expected: int, *, timeout_s: float = 30.0) -> list:
    topics = [topic_name(settings, s.logical) for s in event_topic_specs()]
    consumer = make_consumer(settings, topics, consumer_timeout_ms=1000)
    records: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def test_every_event_type_round_trips_through_the_broker(settings: Settings) -> None:
    ensure_topics(settings, event_topic_specs())
    events = example_events()
    with Publisher(settings) as publisher:
        deliveries = publisher.publish_many(events)
        receipts = [d.result(timeout=30) for d in deliveries]
    assert [r.event_id for r in receipts] == [e.event_id for e in events]

    records = _read_all(settings, len(events))
    assert len(records) == len(events)
    by_id = {}
    for record in records:
        event = decode(record.value)
        headers = dict(record.headers)
        assert headers["event_type"].decode() == event.event_type
        assert headers["event_id"].decode() == event.event_id
        assert headers["schema_fingerprint"].decode() == fingerprint_of(event.event_type).hex()
        assert record.key == event.key().encode()
        assert record.topic == topic_name(settings, event.topic)
        by_id[event.event_id] = event
    assert by_id == {e.event_id: e for e in events}
    # A thread's events share a partition, in publish order.
    content = [r for r in records if r.topic.endswith(".content")]
    assert len({r.partition for r in content}) == 1
    assert [decode(r.value).event_id for r in sorted(content, key=lambda r: r.offset)] == [
        e.event_id for e in events if e.topic == "content"
    ]


def test_invalid_json_lines_are_reported_and_the_rest_still_go(settings: Settings) -> None:
    ensure_topics(settings, event_topic_specs())
    good = [to_json(e) for e in example_events()[:3]]
    import json

    bad_body = dict(good[2], body="")
    lines = [
        json.dumps(good[0]),
        "{not json",
        json.dumps(good[1]),
        json.dumps(bad_body),
        json.dumps({"type": "Nope"}),
        json.dumps(good[2]),
    ]
    with Publisher(settings) as publisher:
        report = produce_lines(lines, publisher)
    assert report.published == 3
    assert [e.line for e in report.rejected] == [2, 4, 5]
    assert "JSON" in report.rejected[0].reason
    assert "body" in report.rejected[1].reason
    assert "Nope" in report.rejected[2].reason
    assert len(_read_all(settings, 3)) == 3


def test_an_invalid_event_raises_before_anything_is_sent() -> None:
    with pytest.raises(InvalidEvent) as info:
        CommentPosted(
            tenant="t",
            actor="ana",
            post_id="p1",
            comment_id="c1",
            body="",
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    assert info.value.field == "body"


@pytest.fixture
def private_broker(tmp_path: Path, settings: Settings) -> Iterator[Settings]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    kafka_port, controller_port = common.pick_free_ports(2)
    own = settings.with_overrides(
        kafka_bootstrap=f"127.0.0.1:{kafka_port}",
        kafka_controller_port=controller_port,
        state_dir=tmp_path / "state",
        publish_timeout_s=6.0,
    )
    _start_kafka(own)
    yield own
    services.down(own)


def _start_kafka(settings: Settings) -> None:
    kafka_launcher.start(settings, jar_cache=services.default_jar_cache())
    deadline = time.monotonic() + 90
    while not kafka_launcher.probe(settings):
        assert time.monotonic() < deadline, "private broker did not become healthy"
        time.sleep(0.5)


def test_broker_down_names_every_unsent_event_then_recovers(private_broker: Settings) -> None:
    settings = private_broker
    ensure_topics(settings, event_topic_specs())
    events = example_events("down-test")
    publisher = Publisher(settings)
    publisher.publish(events[0]).result(timeout=30)  # metadata cached, connection open

    services.down(settings)  # stop the broker under the publisher
    started = time.monotonic()
    for event in events[1:]:
        publisher.publish(event)
    with pytest.raises(PublishFailed) as info:
        publisher.flush()
    elapsed = time.monotonic() - started
    assert sorted(i for _, i in info.value.unsent) == sorted(e.event_id for e in events[1:])
    assert elapsed < settings.publish_timeout_s + 10
    assert events[1].event_id in str(info.value)
    publisher.close(timeout=1)

    _start_kafka(settings)  # same state folder: the topics and the first event are still there
    with Publisher(settings) as again:
        again.publish_many(events[1:])
    records = _read_all(settings, len(events))
    assert sorted(decode(r.value).event_id for r in records) == sorted(e.event_id for e in events)


def _comments(n: int, posts: int) -> list[CommentPosted]:
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    return [
        CommentPosted(
            event_id=f"00000000-0000-4000-8000-{i:012d}",
            occurred_at=t0,
            tenant="acme",
            actor="ana",
            comment_id=f"c{i}",
            post_id=f"p{i % posts}",
            body="hello",
        )
        for i in range(n)
    ]


def test_partitions_are_kafka_pythons_default_choice(settings: Settings) -> None:
    """The publisher places records itself (a per-key cache): exactly where kafka-python's own
    default partitioner would, so every producer of a key agrees."""
    from kafka.partitioner.default import DefaultPartitioner

    ensure_topics(settings, event_topic_specs())
    topic = topic_name(settings, "content")
    events = _comments(60, posts=23)
    with Publisher(settings) as publisher:
        deliveries = publisher.publish_many(events)
        publisher.flush()
        cluster = publisher._producer._metadata
        for event, delivery in zip(events, deliveries, strict=True):
            key = event.key().encode()
            expected = DefaultPartitioner().partition(topic, None, key, None, None, cluster)
            assert delivery.result(timeout=10).partition == expected, key


def test_added_partitions_are_noticed(settings: Settings) -> None:
    from kafka.admin import NewPartitions

    from infra.kafka import admin, partition_for

    ensure_topics(settings, event_topic_specs())
    topic = topic_name(settings, "content")
    with Publisher(settings) as publisher:
        publisher.publish_many(_comments(10, posts=10))
        publisher.flush()
        with admin(settings) as client:
            client.create_partitions({topic: NewPartitions(total_count=settings.partitions + 3)})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # kafka-python refreshes its metadata in the background
            publisher._producer._metadata.request_update()
            publisher._refresh_partition_counts()
            if publisher._partition_counts[topic] == settings.partitions + 3:
                break
            time.sleep(0.5)
        later = _comments(40, posts=40)
        deliveries = publisher.publish_many(later)
        publisher.flush()
    for event, delivery in zip(later, deliveries, strict=True):
        wanted = partition_for(event.key().encode(), settings.partitions + 3)
        assert delivery.result(timeout=10).partition == wanted

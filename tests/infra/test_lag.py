"""LagProbe against the real broker: end offsets minus a group's committed offsets."""

from __future__ import annotations

import time

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from infra.kafka import LagProbe, TopicSpec, ensure_topics, make_consumer, make_producer, topic_name
from infra.settings import Settings
from schemas.errors import ServiceUnavailable


def _first_read(probe: LagProbe, group: str, topic: str) -> dict[str, int]:
    """On a fresh broker the group coordinator takes a few seconds to come up."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return probe.partition_lags(group, [topic])
        except ServiceUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_lag_follows_commits_and_survives_a_closed_client(settings: Settings) -> None:
    ensure_topics(settings, [TopicSpec("lagged", partitions=2)])
    topic = topic_name(settings, "lagged")
    group = f"{settings.topic_prefix}-lag"
    producer = make_producer(settings)
    for i in range(5):
        producer.send(topic, value=b"x", partition=i % 2)
    producer.flush()
    producer.close()

    with LagProbe(settings) as probe:
        # A group that never committed counts every record.
        assert _first_read(probe, group, topic) == {f"{topic}[0]": 3, f"{topic}[1]": 2}
        committer = make_consumer(settings, [], group_id=group)
        committer.assign([TopicPartition(topic, 0)])
        committer.commit({TopicPartition(topic, 0): OffsetAndMetadata(3, "", -1)})
        committer.close()
        assert probe.partition_lags(group, [topic]) == {f"{topic}[1]": 2}
        assert probe.lag(group, [topic]) == 2
        # The probe reconnects after its clients went away.
        probe.close()
        assert probe.lag(group, [topic]) == 2

"""The topics a deployment has beyond the event topics: derived topics and dead letters."""

from __future__ import annotations

from infra.kafka import DLQ_TOPIC, EVENT_TOPIC_CONFIG, TopicSpec
from streams.rows import ACTIVITY_TOPIC, DERIVED_TOPICS

# Derived topics can be rebuilt by a replay of the event topics; a week covers any sink outage.
DERIVED_TOPIC_CONFIG = {"retention.ms": str(7 * 24 * 3600 * 1000), "cleanup.policy": "delete"}


def derived_topic_specs() -> list[TopicSpec]:
    return [
        *(TopicSpec(name, configs=DERIVED_TOPIC_CONFIG) for name in DERIVED_TOPICS),
        TopicSpec(ACTIVITY_TOPIC, configs=DERIVED_TOPIC_CONFIG),
        TopicSpec(DLQ_TOPIC, partitions=1, configs=dict(EVENT_TOPIC_CONFIG)),
    ]

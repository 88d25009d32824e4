"""Which topics a deployment has beyond the event topics (derived topics, dead letters).

Until the stream processors land this is empty; they add their derived topics here.
"""

from __future__ import annotations

from infra.kafka import TopicSpec


def derived_topic_specs() -> list[TopicSpec]:
    return []

"""How an agent's output reaches Kafka: derived rows grouped per partition, forwarded activity
in bundles, published verdicts, and dead letters. The one place the agents send from.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import Any

import faust

from infra.kafka import DLQ_TOPIC, dead_letter_headers, partition_for, topic_name
from infra.settings import Settings
from schemas.codec import encode, record_headers
from streams import bundle
from streams.processors import Output
from streams.rows import ACTIVITY_TOPIC, messages

log = logging.getLogger("hubbub.streams")


class Emitter:
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
            for value in messages(rows):
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

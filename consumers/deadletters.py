"""Reading and re-driving dead letters (``hubbub dlq list | replay``).

A dead letter keeps the original key, value and headers plus where it came from and why it was
refused (``infra.kafka.dead_letter_headers``). Replay sends each one back to its original topic
unchanged, once: progress is the committed offset of the consumer group ``{prefix}-dlq-replay``,
so running replay twice re-drives nothing twice. After a fix (a new schema version deployed, a
bug fixed) the processors then accept what they refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infra.kafka import DLQ_TOPIC, make_consumer, topic_name
from infra.settings import Settings
from producers.publisher import Publisher


@dataclass(frozen=True)
class DeadLetter:
    dlq_offset: int
    topic: str
    partition: int
    offset: int
    stage: str
    reason: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def label(self) -> tuple[str, str]:
        h = dict(self.headers)
        return (
            h.get("event_type", b"?").decode(errors="replace"),
            h.get("event_id", b"?").decode(errors="replace"),
        )


def _letters(
    settings: Settings,
    *,
    group_id: str | None,
    limit: int | None,
    then: Callable[[list[DeadLetter]], None] | None = None,
) -> list[DeadLetter]:
    """Read dead letters; with ``then``, call it and commit the group's offsets after it."""
    consumer = make_consumer(
        settings, [topic_name(settings, DLQ_TOPIC)], group_id=group_id, consumer_timeout_ms=2000
    )
    out: list[DeadLetter] = []
    try:
        for record in consumer:
            h = dict(record.headers)
            out.append(
                DeadLetter(
                    dlq_offset=record.offset,
                    topic=h.get("dlq_topic", b"").decode(),
                    partition=int(h.get("dlq_partition", b"-1")),
                    offset=int(h.get("dlq_offset", b"-1")),
                    stage=h.get("dlq_stage", b"").decode(),
                    reason=h.get("dlq_reason", b"").decode(errors="replace"),
                    key=record.key,
                    value=record.value or b"",
                    headers=tuple((k, v) for k, v in record.headers if not k.startswith("dlq_")),
                )
            )
            if limit is not None and len(out) >= limit:
                break
        if then is not None:
            then(out)
            consumer.commit()  # only after ``then`` succeeded: a failed replay is retried whole
    finally:
        consumer.close()
    return out


def read_dead_letters(settings: Settings, *, limit: int = 100) -> list[DeadLetter]:
    """The first ``limit`` dead letters, oldest first (commits nothing)."""
    return _letters(settings, group_id=None, limit=limit)


def replay_dead_letters(settings: Settings, *, dry_run: bool = False) -> int:
    """Send every dead letter not replayed before back to its topic; returns how many records.

    Letters of the same original record (refused by two stages) are sent once per run.

    Raises ``PublishFailed`` (and commits nothing) if any could not be re-driven.
    """
    if dry_run:
        return len(_letters(settings, group_id=None, limit=None))

    redriven = 0

    def redrive(letters: list[DeadLetter]) -> None:
        nonlocal redriven
        # A record refused by two stages (a processor and the sink) has two letters: send it once.
        origins = {(letter.topic, letter.partition, letter.offset): letter for letter in letters}
        with Publisher(settings) as publisher:
            for letter in origins.values():
                publisher.publish_raw(
                    letter.topic,
                    key=letter.key,
                    value=letter.value,
                    headers=list(letter.headers),
                    label=letter.label,
                )
        redriven = len(origins)

    _letters(settings, group_id=f"{settings.topic_prefix}-dlq-replay", limit=None, then=redrive)
    return redriven

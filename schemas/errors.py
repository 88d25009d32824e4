"""The one exception tree of Hubbub.

Every error a caller can act on is a ``HubbubError``. The class-level ``retriable`` flag tells the
caller whether trying the same thing again later can succeed (a broker that is down) or not (an
event that breaks its contract). Foreign exceptions are translated into these at the one module
that owns each outside system (``infra.kafka``, ``infra.clickhouse``), never further up.
"""

from __future__ import annotations


class HubbubError(Exception):
    """Root of every error Hubbub raises on purpose."""

    retriable: bool = False


class InvalidEvent(HubbubError):
    """An event breaks its contract: a missing field, a bad id, a naive time, text too long.

    Carries the event type, the field and the reason so the message can say exactly what to fix.
    """

    def __init__(
        self, event_type: str, field: str, reason: str, *, event_id: str | None = None
    ) -> None:
        self.event_type = event_type
        self.field = field
        self.reason = reason
        self.event_id = event_id
        where = f"{event_type}.{field}"
        if event_id:
            where += f" (event {event_id})"
        super().__init__(f"invalid event: {where}: {reason}")


class DecodeError(HubbubError):
    """Bytes that are not a Hubbub event: bad magic, truncated body, or an unknown schema."""


class UnknownSchema(DecodeError):
    """The writer fingerprint of a message is not one this build knows (neither current nor past)."""

    def __init__(self, fingerprint: bytes) -> None:
        self.fingerprint = fingerprint
        super().__init__(
            f"unknown writer schema fingerprint {fingerprint.hex()}: the message was written with a "
            "schema this build of hubbub does not know; upgrade the reader or check the producer"
        )


class ServiceUnavailable(HubbubError):
    """An outside system (Kafka, ClickHouse) could not be reached or did not answer in time."""

    retriable = True


class BrokerUnavailable(ServiceUnavailable):
    """Kafka could not be reached, or did not acknowledge in time."""


class SinkUnavailable(ServiceUnavailable):
    """ClickHouse could not be reached, or refused a write for a reason that may pass."""


class PublishFailed(HubbubError):
    """Some events were not acknowledged by Kafka; ``unsent`` names every one of them."""

    retriable = True

    def __init__(self, unsent: list[tuple[str, str]], cause: str) -> None:
        # unsent: (event type, event id) of every event the broker did not acknowledge
        self.unsent = unsent
        self.cause = cause
        listed = ", ".join(f"{t} {i}" for t, i in unsent[:20])
        more = f" and {len(unsent) - 20} more" if len(unsent) > 20 else ""
        super().__init__(
            f"{len(unsent)} event(s) not acknowledged by Kafka ({cause}): {listed}{more}. "
            "Nothing was lost silently: publish them again once the broker is reachable "
            "(event ids are stable, so consumers drop any duplicate)."
        )


class ConfigError(HubbubError):
    """A setting is missing or malformed; the message names the variable or flag."""


class InfraError(HubbubError):
    """A local service could not be installed, started or stopped; the message says why."""

"""The envelope every event shares, the validation rules, and the limits they enforce.

``schemas.events`` builds the concrete events on ``Event``; import from there. This module exists to
keep each file short: the shared rules here, the catalogue there.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Literal, NoReturn

from schemas.errors import InvalidEvent

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
REACTION_PATTERN = re.compile(r"[a-z0-9_+-]{1,32}")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

TITLE_MAX = 300
POST_BODY_MAX = 40_000
COMMENT_BODY_MAX = 10_000
URL_MAX = 2048
REASONS_MAX_ITEMS = 16
REASON_MAX = 200
GROUP_KEYS_MAX_ITEMS = 1000
GROUP_KEY_MAX = 256

ObjectKind = Literal["post", "comment"]
Verdict = Literal["spam", "ham"]
VerdictSource = Literal["machine", "person"]
OBJECT_KINDS: tuple[str, ...] = ("post", "comment")
VERDICTS: tuple[str, ...] = ("spam", "ham")
VERDICT_SOURCES: tuple[str, ...] = ("machine", "person")

# The namespace of stable_event_id: fixed forever, or every derived id would change.
_STABLE_ID_NAMESPACE = uuid.UUID("6f0d7c36-0b43-5a57-9a58-2f5f6c0e9e41")


def stable_event_id(namespace: str, *parts: str) -> str:
    """A deterministic event id (uuid5) for importers: the same inputs always give the same id.

    ``namespace`` names the source (e.g. "reddit-import"); ``parts`` identify the fact within it
    (e.g. the source's post id and the kind of event). Parts are joined unambiguously, so
    ("a", "bc") and ("ab", "c") differ. Re-importing the same data therefore yields the same ids,
    which consumers deduplicate on.
    """
    if not isinstance(namespace, str) or not namespace:
        raise ValueError("stable_event_id needs a non-empty namespace string")
    if not all(isinstance(p, str) for p in parts):
        raise ValueError("stable_event_id parts must be strings")
    # Length-prefix every part so no two different part lists join to the same name.
    name = "".join(f"{len(p)}:{p}" for p in (namespace, *parts))
    return str(uuid.uuid5(_STABLE_ID_NAMESPACE, name))


def _utc_millis(value: datetime) -> datetime:
    """``value`` in UTC, truncated to milliseconds (the caller has checked it is tz-aware)."""
    utc = value.astimezone(UTC)
    micros = utc.microsecond - utc.microsecond % 1000
    if micros != utc.microsecond or utc.tzinfo is not UTC:
        utc = utc.replace(microsecond=micros, tzinfo=UTC)
    return utc


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """The envelope every event carries; never instantiated itself.

    Class attributes: ``event_type`` (the Avro record name), ``verb`` (the Activity Streams 2.0
    verb), ``topic`` (logical topic: "content", "graph" or "inbox"). ``key()`` is the partition key,
    always ``f"{tenant}/..."`` so one tenant's related events stay ordered on one partition.
    """

    event_type: ClassVar[str] = "Event"
    verb: ClassVar[str] = ""
    topic: ClassVar[str] = ""

    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime
    tenant: str
    actor: str

    def __post_init__(self) -> None:
        if type(self) is Event:
            raise TypeError("Event is the abstract envelope; construct one of EVENT_TYPES")
        self._check_event_id()
        self._set_time("occurred_at")
        self._check_id("tenant")
        self._check_id("actor")
        self._check_fields()

    def key(self) -> str:
        """The partition key: the tenant, a slash, and what orders this event's kind."""
        raise NotImplementedError

    # -- per-type rules; subclasses override ------------------------------------------------------

    def _check_fields(self) -> None:
        """Validate (and normalise) the fields beyond the envelope."""

    # -- shared rules -----------------------------------------------------------------------------

    def _fail(self, name: str, reason: str) -> NoReturn:
        raise InvalidEvent(self.event_type, name, reason, event_id=self.event_id)

    def _check_event_id(self) -> None:
        value = self.event_id
        if isinstance(value, uuid.UUID):
            object.__setattr__(self, "event_id", str(value))
            return
        if not isinstance(value, str):
            raise InvalidEvent(
                self.event_type,
                "event_id",
                f"must be UUID text, got {type(value).__name__}",
            )
        if _CANONICAL_UUID.fullmatch(value):
            return
        try:
            canonical = str(uuid.UUID(value))
        except ValueError:
            raise InvalidEvent(
                self.event_type, "event_id", f"{value[:64]!r} is not a UUID"
            ) from None
        object.__setattr__(self, "event_id", canonical)

    def _set_time(self, name: str) -> None:
        value = getattr(self, name)
        if not isinstance(value, datetime):
            self._fail(name, f"must be a tz-aware datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            self._fail(name, "naive datetime; give a tz-aware one (e.g. datetime.now(UTC))")
        try:
            normalised = _utc_millis(value)
        except OverflowError:
            self._fail(name, f"{value.isoformat()} cannot be expressed in UTC")
        if normalised is not value:
            object.__setattr__(self, name, normalised)

    def _check_id(self, name: str) -> None:
        value = getattr(self, name)
        if not isinstance(value, str):
            self._fail(name, f"must be an id string, got {type(value).__name__}")
        if not ID_PATTERN.fullmatch(value):
            self._fail(
                name,
                f"{value[:140]!r} is not an id (1-128 of A-Z a-z 0-9 _ . : @ -, "
                "starting with a letter or digit)",
            )

    def _check_text(self, name: str, limit: int, *, required: bool) -> None:
        value = getattr(self, name)
        if not isinstance(value, str):
            self._fail(name, f"must be a string, got {type(value).__name__}")
        _check_string(self, name, value, limit, required=required)

    def _check_choice(self, name: str, choices: tuple[str, ...]) -> None:
        value = getattr(self, name)
        if not isinstance(value, str) or value not in choices:
            self._fail(name, f"{value!r} is not one of {', '.join(choices)}")

    def _set_strings(self, name: str, *, max_items: int, limit: int) -> None:
        value = getattr(self, name)
        if isinstance(value, list):
            value = tuple(value)
            object.__setattr__(self, name, value)
        elif not isinstance(value, tuple):
            self._fail(name, f"must be a tuple of strings, got {type(value).__name__}")
        if len(value) > max_items:
            self._fail(name, f"{len(value)} items; at most {max_items} allowed")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self._fail(name, f"item {i} must be a string, got {type(item).__name__}")
            _check_string(self, f"{name}[{i}]", item, limit, required=True)


def _check_string(event: Event, name: str, value: str, limit: int, *, required: bool) -> None:
    if len(value) > limit:
        event._fail(name, f"{len(value)} characters; at most {limit} allowed")
    if required and (not value or value.isspace()):
        event._fail(name, "must not be empty")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            event._fail(name, f"not encodable as UTF-8 at character {exc.start} (lone surrogate)")

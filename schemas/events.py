"""The typed events of Hubbub: one frozen dataclass per fact, all sharing the envelope of ``Event``.

Guarantees of every constructed event (checked in ``__post_init__``, so no invalid event exists):

- ``event_id`` is canonical lowercase UUID text (any form ``uuid.UUID`` parses is accepted and
  rewritten canonically); it defaults to a fresh uuid4.
- ``occurred_at`` (and ``up_to_at``) are tz-aware datetimes converted to UTC and truncated to whole
  milliseconds, the precision of the Avro ``timestamp-millis`` they are stored as. Naive datetimes
  are rejected.
- ids (tenant, actor, post, comment, followee, object) match ``ID_PATTERN``.
- text fits the limits below, counted in characters (code points), and is encodable as UTF-8
  (no lone surrogates).
- sequences (``reasons``, ``group_keys``) are stored as tuples; a list is accepted and converted.

Every violation raises ``InvalidEvent`` naming the event type, the field, the reason and (once the
id itself is valid) the event id. A missing required argument is Python's own ``TypeError``.

Limits: title <= 300, post body 1..40_000, comment body 1..10_000 (whitespace-only counts as empty),
url <= 2048, reaction token 1..32 of ``[a-z0-9_+-]``, reasons <= 16 items of 1..200 characters,
group keys <= 1000 items of 1..256 characters, score a finite number in [0, 1].
"""

from __future__ import annotations

import math
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


# -- content: posts -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class PostPublished(Event):
    """A user published a post (the root of a thread)."""

    event_type: ClassVar[str] = "PostPublished"
    verb: ClassVar[str] = "Create"
    topic: ClassVar[str] = "content"

    post_id: str
    title: str = ""
    body: str
    url: str | None = None

    def key(self) -> str:
        return f"{self.tenant}/{self.post_id}"

    def _check_fields(self) -> None:
        self._check_id("post_id")
        self._check_text("title", TITLE_MAX, required=False)
        self._check_text("body", POST_BODY_MAX, required=True)
        if self.url is not None:
            self._check_text("url", URL_MAX, required=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class PostEdited(Event):
    """The author replaced a post's title and body (the full new text, not a diff)."""

    event_type: ClassVar[str] = "PostEdited"
    verb: ClassVar[str] = "Update"
    topic: ClassVar[str] = "content"

    post_id: str
    title: str = ""
    body: str

    def key(self) -> str:
        return f"{self.tenant}/{self.post_id}"

    def _check_fields(self) -> None:
        self._check_id("post_id")
        self._check_text("title", TITLE_MAX, required=False)
        self._check_text("body", POST_BODY_MAX, required=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class PostDeleted(Event):
    """A post was deleted (by its author or a moderator: ``actor`` says who)."""

    event_type: ClassVar[str] = "PostDeleted"
    verb: ClassVar[str] = "Delete"
    topic: ClassVar[str] = "content"

    post_id: str

    def key(self) -> str:
        return f"{self.tenant}/{self.post_id}"

    def _check_fields(self) -> None:
        self._check_id("post_id")


# -- content: comments ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class CommentPosted(Event):
    """A user commented in a thread; ``in_reply_to`` names the parent comment, if any."""

    event_type: ClassVar[str] = "CommentPosted"
    verb: ClassVar[str] = "Create"
    topic: ClassVar[str] = "content"

    comment_id: str
    post_id: str
    body: str
    in_reply_to: str | None = None

    def key(self) -> str:
        return f"{self.tenant}/{self.post_id}"

    def _check_fields(self) -> None:
        self._check_id("comment_id")
        self._check_id("post_id")
        self._check_text("body", COMMENT_BODY_MAX, required=True)
        if self.in_reply_to is not None:
            self._check_id("in_reply_to")
            if self.in_reply_to == self.comment_id:
                self._fail("in_reply_to", "a comment cannot reply to itself")


@dataclass(frozen=True, kw_only=True, slots=True)
class CommentEdited(Event):
    """The author replaced a comment's body."""

    event_type: ClassVar[str] = "CommentEdited"
    verb: ClassVar[str] = "Update"
    topic: ClassVar[str] = "content"

    comment_id: str
    post_id: str
    body: str

    def key(self) -> str:
        return f"{self.tenant}/{self.post_id}"

    def _check_fields(self) -> None:
        self._check_id("comment_id")
        self._check_id("post_id")
        self._check_text("body", COMMENT_BODY_MAX, required=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class CommentDeleted(Event):
    """A comment was deleted."""

    event_type: ClassVar[str] = "CommentDeleted"
    verb: ClassVar[str] = "Delete"
    topic: ClassVar[str] = "content"

    comment_id: str
    post_id: str

    def key(self) -> str:
        return f"{self.tenant}/{self.post_id}"

    def _check_fields(self) -> None:
        self._check_id("comment_id")
        self._check_id("post_id")


# -- graph ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Followed(Event):
    """``actor`` started following ``followee`` (never themselves)."""

    event_type: ClassVar[str] = "Followed"
    verb: ClassVar[str] = "Follow"
    topic: ClassVar[str] = "graph"

    followee: str

    def key(self) -> str:
        return f"{self.tenant}/{self.followee}"

    def _check_fields(self) -> None:
        self._check_id("followee")
        if self.followee == self.actor:
            self._fail("followee", "a user cannot follow themselves")


@dataclass(frozen=True, kw_only=True, slots=True)
class Unfollowed(Event):
    """``actor`` stopped following ``followee``."""

    event_type: ClassVar[str] = "Unfollowed"
    verb: ClassVar[str] = "Undo"
    topic: ClassVar[str] = "graph"

    followee: str

    def key(self) -> str:
        return f"{self.tenant}/{self.followee}"

    def _check_fields(self) -> None:
        self._check_id("followee")
        if self.followee == self.actor:
            self._fail("followee", "a user cannot unfollow themselves")


# -- content: reactions and moderation ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ReactionAdded(Event):
    """``actor`` reacted to a post or comment in thread ``post_id`` (``reaction`` e.g. "like")."""

    event_type: ClassVar[str] = "ReactionAdded"
    verb: ClassVar[str] = "Like"
    topic: ClassVar[str] = "content"

    post_id: str
    object_id: str
    object_kind: ObjectKind
    reaction: str

    def key(self) -> str:
        return f"{self.tenant}/{self.post_id}"

    def _check_fields(self) -> None:
        _check_reaction(self)


@dataclass(frozen=True, kw_only=True, slots=True)
class ReactionRemoved(Event):
    """``actor`` took back a reaction."""

    event_type: ClassVar[str] = "ReactionRemoved"
    verb: ClassVar[str] = "Undo"
    topic: ClassVar[str] = "content"

    post_id: str
    object_id: str
    object_kind: ObjectKind
    reaction: str

    def key(self) -> str:
        return f"{self.tenant}/{self.post_id}"

    def _check_fields(self) -> None:
        _check_reaction(self)


def _check_reaction(event: ReactionAdded | ReactionRemoved) -> None:
    event._check_id("post_id")
    event._check_id("object_id")
    event._check_choice("object_kind", OBJECT_KINDS)
    value = event.reaction
    if not isinstance(value, str):
        event._fail("reaction", f"must be a string, got {type(value).__name__}")
    if not REACTION_PATTERN.fullmatch(value):
        event._fail("reaction", f"{value[:40]!r} is not a reaction token (1-32 of a-z 0-9 _ + -)")


@dataclass(frozen=True, kw_only=True, slots=True)
class ModerationVerdict(Event):
    """A spam/ham verdict on a post or comment, by a machine classifier or a person.

    ``score`` is the spam probability in [0, 1]; ``reasons`` are short human-readable grounds.
    """

    event_type: ClassVar[str] = "ModerationVerdict"
    verb: ClassVar[str] = "Flag"
    topic: ClassVar[str] = "content"

    post_id: str
    object_id: str
    object_kind: ObjectKind
    verdict: Verdict
    source: VerdictSource
    score: float
    reasons: tuple[str, ...] = ()

    def key(self) -> str:
        return f"{self.tenant}/{self.post_id}"

    def _check_fields(self) -> None:
        self._check_id("post_id")
        self._check_id("object_id")
        self._check_choice("object_kind", OBJECT_KINDS)
        self._check_choice("verdict", VERDICTS)
        self._check_choice("source", VERDICT_SOURCES)
        score = self.score
        if isinstance(score, bool) or not isinstance(score, int | float):
            self._fail("score", f"must be a number, got {type(score).__name__}")
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            self._fail("score", f"{score!r} is outside [0, 1]")
        if type(score) is not float:
            object.__setattr__(self, "score", float(score))
        self._set_strings("reasons", max_items=REASONS_MAX_ITEMS, limit=REASON_MAX)


# -- inbox ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class NotificationsRead(Event):
    """``actor`` read their notifications up to ``up_to_at``: the groups in ``group_keys``, or all
    of them when ``group_keys`` is empty."""

    event_type: ClassVar[str] = "NotificationsRead"
    verb: ClassVar[str] = "Read"
    topic: ClassVar[str] = "inbox"

    up_to_at: datetime
    group_keys: tuple[str, ...] = ()

    def key(self) -> str:
        return f"{self.tenant}/{self.actor}"

    def _check_fields(self) -> None:
        self._set_time("up_to_at")
        self._set_strings("group_keys", max_items=GROUP_KEYS_MAX_ITEMS, limit=GROUP_KEY_MAX)


@dataclass(frozen=True, kw_only=True, slots=True)
class NotificationsSeen(Event):
    """``actor`` opened their inbox: everything up to ``up_to_at`` is seen (not yet read)."""

    event_type: ClassVar[str] = "NotificationsSeen"
    verb: ClassVar[str] = "View"
    topic: ClassVar[str] = "inbox"

    up_to_at: datetime

    def key(self) -> str:
        return f"{self.tenant}/{self.actor}"

    def _check_fields(self) -> None:
        self._set_time("up_to_at")


EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type: cls
    for cls in (
        PostPublished,
        PostEdited,
        PostDeleted,
        CommentPosted,
        CommentEdited,
        CommentDeleted,
        Followed,
        Unfollowed,
        ReactionAdded,
        ReactionRemoved,
        ModerationVerdict,
        NotificationsRead,
        NotificationsSeen,
    )
}
"""Every concrete event class by its ``event_type``; the Avro record names are the same."""

TOPICS: tuple[str, ...] = ("content", "graph", "inbox")
"""The logical topics; Kafka topic names are ``f"{prefix}.{logical}"``."""

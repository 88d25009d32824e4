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
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from schemas.envelope import (
    COMMENT_BODY_MAX,
    GROUP_KEY_MAX,
    GROUP_KEYS_MAX_ITEMS,
    ID_PATTERN,
    OBJECT_KINDS,
    POST_BODY_MAX,
    REACTION_PATTERN,
    REASON_MAX,
    REASONS_MAX_ITEMS,
    TITLE_MAX,
    URL_MAX,
    VERDICT_SOURCES,
    VERDICTS,
    Event,
    ObjectKind,
    Verdict,
    VerdictSource,
    stable_event_id,
)

__all__ = [
    "COMMENT_BODY_MAX",
    "EVENT_TYPES",
    "GROUP_KEY_MAX",
    "GROUP_KEYS_MAX_ITEMS",
    "ID_PATTERN",
    "OBJECT_KINDS",
    "POST_BODY_MAX",
    "REACTION_PATTERN",
    "REASON_MAX",
    "REASONS_MAX_ITEMS",
    "TITLE_MAX",
    "TOPICS",
    "URL_MAX",
    "VERDICT_SOURCES",
    "VERDICTS",
    "CommentDeleted",
    "CommentEdited",
    "CommentPosted",
    "Event",
    "Followed",
    "ModerationVerdict",
    "NotificationsRead",
    "NotificationsSeen",
    "ObjectKind",
    "PostDeleted",
    "PostEdited",
    "PostPublished",
    "ReactionAdded",
    "ReactionRemoved",
    "Unfollowed",
    "Verdict",
    "VerdictSource",
    "stable_event_id",
]


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

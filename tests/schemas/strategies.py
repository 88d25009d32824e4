"""Hypothesis strategies and fixed examples for every event type (shared by the schema tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from schemas.events import (
    EVENT_TYPES,
    ID_PATTERN,
    OBJECT_KINDS,
    REACTION_PATTERN,
    VERDICT_SOURCES,
    VERDICTS,
    Event,
)

# Text people actually write: accents, CJK, emoji (incl. multi-code-point ones), curly quotes.
SPECIAL = [
    "“quoted”",
    "‘single’",
    "😀",
    "👩‍💻",
    "🎉🎉",
    "naïve café",
    "日本語",
    "Ünïcödé",
    "\t",
    "\n",
]

ids = st.from_regex(ID_PATTERN, fullmatch=True)


def text(*, min_size: int = 0, max_size: int = 200) -> st.SearchStrategy[str]:
    pieces = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(SPECIAL)), max_size=12)
    return (
        pieces.map("".join)
        .map(lambda s: s[:max_size])
        .filter(lambda s: len(s) >= min_size and (min_size == 0 or not s.isspace()))
    )


zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
times = st.datetimes(
    min_value=datetime(1900, 1, 2),  # hypothesis wants naive bounds
    max_value=datetime(2200, 1, 1),
    timezones=zones,
)

FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.uuids().map(str),
    "occurred_at": times,
    "tenant": ids,
    "actor": ids,
    "post_id": ids,
    "comment_id": ids,
    "object_id": ids,
    "followee": ids,
    "title": text(max_size=300),
    "url": st.none() | text(min_size=1, max_size=2048),
    "in_reply_to": st.none() | ids,
    "object_kind": st.sampled_from(OBJECT_KINDS),
    "reaction": st.from_regex(REACTION_PATTERN, fullmatch=True),
    "verdict": st.sampled_from(VERDICTS),
    "source": st.sampled_from(VERDICT_SOURCES),
    "score": st.floats(min_value=0.0, max_value=1.0),
    "reasons": st.lists(text(min_size=1, max_size=200), max_size=16).map(tuple),
    "up_to_at": times,
    "group_keys": st.lists(text(min_size=1, max_size=256), max_size=5).map(tuple),
}
BODY = {"post": text(min_size=1, max_size=40_000), "comment": text(min_size=1, max_size=10_000)}

# Cross-field rules the per-field strategies cannot know.
CONSISTENT: dict[str, Callable[[dict[str, Any]], bool]] = {
    "Followed": lambda d: d["followee"] != d["actor"],
    "Unfollowed": lambda d: d["followee"] != d["actor"],
    "CommentPosted": lambda d: d["in_reply_to"] != d["comment_id"],
}


def events_of(cls: type[Event]) -> st.SearchStrategy[Event]:
    """Valid events of one type, every field drawn (defaults included)."""
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for f in fields(cls):
        if f.name == "body":
            parts[f.name] = BODY["comment" if "Comment" in cls.event_type else "post"]
        else:
            parts[f.name] = FIELDS[f.name]
    rule = CONSISTENT.get(cls.event_type, lambda d: True)
    return st.fixed_dictionaries(parts).filter(rule).map(lambda d: cls(**d))


any_event = st.one_of([events_of(cls) for cls in EVENT_TYPES.values()])

AT = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
EVENT_ID = "0b7e0a3e-6d4f-4c1e-9a52-3f7d2c9b8a10"

EXAMPLE_FIELDS: dict[str, dict[str, Any]] = {
    "PostPublished": {
        "post_id": "p1",
        "title": "Hello",
        "body": "First post",
        "url": "https://x.dev",
    },
    "PostEdited": {"post_id": "p1", "title": "Hello again", "body": "Edited"},
    "PostDeleted": {"post_id": "p1"},
    "CommentPosted": {"comment_id": "c1", "post_id": "p1", "body": "Nice", "in_reply_to": "c0"},
    "CommentEdited": {"comment_id": "c1", "post_id": "p1", "body": "Nicer"},
    "CommentDeleted": {"comment_id": "c1", "post_id": "p1"},
    "Followed": {"followee": "bob"},
    "Unfollowed": {"followee": "bob"},
    "ReactionAdded": {
        "post_id": "p1",
        "object_id": "c1",
        "object_kind": "comment",
        "reaction": "like",
    },
    "ReactionRemoved": {
        "post_id": "p1",
        "object_id": "p1",
        "object_kind": "post",
        "reaction": "+1",
    },
    "ModerationVerdict": {
        "post_id": "p1",
        "object_id": "c1",
        "object_kind": "comment",
        "verdict": "spam",
        "source": "machine",
        "score": 0.97,
        "reasons": ("link farm",),
    },
    "NotificationsRead": {"up_to_at": AT, "group_keys": ("reply:p1",)},
    "NotificationsSeen": {"up_to_at": AT},
}


def example_kwargs(event_type: str, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of a fixed valid event of ``event_type``, with ``overrides`` applied."""
    kwargs: dict[str, Any] = {
        "event_id": EVENT_ID,
        "occurred_at": AT,
        "tenant": "acme",
        "actor": "alice",
        **EXAMPLE_FIELDS[event_type],
    }
    kwargs.update(overrides)
    return kwargs


def example(event_type: str, **overrides: Any) -> Event:
    """A fixed valid event of ``event_type``, with ``overrides`` applied."""
    return EVENT_TYPES[event_type](**example_kwargs(event_type, **overrides))

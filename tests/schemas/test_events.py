"""The event models: every validation rule, normalisation, keys, and deterministic ids."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from schemas.errors import InvalidEvent
from schemas.events import (
    EVENT_TYPES,
    TOPICS,
    CommentPosted,
    Event,
    ModerationVerdict,
    NotificationsRead,
    PostPublished,
    stable_event_id,
)
from tests.schemas.strategies import AT, EVENT_ID, example, example_kwargs

NAIVE = datetime(2024, 5, 1, 12, 0)

# (event type, field, bad value): each must raise InvalidEvent naming exactly that field.
INVALID: list[tuple[str, str, Any]] = [
    ("PostPublished", "event_id", "not-a-uuid"),
    ("PostPublished", "event_id", ""),
    ("PostPublished", "event_id", 42),
    ("PostPublished", "event_id", "0b7e0a3e-6d4f-4c1e-9a52-3f7d2c9b8a1"),
    ("PostPublished", "occurred_at", NAIVE),
    ("PostPublished", "occurred_at", "2024-05-01T12:00:00+00:00"),
    ("PostPublished", "occurred_at", 1714564800000),
    ("PostPublished", "occurred_at", date(2024, 5, 1)),
    ("PostPublished", "tenant", ""),
    ("PostPublished", "tenant", "-acme"),
    ("PostPublished", "tenant", "ac me"),
    ("PostPublished", "tenant", "a" * 129),
    ("PostPublished", "tenant", 7),
    ("PostPublished", "tenant", None),
    ("PostPublished", "actor", "alice/bob"),
    ("PostPublished", "actor", "ålice"),
    ("PostPublished", "post_id", ""),
    ("PostPublished", "post_id", 12),
    ("PostPublished", "title", "t" * 301),
    ("PostPublished", "title", None),
    ("PostPublished", "body", ""),
    ("PostPublished", "body", " \n\t"),
    ("PostPublished", "body", "b" * 40_001),
    ("PostPublished", "body", 5),
    ("PostPublished", "body", "lone \ud800 surrogate"),
    ("PostPublished", "url", ""),
    ("PostPublished", "url", "u" * 2049),
    ("PostPublished", "url", 3),
    ("PostEdited", "body", ""),
    ("PostEdited", "title", "t" * 301),
    ("PostDeleted", "post_id", "p 1"),
    ("CommentPosted", "comment_id", "c#1"),
    ("CommentPosted", "post_id", None),
    ("CommentPosted", "body", ""),
    ("CommentPosted", "body", "b" * 10_001),
    ("CommentPosted", "in_reply_to", "not an id"),
    ("CommentPosted", "in_reply_to", "c1"),
    ("CommentEdited", "body", "b" * 10_001),
    ("CommentDeleted", "comment_id", ""),
    ("Followed", "followee", "alice"),
    ("Followed", "followee", "b b"),
    ("Unfollowed", "followee", "alice"),
    ("ReactionAdded", "object_kind", "thread"),
    ("ReactionAdded", "object_kind", None),
    ("ReactionAdded", "reaction", "Like"),
    ("ReactionAdded", "reaction", ""),
    ("ReactionAdded", "reaction", "a b"),
    ("ReactionAdded", "reaction", "x" * 33),
    ("ReactionAdded", "reaction", 1),
    ("ReactionAdded", "object_id", "?"),
    ("ReactionRemoved", "post_id", ""),
    ("ReactionRemoved", "object_kind", "POST"),
    ("ModerationVerdict", "verdict", "maybe"),
    ("ModerationVerdict", "source", "robot"),
    ("ModerationVerdict", "object_kind", "user"),
    ("ModerationVerdict", "score", 1.5),
    ("ModerationVerdict", "score", -0.1),
    ("ModerationVerdict", "score", float("nan")),
    ("ModerationVerdict", "score", float("inf")),
    ("ModerationVerdict", "score", True),
    ("ModerationVerdict", "score", "0.5"),
    ("ModerationVerdict", "reasons", "link farm"),
    ("ModerationVerdict", "reasons", ("r",) * 17),
    ("ModerationVerdict", "reasons[0]", ("r" * 201,)),
    ("ModerationVerdict", "reasons[1]", ("ok", "")),
    ("ModerationVerdict", "reasons", ("ok", 1)),
    ("NotificationsRead", "up_to_at", NAIVE),
    ("NotificationsRead", "up_to_at", "yesterday"),
    ("NotificationsRead", "group_keys", "reply:p1"),
    ("NotificationsRead", "group_keys", ("g",) * 1001),
    ("NotificationsRead", "group_keys[0]", ("",)),
    ("NotificationsRead", "group_keys[0]", ("g" * 257,)),
    ("NotificationsSeen", "up_to_at", None),
]


@pytest.mark.parametrize(("event_type", "field", "value"), INVALID)
def test_each_rule_names_its_field(event_type: str, field: str, value: Any) -> None:
    base = field.split("[")[0]
    with pytest.raises(InvalidEvent) as caught:
        example(event_type, **{base: value})
    error = caught.value
    assert (error.event_type, error.field) == (event_type, field)
    if base == "event_id":
        assert error.event_id is None
    else:
        assert error.event_id == EVENT_ID
        assert EVENT_ID in str(error)
    assert str(error).startswith(f"invalid event: {event_type}.{field}")


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_naive_occurred_at_is_rejected_for_every_type(event_type: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        example(event_type, occurred_at=NAIVE)
    assert caught.value.field == "occurred_at"
    assert "naive" in caught.value.reason


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_wrong_type_for_a_string_field_is_rejected_for_every_type(event_type: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        example(event_type, actor=123)
    assert caught.value.field == "actor"
    assert caught.value.reason == "must be an id string, got int"


def test_limits_are_inclusive() -> None:
    event = example(
        "PostPublished", title="t" * 300, body="b" * 40_000, url="u" * 2048, tenant="a" * 128
    )
    assert isinstance(event, PostPublished)
    assert len(event.body) == 40_000
    example("CommentPosted", body="😀" * 10_000)
    example("ReactionAdded", reaction="a" * 32)
    example("ModerationVerdict", reasons=("r" * 200,) * 16, score=0.0)
    example("ModerationVerdict", score=1.0)
    example("NotificationsRead", group_keys=("g" * 256,) * 1000)


def test_missing_required_field_is_a_type_error() -> None:
    kwargs = example_kwargs("PostPublished")
    del kwargs["body"]
    with pytest.raises(TypeError, match="body"):
        PostPublished(**kwargs)


def test_times_are_normalised_to_utc_milliseconds_by_truncation() -> None:
    plus_two = timezone(timedelta(hours=2))
    event = example(
        "NotificationsRead",
        occurred_at=datetime(2024, 5, 1, 14, 0, 0, 999999, tzinfo=plus_two),
        up_to_at=datetime(2024, 5, 1, 13, 59, 59, 1500, tzinfo=plus_two),
    )
    assert isinstance(event, NotificationsRead)
    assert event.occurred_at == datetime(2024, 5, 1, 12, 0, 0, 999000, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC
    assert event.up_to_at == datetime(2024, 5, 1, 11, 59, 59, 1000, tzinfo=UTC)
    assert event.up_to_at.tzinfo is UTC


def test_event_id_is_canonicalised_and_defaults_to_a_fresh_uuid4() -> None:
    upper = example("PostDeleted", event_id=EVENT_ID.upper())
    assert upper.event_id == EVENT_ID
    from_uuid = example("PostDeleted", event_id=uuid.UUID(EVENT_ID))
    assert from_uuid.event_id == EVENT_ID
    kwargs = example_kwargs("PostDeleted")
    del kwargs["event_id"]
    first = EVENT_TYPES["PostDeleted"](**kwargs)
    second = EVENT_TYPES["PostDeleted"](**kwargs)
    assert first.event_id != second.event_id
    assert uuid.UUID(first.event_id).version == 4
    assert str(uuid.UUID(first.event_id)) == first.event_id


def test_sequences_become_tuples_and_numbers_floats() -> None:
    verdict = example("ModerationVerdict", reasons=["a", "b"], score=1)
    assert isinstance(verdict, ModerationVerdict)
    assert verdict.reasons == ("a", "b")
    assert type(verdict.score) is float
    read = example("NotificationsRead", group_keys=["g1"])
    assert isinstance(read, NotificationsRead)
    assert read.group_keys == ("g1",)


def test_defaults() -> None:
    post = PostPublished(occurred_at=AT, tenant="t", actor="a", post_id="p", body="b")
    assert (post.title, post.url) == ("", None)
    comment = CommentPosted(
        occurred_at=AT, tenant="t", actor="a", comment_id="c", post_id="p", body="b"
    )
    assert comment.in_reply_to is None


def test_events_are_frozen() -> None:
    event = example("PostPublished")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.body = "changed"  # type: ignore[misc]


def test_the_envelope_itself_cannot_be_built() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Event(occurred_at=AT, tenant="t", actor="a")


CLASS_ATTRIBUTES = {
    "PostPublished": ("Create", "content", "acme/p1"),
    "PostEdited": ("Update", "content", "acme/p1"),
    "PostDeleted": ("Delete", "content", "acme/p1"),
    "CommentPosted": ("Create", "content", "acme/p1"),
    "CommentEdited": ("Update", "content", "acme/p1"),
    "CommentDeleted": ("Delete", "content", "acme/p1"),
    "Followed": ("Follow", "graph", "acme/bob"),
    "Unfollowed": ("Undo", "graph", "acme/bob"),
    "ReactionAdded": ("Like", "content", "acme/p1"),
    "ReactionRemoved": ("Undo", "content", "acme/p1"),
    "ModerationVerdict": ("Flag", "content", "acme/p1"),
    "NotificationsRead": ("Read", "inbox", "acme/alice"),
    "NotificationsSeen": ("View", "inbox", "acme/alice"),
}


def test_event_types_lists_every_class_under_its_name() -> None:
    assert sorted(EVENT_TYPES) == sorted(CLASS_ATTRIBUTES)
    for name, cls in EVENT_TYPES.items():
        assert cls.event_type == name == cls.__name__


@pytest.mark.parametrize(("event_type", "expected"), sorted(CLASS_ATTRIBUTES.items()))
def test_verb_topic_and_key(event_type: str, expected: tuple[str, str, str]) -> None:
    event = example(event_type)
    assert (event.verb, event.topic, event.key()) == expected
    assert event.topic in TOPICS


def test_stable_event_id_is_deterministic_and_unambiguous() -> None:
    first = stable_event_id("reddit-import", "t3_abc", "post")
    assert first == stable_event_id("reddit-import", "t3_abc", "post")
    assert uuid.UUID(first).version == 5
    assert str(uuid.UUID(first)) == first
    assert stable_event_id("a", "bc") != stable_event_id("a", "b", "c")
    assert stable_event_id("a", "bc") != stable_event_id("ab", "c")
    assert stable_event_id("x", "1") != stable_event_id("y", "1")
    # Pinned: changing the namespace would silently re-key every importer's events.
    assert stable_event_id("a", "b") == "61512e01-c5d8-5ae7-8240-7ffad7009b5c"
    assert example("PostDeleted", event_id=first).event_id == first


@pytest.mark.parametrize("namespace", ["", 3])
def test_stable_event_id_needs_a_namespace(namespace: Any) -> None:
    with pytest.raises(ValueError, match="namespace"):
        stable_event_id(namespace, "x")

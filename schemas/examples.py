"""One small, valid example of every event type: for the README's catalogue, tests and benchmarks.

The content is Hubbub's own demo wording. ``example_events()`` is deterministic (fixed ids and times)
so the README examples and the tests agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events import (
    CommentDeleted,
    CommentEdited,
    CommentPosted,
    Event,
    Followed,
    ModerationVerdict,
    NotificationsRead,
    NotificationsSeen,
    PostDeleted,
    PostEdited,
    PostPublished,
    ReactionAdded,
    ReactionRemoved,
    Unfollowed,
    stable_event_id,
)

_T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def example_events(tenant: str = "acme-blog") -> list[Event]:
    """One event of each of the 13 types, in an order a platform could really publish them.

    The n-th event happens n minutes after 2026-03-02 09:00 UTC and has a stable id.
    """
    t = _T0
    specs: list[tuple[type[Event], dict[str, object]]] = [
        (Followed, {"actor": "ben", "followee": "ana"}),
        (
            PostPublished,
            {
                "actor": "ana",
                "post_id": "p1",
                "title": "Launch day",
                "body": "We ship the new editor today. Thanks @ben for the reviews! #launch",
                "url": "https://blog.example.org/launch-day",
            },
        ),
        (
            CommentPosted,
            {
                "actor": "ben",
                "post_id": "p1",
                "comment_id": "c1",
                "body": "Congratulations, it looks great \u2014 \u201cfinally\u201d :-)",
            },
        ),
        (
            CommentPosted,
            {
                "actor": "ana",
                "post_id": "p1",
                "comment_id": "c2",
                "body": "Thank you!",
                "in_reply_to": "c1",
            },
        ),
        (
            ReactionAdded,
            {
                "actor": "cleo",
                "post_id": "p1",
                "object_id": "p1",
                "object_kind": "post",
                "reaction": "like",
            },
        ),
        (
            PostEdited,
            {
                "actor": "ana",
                "post_id": "p1",
                "title": "Launch day",
                "body": "We shipped the new editor today. Thanks @ben! #launch",
            },
        ),
        (
            CommentEdited,
            {
                "actor": "ben",
                "post_id": "p1",
                "comment_id": "c1",
                "body": "Congratulations, it looks great!",
            },
        ),
        (
            ModerationVerdict,
            {
                "actor": "mod-zoe",
                "post_id": "p1",
                "object_id": "c1",
                "object_kind": "comment",
                "verdict": "ham",
                "source": "person",
                "score": 0.0,
                "reasons": ("reviewed by a moderator",),
            },
        ),
        (
            ReactionRemoved,
            {
                "actor": "cleo",
                "post_id": "p1",
                "object_id": "p1",
                "object_kind": "post",
                "reaction": "like",
            },
        ),
        (NotificationsSeen, {"actor": "ana", "up_to_at": t + timedelta(minutes=9)}),
        (
            NotificationsRead,
            {
                "actor": "ana",
                "up_to_at": t + timedelta(minutes=10),
                "group_keys": ("comment:post:p1",),
            },
        ),
        (CommentDeleted, {"actor": "ana", "post_id": "p1", "comment_id": "c2"}),
        (Unfollowed, {"actor": "ben", "followee": "ana"}),
        (PostDeleted, {"actor": "ana", "post_id": "p1"}),
    ]
    return [
        cls(
            event_id=stable_event_id("hubbub.examples", tenant, str(n)),
            occurred_at=t + timedelta(minutes=n),
            tenant=tenant,
            **fields,  # type: ignore[arg-type]
        )
        for n, (cls, fields) in enumerate(specs)
    ]

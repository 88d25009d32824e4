"""Event builders for the thread, notification and spam tests: one tenant, one thread."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from itertools import count

from schemas.events import (
    CommentDeleted,
    CommentEdited,
    CommentPosted,
    Event,
    ModerationVerdict,
    ObjectKind,
    PostDeleted,
    PostEdited,
    PostPublished,
    ReactionAdded,
    ReactionRemoved,
    Verdict,
)
from streams.domain.threads import ThreadState, to_ms

TENANT = "acme"
POST = "p1"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
_ids = count(1)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def ms(minute: int) -> int:
    return to_ms(at(minute))


def next_id() -> str:
    return str(uuid.UUID(int=next(_ids)))


def post(
    actor: str = "olga", minute: int = 0, *, title: str = "Launch day", body: str = "We ship today"
) -> PostPublished:
    return PostPublished(
        event_id=next_id(),
        occurred_at=at(minute),
        tenant=TENANT,
        actor=actor,
        post_id=POST,
        title=title,
        body=body,
    )


def edit_post(actor: str, minute: int, *, title: str = "", body: str) -> PostEdited:
    return PostEdited(
        event_id=next_id(),
        occurred_at=at(minute),
        tenant=TENANT,
        actor=actor,
        post_id=POST,
        title=title,
        body=body,
    )


def delete_post(actor: str = "olga", minute: int = 30) -> PostDeleted:
    return PostDeleted(
        event_id=next_id(), occurred_at=at(minute), tenant=TENANT, actor=actor, post_id=POST
    )


def comment(
    comment_id: str,
    actor: str,
    minute: int,
    body: str = "Nice work",
    *,
    reply_to: str | None = None,
) -> CommentPosted:
    return CommentPosted(
        event_id=next_id(),
        occurred_at=at(minute),
        tenant=TENANT,
        actor=actor,
        comment_id=comment_id,
        post_id=POST,
        body=body,
        in_reply_to=reply_to,
    )


def edit_comment(comment_id: str, actor: str, minute: int, body: str) -> CommentEdited:
    return CommentEdited(
        event_id=next_id(),
        occurred_at=at(minute),
        tenant=TENANT,
        actor=actor,
        comment_id=comment_id,
        post_id=POST,
        body=body,
    )


def delete_comment(comment_id: str, actor: str, minute: int) -> CommentDeleted:
    return CommentDeleted(
        event_id=next_id(),
        occurred_at=at(minute),
        tenant=TENANT,
        actor=actor,
        comment_id=comment_id,
        post_id=POST,
    )


def _kind(object_id: str) -> ObjectKind:
    return "post" if object_id == POST else "comment"


def react(actor: str, object_id: str, minute: int, reaction: str = "like") -> ReactionAdded:
    return ReactionAdded(
        event_id=next_id(),
        occurred_at=at(minute),
        tenant=TENANT,
        actor=actor,
        post_id=POST,
        object_id=object_id,
        object_kind=_kind(object_id),
        reaction=reaction,
    )


def unreact(actor: str, object_id: str, minute: int, reaction: str = "like") -> ReactionRemoved:
    return ReactionRemoved(
        event_id=next_id(),
        occurred_at=at(minute),
        tenant=TENANT,
        actor=actor,
        post_id=POST,
        object_id=object_id,
        object_kind=_kind(object_id),
        reaction=reaction,
    )


def verdict(
    object_id: str, value: Verdict, *, source: str = "person", minute: int = 40
) -> ModerationVerdict:
    return ModerationVerdict(
        event_id=next_id(),
        occurred_at=at(minute),
        tenant=TENANT,
        actor="mod" if source == "person" else "hubbub-spam-scorer",
        post_id=POST,
        object_id=object_id,
        object_kind=_kind(object_id),
        verdict=value,
        source=source,  # type: ignore[arg-type]
        score=0.9 if value == "spam" else 0.1,
    )


def fold(*events: Event) -> ThreadState:
    state = ThreadState(TENANT, POST)
    for event in events:
        state.apply(event)
    return state

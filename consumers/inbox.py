"""Inbox reads: a recipient's notification groups, rendered, and their unread and unseen counts.

Semantics are those of ``streams.domain.inbox``: a group is unread when ``last_ms > max(
read_up_to_ms, group_reads[group key])`` and unseen when ``last_ms > seen_up_to_ms``; a user
without an inbox row has every mark at 0. Only live groups count (FINAL drops withdrawn ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from consumers.rows import with_database
from infra.clickhouse import ClickHouse

__all__ = ["Notification", "notifications", "render", "unread_counts"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Notification:
    """One inbox line. ``group_key`` is ``"kind:object_kind:object_id"`` (what
    ``NotificationsRead.group_keys`` names); ``text`` is ``render``'s line with actor ids."""

    group_key: str
    kind: str
    object_kind: str
    object_id: str
    post_id: str
    actor_count: int
    latest_actors: tuple[str, ...]
    first_ms: int
    last_ms: int
    excerpt: str
    text: str
    unread: bool
    unseen: bool


_PHRASES: dict[str, str] = {
    "comment": "commented on your post",
    "reply": "replied to your comment",
    "mention": "mentioned you in a {object_kind}",
    "reaction": "reacted to your {object_kind}",
    "follow": "started following you",
}


def render(
    *,
    kind: str,
    object_kind: str,
    actor_count: int,
    latest_actors: tuple[str, ...],
    excerpt: str,
    names: Mapping[str, str] | None = None,
) -> str:
    """The inbox line, e.g. "Ana and 5 others commented on your post 'Launch day'".

    The same rules as ``streams.domain.notifications.render`` (the consumers may not import it):
    actors by ``names[actor]`` when given, else by id; one ("Ana"), two ("Ana and Ben") or the
    newest and a count ("Ana and 5 others"); the excerpt quoted when non-empty.
    Raises ``KeyError`` for an unknown kind.
    """
    shown = [names.get(a, a) if names else a for a in latest_actors] or ["Someone"]
    if actor_count == 2 and len(shown) >= 2:
        who = f"{shown[0]} and {shown[1]}"
    elif actor_count > 2:
        who = f"{shown[0]} and {actor_count - 1} others"
    else:
        who = shown[0]
    what = _PHRASES[kind].format(object_kind=object_kind)
    about = f" '{excerpt}'" if excerpt else ""
    return f"{who} {what}{about}"


# An aggregate without GROUP BY yields one row even for a user without an inbox row, with every
# mark at its default (1970, an empty map): the cross join never loses the groups.
_MARKS = """
    SELECT any(read_up_to_at) AS read_at, any(seen_up_to_at) AS seen_at, any(group_reads) AS reads
    FROM {db}.inbox_state FINAL
    WHERE tenant = {tenant:String} AND user = {recipient:String}
"""
_UNREAD = (
    "g.last_at > greatest(m.read_at, m.reads[concat(g.kind, ':', g.object_kind, ':', g.object_id)])"
)
_NOTIFICATIONS = """
    SELECT g.kind, g.object_kind, g.object_id, g.post_id, g.actor_count, g.latest_actors,
           toUnixTimestamp64Milli(g.first_at), toUnixTimestamp64Milli(g.last_at), g.excerpt,
           UNREAD, g.last_at > m.seen_at
    FROM (
        SELECT kind, object_kind, object_id, post_id, actor_count, latest_actors, first_at,
               last_at, excerpt
        FROM {db}.notification_groups FINAL
        WHERE tenant = {tenant:String} AND recipient = {recipient:String}
        ORDER BY last_at DESC, kind, object_kind, object_id
        LIMIT {limit:UInt32}
    ) AS g
    CROSS JOIN (MARKS) AS m
    ORDER BY g.last_at DESC, g.kind, g.object_kind, g.object_id
""".replace("UNREAD", _UNREAD).replace("MARKS", _MARKS)
_COUNTS = """
    SELECT countIf(UNREAD), countIf(g.last_at > m.seen_at)
    FROM (
        SELECT kind, object_kind, object_id, last_at
        FROM {db}.notification_groups FINAL
        WHERE tenant = {tenant:String} AND recipient = {recipient:String}
    ) AS g
    CROSS JOIN (MARKS) AS m
""".replace("UNREAD", _UNREAD).replace("MARKS", _MARKS)


def notifications(
    ch: ClickHouse,
    *,
    tenant: str,
    recipient: str,
    limit: int = 50,
    names: Mapping[str, str] | None = None,
) -> list[Notification]:
    """``recipient``'s live notification groups, newest first by ``last_ms`` (ties by group key),
    at most ``limit``, each rendered and flagged unread/unseen. One query.
    Raises ``ValueError`` if ``limit < 1``."""
    if limit < 1:
        raise ValueError(f"notifications limit must be >= 1, got {limit}")
    found = ch.rows(
        with_database(_NOTIFICATIONS, ch.database),
        parameters={"tenant": tenant, "recipient": recipient, "limit": limit},
    )
    out: list[Notification] = []
    for (
        kind,
        object_kind,
        object_id,
        post_id,
        count,
        actors,
        first,
        last,
        excerpt,
        unread,
        unseen,
    ) in found:
        latest = tuple(actors)
        out.append(
            Notification(
                group_key=f"{kind}:{object_kind}:{object_id}",
                kind=kind,
                object_kind=object_kind,
                object_id=object_id,
                post_id=post_id,
                actor_count=int(count),
                latest_actors=latest,
                first_ms=int(first),
                last_ms=int(last),
                excerpt=excerpt,
                text=render(
                    kind=kind,
                    object_kind=object_kind,
                    actor_count=int(count),
                    latest_actors=latest,
                    excerpt=excerpt,
                    names=names,
                ),
                unread=bool(unread),
                unseen=bool(unseen),
            )
        )
    return out


def unread_counts(ch: ClickHouse, *, tenant: str, recipient: str) -> tuple[int, int]:
    """``(unread, unseen)``: how many of ``recipient``'s live groups are unread and unseen.
    One query."""
    found = ch.rows(
        with_database(_COUNTS, ch.database), parameters={"tenant": tenant, "recipient": recipient}
    )
    unread, unseen = found[0]
    return int(unread), int(unseen)

"""Rows of the derived topics: domain values turned into the plain dicts the sinks load.

The column names and meanings are the contract with ``consumers/`` (README, "Derived topics").
Pure: no I/O. Times are epoch milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from streams.domain.feeds import FeedChange
from streams.domain.follows import FollowerState
from streams.domain.inbox import InboxState
from streams.domain.notifications import GroupChange
from streams.domain.threads import ThreadObject
from streams.domain.trends import ContributionChange

Row = dict[str, Any]

# Derived topic names (logical; the Kafka topic is "{prefix}.{name}").
ACTIVITY_TOPIC = "activity"  # content events re-keyed by their actor (bundles), for the feeds
FEED_ITEMS = "feed-items"
NOTIFICATION_GROUPS = "notification-groups"
TREND_CONTRIBUTIONS = "trend-contributions"
CONTENT_STATE = "content-state"
INBOX_STATE = "inbox-state"
FOLLOWS_STATE = "follows-state"
AUTHOR_STATE = "author-state"
DERIVED_TOPICS: tuple[str, ...] = (
    FEED_ITEMS,
    NOTIFICATION_GROUPS,
    TREND_CONTRIBUTIONS,
    CONTENT_STATE,
    INBOX_STATE,
    FOLLOWS_STATE,
    AUTHOR_STATE,
)


# A derived record stays well under Kafka's default 1 MB message limit.
MESSAGE_MAX_ROWS = 1000
MESSAGE_MAX_BYTES = 512 * 1024
# Owners per feed-items row: bounds a row of an author with thousands of followers.
FEED_ROW_MAX_OWNERS = 500


def messages(rows: list[Row]) -> list[bytes]:
    """``rows`` as derived-topic record values (UTF-8 JSON ``{"rows": [...]}``, in order), at
    most ``MESSAGE_MAX_ROWS`` rows and, unless one row alone is larger, ``MESSAGE_MAX_BYTES``
    bytes each."""
    out: list[bytes] = []
    pending = [rows[i : i + MESSAGE_MAX_ROWS] for i in range(0, len(rows), MESSAGE_MAX_ROWS)]
    pending.reverse()
    while pending:
        chunk = pending.pop()
        value = json.dumps({"rows": chunk}, separators=(",", ":"), ensure_ascii=False).encode()
        if len(value) > MESSAGE_MAX_BYTES and len(chunk) > 1:
            half = len(chunk) // 2
            pending += [chunk[half:], chunk[:half]]
            continue
        out.append(value)
    return out


def feed_rows(changes: Iterable[FeedChange]) -> list[Row]:
    """The feed-items rows of ``changes``: one row per run of consecutive changes that differ only
    in their owner, with those owners in order as ``owners``.

    A publish fans out to every follower with the same values, so this carries one row per
    activity instead of one per follower; ClickHouse expands ``owners`` back into one
    ``feed_items`` row each (migration 0004). Only consecutive changes are merged, so expanding
    the rows gives the changes in their original order (the sink's "last written wins on equal
    versions" relies on it). A row holds at most ``FEED_ROW_MAX_OWNERS`` owners.
    """
    out: list[Row] = []
    run: tuple[object, ...] | None = None
    owners: list[str] = []
    for c in changes:
        same = (
            c.activity_id,
            c.version,
            c.is_deleted,
            c.created_ms,
            c.post_id,
            c.author,
            c.kind,
            c.tenant,
        )
        if same != run or len(owners) >= FEED_ROW_MAX_OWNERS:
            owners = []
            run = same
            out.append(
                {
                    "tenant": c.tenant,
                    "owners": owners,
                    "activity_id": c.activity_id,
                    "kind": c.kind,
                    "author": c.author,
                    "post_id": c.post_id,
                    "created_ms": c.created_ms,
                    "version": c.version,
                    "is_deleted": int(c.is_deleted),
                }
            )
        owners.append(c.owner)
    return out


def group_row(change: GroupChange) -> Row:
    g = change.group
    return {
        "tenant": g.tenant,
        "recipient": g.recipient,
        "kind": g.kind,
        "object_kind": g.object_kind,
        "object_id": g.object_id,
        "post_id": g.post_id,
        "actor_count": g.actor_count,
        "latest_actors": list(g.latest_actors),
        "first_ms": g.first_ms,
        "last_ms": g.last_ms,
        "excerpt": g.excerpt,
        "version": change.version,
        "is_deleted": int(change.is_deleted),
    }


def contribution_row(change: ContributionChange) -> Row:
    c = change.contribution
    return {
        "tenant": c.tenant,
        "dimension": c.dimension,
        "dim_value": c.dim_value,
        "metric": c.metric,
        "source_id": c.source_id,
        "actor": c.actor,
        "at_ms": c.at_ms,
        "version": change.version,
        "is_deleted": int(change.is_deleted),
    }


def content_row(obj: ThreadObject, *, tenant: str, post_id: str, version: int) -> Row:
    return {
        "tenant": tenant,
        "post_id": post_id,
        "object_id": obj.object_id,
        "kind": obj.kind,
        "author": obj.author,
        "title": obj.title,
        "body": obj.body,
        "in_reply_to": obj.in_reply_to or "",
        "created_ms": obj.created_ms,
        "edited_ms": obj.edited_ms,
        "deleted": int(obj.deleted),
        "spam": int(obj.spam),
        "machine_verdict": obj.machine_verdict or "",
        "person_verdict": obj.person_verdict or "",
        "version": version,
    }


def inbox_row(state: InboxState) -> Row:
    return {
        "tenant": state.tenant,
        "user": state.user,
        "read_up_to_ms": state.read_up_to_ms,
        "seen_up_to_ms": state.seen_up_to_ms,
        "group_reads": dict(state.group_reads),
        "version": state.seq,
    }


def follow_row(
    *, tenant: str, follower: str, followee: str, since_ms: int, version: int, is_deleted: bool
) -> Row:
    return {
        "tenant": tenant,
        "follower": follower,
        "followee": followee,
        "since_ms": since_ms,
        "version": version,
        "is_deleted": int(is_deleted),
    }


def author_row(state: FollowerState, *, read_fanout: bool, version: int) -> Row:
    return {
        "tenant": state.tenant,
        "author": state.followee,
        "read_fanout": int(read_fanout),
        "follower_count": len(state.followers),
        "version": version,
    }

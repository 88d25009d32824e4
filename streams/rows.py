"""Rows of the derived topics: domain values turned into the plain dicts the sinks load.

The column names and meanings are the contract with ``consumers/`` (README, "Derived topics").
Pure: no I/O. Times are epoch milliseconds.
"""

from __future__ import annotations

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


def feed_row(change: FeedChange) -> Row:
    return {
        "tenant": change.tenant,
        "owner": change.owner,
        "activity_id": change.activity_id,
        "kind": change.kind,
        "author": change.author,
        "post_id": change.post_id,
        "created_ms": change.created_ms,
        "version": change.version,
        "is_deleted": int(change.is_deleted),
    }


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

"""Home feeds: which rows of ``feed_items`` an author's activity puts in (or takes out of) feeds.

A user's home feed holds the activities of the accounts they follow plus their own, newest first.
The feed processor consumes a stream keyed by ``(tenant, author)``: the graph topic (``Followed`` /
``Unfollowed``, keyed by the followee, who is the author) and the content events re-keyed by their
actor. It keeps one ``AuthorState`` per key and turns every event into ``FeedChange`` rows, upserts
of a ``feed_items`` table that a ClickHouse ReplacingMergeTree(version, is_deleted) collapses.

Write side guarantees
    * Deterministic: ``apply`` depends only on the state and the event (no clock, no randomness),
      and every row's ``version`` is the ``occurred_at`` of the event that caused it, so a replay of
      the log writes the same rows as live processing did.
    * Idempotent: an event id already applied changes nothing (the last ``dedup_window`` ids per
      author are remembered; redeliveries come from the uncommitted tail, far inside that window),
      and every row is an upsert keyed by ``(tenant, owner, activity_id)``, so writing a change
      twice is harmless. The table's sorting key must be exactly that triple: tombstones of
      activities no longer in the state carry ``created_ms = 0`` (unknown) and must still replace
      the live row.
    * Ordering: an author's events are expected in time order per key (the log's per-partition
      order). Rows of one ``(owner, activity_id)`` resolve by the highest version; equal versions
      (two events in the same millisecond) resolve to the row written last, which is the
      ReplacingMergeTree rule and, since changes are written in log order, the same on replay.

Activity ids are derived from the content, never from event ids, so a delete finds its rows
without a lookup. ``/`` is not an id character, so they split unambiguously:
``post/{post_id}``, ``comment/{comment_id}``,
``reaction/{actor}/{object_kind}/{object_id}/{reaction}``.

Fan-out on read
    An author with more than ``read_fanout_threshold`` followers stops pushing new activities to
    followers (``state.read_fanout`` turns True; the adapter records the author as read-fanout when
    it flips). Readers then pull that author's activities from the author's own feed (rows with
    ``owner = author = followee``) and merge them with their pushed rows (``merge_feed_page``).
    Pulling shows the followee's whole history, pushing a new follower only the last
    ``backfill_limit`` activities; otherwise both give the same pages.

What this module does not fan out: edits (text lives once in a content table joined at read time),
spam verdicts and deletions by someone other than the author (both are read-time visibility, see
``is_visible``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from schemas.errors import ConfigError, DecodeError, InvalidEvent
from schemas.events import (
    CommentDeleted,
    CommentPosted,
    Event,
    Followed,
    PostDeleted,
    PostPublished,
    ReactionAdded,
    ReactionRemoved,
    Unfollowed,
)
from streams.domain.threads import to_ms

__all__ = [
    "ACTIVITY_KINDS",
    "AuthorState",
    "FeedChange",
    "FeedConfig",
    "FeedEntry",
    "FeedPage",
    "RecentActivity",
    "activity_target",
    "apply",
    "is_visible",
    "merge_feed_page",
]

ACTIVITY_KINDS: frozenset[str] = frozenset({"post", "comment", "reaction"})

_T = TypeVar("_T")
_STATE_FORMAT = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedConfig:
    """Which activities enter feeds and where fan-out on write stops.

    ``kinds``: any of "post", "comment", "reaction". ``backfill_limit``: how many of an author's
    most recent activities a new follower receives (and how many the state keeps).
    ``read_fanout_threshold``: above this many followers an author is fanned out on read.
    ``dedup_window``: how many applied event ids per author are remembered.
    Raises ``ConfigError`` on an unknown kind or a negative number.
    """

    kinds: frozenset[str] = frozenset({"post"})
    backfill_limit: int = 100
    read_fanout_threshold: int = 10_000
    dedup_window: int = 10_000

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - ACTIVITY_KINDS
        if unknown:
            raise ConfigError(
                f"feed kinds {sorted(unknown)} are unknown; choose from {sorted(ACTIVITY_KINDS)}"
            )
        for name in ("backfill_limit", "read_fanout_threshold", "dedup_window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"feed {name} must be a whole number >= 0, got {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedChange:
    """One upsert of ``feed_items``: ``activity_id`` in ``owner``'s feed, live or deleted."""

    tenant: str
    owner: str
    activity_id: str
    kind: str
    author: str
    post_id: str
    created_ms: int
    version: int
    is_deleted: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class RecentActivity:
    """An activity the state remembers for backfill; ``fanned_out``: pushed to followers."""

    activity_id: str
    kind: str
    post_id: str
    created_ms: int
    fanned_out: bool


@dataclass(slots=True)
class AuthorState:
    """Everything the feed processor knows about one author of one tenant.

    ``followers`` maps each active follower to the time they followed (ms). ``recent`` holds the
    author's live activities of configured kinds, newest first, at most ``backfill_limit``.
    ``applied`` remembers applied event ids, oldest first. ``read_fanout`` is sticky: once the
    follower count has exceeded the threshold it stays True even if followers leave, because
    activities published meanwhile were never pushed; flipping back would make readers stop pulling
    the author and those activities would vanish from their feeds.

    ``to_json``/``from_json`` round-trip exactly through plain JSON types.
    """

    tenant: str
    author: str
    followers: dict[str, int] = field(default_factory=dict)
    recent: list[RecentActivity] = field(default_factory=list)
    applied: dict[str, None] = field(default_factory=dict)
    read_fanout: bool = False

    def to_json(self) -> dict[str, Any]:
        """The state as plain JSON types (dicts, lists, str, int, bool), order preserved."""
        return {
            "format": _STATE_FORMAT,
            "tenant": self.tenant,
            "author": self.author,
            "followers": dict(self.followers),
            "recent": [
                {
                    "activity_id": a.activity_id,
                    "kind": a.kind,
                    "post_id": a.post_id,
                    "created_ms": a.created_ms,
                    "fanned_out": a.fanned_out,
                }
                for a in self.recent
            ],
            "applied": list(self.applied),
            "read_fanout": self.read_fanout,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> AuthorState:
        """Rebuild a state from ``to_json`` output; raises ``DecodeError`` if it is not one."""
        try:
            if obj["format"] != _STATE_FORMAT:
                raise DecodeError(
                    f"feed author state has format {obj['format']!r}, this build reads "
                    f"{_STATE_FORMAT}; rebuild the feed state by replaying the log"
                )
            state = cls(
                tenant=_typed(obj["tenant"], str),
                author=_typed(obj["author"], str),
                followers={
                    _typed(f, str): _typed(ms, int) for f, ms in dict(obj["followers"]).items()
                },
                recent=[
                    RecentActivity(
                        activity_id=_typed(a["activity_id"], str),
                        kind=_typed(a["kind"], str),
                        post_id=_typed(a["post_id"], str),
                        created_ms=_typed(a["created_ms"], int),
                        fanned_out=_typed(a["fanned_out"], bool),
                    )
                    for a in obj["recent"]
                ],
                applied=dict.fromkeys(_typed(i, str) for i in obj["applied"]),
                read_fanout=_typed(obj["read_fanout"], bool),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(
                f"feed author state is malformed ({type(exc).__name__}: {exc}); "
                "rebuild the feed state by replaying the log"
            ) from exc
        return state


def _typed(value: object, kind: type[_T]) -> _T:
    # bool is an int subclass: a stored True must not pass for a number, nor 1 for a flag.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def activity_target(activity_id: str) -> tuple[str, str]:
    """The (object_kind, object_id) an activity is about: the post or comment itself, or for a
    reaction the reacted-to object. Readers use it to look up deleted/spam flags.

    Raises ``ValueError`` if ``activity_id`` is not in one of the formats this module writes.
    """
    parts = activity_id.split("/")
    if len(parts) == 2 and parts[0] in ("post", "comment"):
        return parts[0], parts[1]
    if len(parts) == 5 and parts[0] == "reaction" and parts[2] in ("post", "comment"):
        return parts[2], parts[3]
    raise ValueError(f"{activity_id!r} is not a feed activity id")


def _subject(event: Event) -> tuple[str, str, str, str] | None:
    """(kind, activity_id, post_id, author) of a content event about an activity, else None."""
    if isinstance(event, PostPublished | PostDeleted):
        return "post", f"post/{event.post_id}", event.post_id, event.actor
    if isinstance(event, CommentPosted | CommentDeleted):
        return "comment", f"comment/{event.comment_id}", event.post_id, event.actor
    if isinstance(event, ReactionAdded | ReactionRemoved):
        activity_id = (
            f"reaction/{event.actor}/{event.object_kind}/{event.object_id}/{event.reaction}"
        )
        return "reaction", activity_id, event.post_id, event.actor
    return None


def apply(state: AuthorState, event: Event, config: FeedConfig) -> list[FeedChange]:
    """Apply one event to ``state`` (in place) and return the ``feed_items`` rows it changes.

    * a new activity of a configured kind: a row in the author's own feed, and one in every
      follower's feed unless the author is read-fanout;
    * ``Followed``: the follower is added and receives the recent activities (unless read-fanout);
    * ``Unfollowed``: the follower is removed and the recent activities pushed to them are deleted
      from their feed (older ones, beyond ``backfill_limit``, stay in the table: a reader that must
      hide them too filters pushed entries by the viewer's current follows);
    * the author's delete of a post, comment or reaction: it leaves ``recent`` (later followers do
      not get it) and is deleted from the author's feed and every current follower's feed; only
      from the author's when it is known never to have been pushed, or when it is no longer
      remembered and the author is read-fanout (the read-time deleted flag hides any copy pushed
      before the flip, which saves a tombstone per follower);
    * a duplicate event id, an event of an unconfigured kind, or any other event type: no changes.

    Raises ``InvalidEvent`` if the event belongs to another (tenant, author) key: a routing bug in
    the caller, which must not be written to the wrong feeds.
    """
    subject = _subject(event)
    if isinstance(event, Followed | Unfollowed):
        owner_field, owner = "followee", event.followee
    elif subject is not None:
        owner_field, owner = "actor", subject[3]
    else:
        return []
    if event.tenant != state.tenant or owner != state.author:
        raise InvalidEvent(
            event.event_type,
            owner_field,
            f"event of {event.tenant}/{owner} was routed to the feed state of "
            f"{state.tenant}/{state.author}; key the feed stream by (tenant, {owner_field})",
            event_id=event.event_id,
        )
    if subject is not None and subject[0] not in config.kinds:
        return []
    if event.event_id in state.applied:
        return []

    version = to_ms(event.occurred_at)
    if isinstance(event, Followed):
        changes = _follow(state, event.actor, version, config)
    elif isinstance(event, Unfollowed):
        changes = _unfollow(state, event.actor, version)
    else:
        assert subject is not None  # the routing branch above returned for everything else
        kind, activity_id, post_id, _ = subject
        if isinstance(event, PostPublished | CommentPosted | ReactionAdded):
            activity = RecentActivity(
                activity_id=activity_id,
                kind=kind,
                post_id=post_id,
                created_ms=version,
                fanned_out=not state.read_fanout,
            )
            changes = _publish(state, activity, config)
        else:
            changes = _retract(state, kind, activity_id, post_id, version)
    _remember(state, event.event_id, config.dedup_window)
    return changes


def _remember(state: AuthorState, event_id: str, window: int) -> None:
    state.applied[event_id] = None
    while len(state.applied) > window:
        del state.applied[next(iter(state.applied))]


def _row(
    state: AuthorState, owner: str, activity: RecentActivity, *, version: int, is_deleted: bool
) -> FeedChange:
    return FeedChange(
        tenant=state.tenant,
        owner=owner,
        activity_id=activity.activity_id,
        kind=activity.kind,
        author=state.author,
        post_id=activity.post_id,
        created_ms=activity.created_ms,
        version=version,
        is_deleted=is_deleted,
    )


def _publish(state: AuthorState, activity: RecentActivity, config: FeedConfig) -> list[FeedChange]:
    if any(a.activity_id == activity.activity_id for a in state.recent):
        return []  # the same post published twice under two event ids: the first one stands
    # Newest first; ties by activity id, the same order as the read side.
    state.recent.append(activity)
    state.recent.sort(key=lambda a: (a.created_ms, a.activity_id), reverse=True)
    del state.recent[config.backfill_limit :]
    owners = [state.author, *(state.followers if activity.fanned_out else ())]
    return [
        _row(state, owner, activity, version=activity.created_ms, is_deleted=False)
        for owner in owners
    ]


def _retract(
    state: AuthorState, kind: str, activity_id: str, post_id: str, version: int
) -> list[FeedChange]:
    known = next((a for a in state.recent if a.activity_id == activity_id), None)
    if known is not None:
        state.recent.remove(known)
        pushed = known.fanned_out
    else:
        # Older than anything remembered (or never published): it was pushed unless the author
        # is read-fanout. For a read-fanout author the read-time deleted flag hides any copy
        # pushed before the flip, which saves a tombstone per follower.
        known = RecentActivity(
            activity_id=activity_id, kind=kind, post_id=post_id, created_ms=0, fanned_out=False
        )
        pushed = not state.read_fanout
    owners = [state.author, *(state.followers if pushed else ())]
    return [_row(state, owner, known, version=version, is_deleted=True) for owner in owners]


def _follow(
    state: AuthorState, follower: str, version: int, config: FeedConfig
) -> list[FeedChange]:
    if follower in state.followers:
        return []
    state.followers[follower] = version
    if len(state.followers) > config.read_fanout_threshold:
        state.read_fanout = True
    if state.read_fanout:
        return []
    return [
        _row(state, follower, activity, version=version, is_deleted=False)
        for activity in state.recent
    ]


def _unfollow(state: AuthorState, follower: str, version: int) -> list[FeedChange]:
    if state.followers.pop(follower, None) is None:
        return []
    return [
        _row(state, follower, activity, version=version, is_deleted=True)
        for activity in state.recent
        if activity.fanned_out
    ]


# -- read side ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedEntry:
    """One activity as a feed page shows it (text and flags are joined by the reader)."""

    activity_id: str
    kind: str
    author: str
    post_id: str
    created_ms: int


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedPage:
    """Entries newest first; the next page is ``before_ms=next_before_ms,
    before_id=next_before_id`` (both None when this is the last page)."""

    entries: tuple[FeedEntry, ...]
    next_before_ms: int | None
    next_before_id: str | None


def _order(entry: FeedEntry) -> tuple[int, str]:
    return entry.created_ms, entry.activity_id


def merge_feed_page(
    pushed: Sequence[FeedEntry],
    pulled: Sequence[FeedEntry],
    *,
    limit: int,
    before_ms: int | None = None,
    before_id: str | None = None,
) -> FeedPage:
    """One page of a feed from the viewer's pushed rows and the pulled activities of their
    read-fanout followees.

    Order: ``created_ms`` descending, ties by ``activity_id`` descending; an activity present in
    both inputs appears once. The cursor is a keyset: entries strictly after ``(before_ms,
    before_id)`` in that order (only ``created_ms < before_ms`` when ``before_id`` is None).
    Inputs may be unsorted and may include entries before the cursor (they are skipped).

    For the page to know whether another follows, give it at least ``limit + 1`` visible entries
    past the cursor from every source that has them; the next cursor is set exactly when more than
    ``limit`` distinct entries were given. Raises ``ValueError`` if ``limit < 1`` or ``before_id``
    comes without ``before_ms``.
    """
    if limit < 1:
        raise ValueError(f"feed page limit must be >= 1, got {limit}")
    if before_id is not None and before_ms is None:
        raise ValueError("a feed cursor's before_id needs its before_ms")
    candidates = sorted([*pushed, *pulled], key=_order, reverse=True)
    seen: set[str] = set()
    entries: list[FeedEntry] = []
    for entry in candidates:
        if before_ms is not None:
            after_cursor = (
                entry.created_ms < before_ms
                if before_id is None
                else _order(entry) < (before_ms, before_id)
            )
            if not after_cursor:
                continue
        if entry.activity_id in seen:
            continue
        seen.add(entry.activity_id)
        entries.append(entry)
        if len(entries) > limit:
            last = entries[limit - 1]
            return FeedPage(
                entries=tuple(entries[:limit]),
                next_before_ms=last.created_ms,
                next_before_id=last.activity_id,
            )
    return FeedPage(entries=tuple(entries), next_before_ms=None, next_before_id=None)


def is_visible(entry: FeedEntry, *, viewer: str, deleted: bool, spam: bool) -> bool:
    """Whether ``viewer`` may see ``entry``, given the flags of the object it is about (see
    ``activity_target``): deleted objects are hidden from everyone; an object currently judged
    spam is hidden from everyone but the entry's author, and shows again once a person reverses
    the verdict (the reader passes the current verdict, so nothing here needs undoing).
    """
    if deleted:
        return False
    return not spam or viewer == entry.author

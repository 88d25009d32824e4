"""Home feeds: which rows of ``feed_items`` an author's activity puts in (or takes out of) feeds.

A user's home feed holds the activities of the accounts they follow plus their own, newest first.
The feed processor consumes a stream keyed by ``(tenant, author)`` that merges two independently
ordered streams: the graph topic (``Followed`` / ``Unfollowed`` of the author's followers) and the
author's content events re-keyed by actor. Each stream is in time order, but how the two
interleave differs between a live run and a replay. One ``AuthorState`` per key turns every event
into ``FeedChange`` rows, upserts of a ``feed_items`` table that a ClickHouse
ReplacingMergeTree(version, is_deleted) collapses: per ``(tenant, owner, activity_id)`` the row of
highest version wins, on equal versions the row written last.

Semantics (time-based, so the interleaving does not matter)
    For a follower F and an activity A of author X, the *relevant events* of the pair are F's
    ``Followed``/``Unfollowed`` of X and A's publishes and deletes (the author's delete of the
    post or comment, ``ReactionRemoved`` for a reaction). L is the latest of them in the order
    (occurred_at ms, then graph events before content events, then stream order). The pair's row:

    * L is A's delete, or F's unfollow: deleted;
    * L is A's publish: live iff F follows X at that point (F's latest graph event is a follow);
    * L is F's follow at t_f: live iff A is live at t_f (published before t_f, at an earlier ms,
      and not deleted before t_f) and among the ``backfill_limit`` newest activities of X live
      at t_f (order: publish time, then activity id, both descending).

    The row's ``version`` is ``t_ms * 4 + rank`` for L (rank 1 graph, 2 content), so the sink's
    rule agrees with this order. A no-op is not an event here: a second ``Followed`` while
    following, an ``Unfollowed`` while not, a publish while live, a delete while deleted change
    nothing. A publish after a delete starts a new lifetime (reactions can be added again).
    The author's own feed holds every live activity of the author (live from publish, deleted on
    delete, version of that event).

Write side guarantees
    * Interleaving-independent: every emission is computed from all events known so far, never
      from processing order. An event that arrives late (earlier than events already applied
      from the other stream) re-emits each pair it can change with the freshly computed
      (version, is_deleted): a publish or delete of A the pairs (F, A) of the active followers F,
      plus, for followers whose follow is later than the event, the pairs whose L is that
      follow and whose value the event changed (the activities that entered or left the
      backfill window at t_f; the others' rows already hold their value); a follow or unfollow
      of F the pairs (F, A) of the remembered activities. A pair's version never decreases as
      events become known, and the last row written for a pair is its value over everything
      known, so the final live rows equal those of time-ordered processing, and so does a replay
      written into the same table over an earlier run.
    * Deterministic: ``apply`` depends only on the state and the event (no clock, randomness).
    * Idempotent: an event id already applied changes nothing (the last ``dedup_window`` ids per
      author are remembered), and every row is an upsert keyed by ``(tenant, owner,
      activity_id)``. The table's sorting key must be exactly that triple: tombstones of
      activities no longer remembered carry ``created_ms = 0`` (unknown) and must still replace
      the live row.
    * Rows are not written for pairs that cannot have been live: on a publish (resp. follow) no
      deleted row is written for a pair that had no row before; an unfollowed follower is
      forgotten once their rows are retracted, since every later pair of theirs is deleted.

Approximation: the state remembers the newest ``recent_limit`` activities (default
``2 * backfill_limit``), deleted ones included as tombstones, and keeps up to 8 lifetimes each.
Windows and pairs are evaluated over what is remembered: an activity that fell out stays as its
rows are (an unfollow does not retract it, a late follow does not backfill it), and a follow that
arrives after more than ``recent_limit`` newer activities backfills fewer than the window at its
time held. Within the remembered size the result is exact.

Activity ids are derived from the content, never from event ids, so a delete finds its rows
without a lookup. ``/`` is not an id character, so they split unambiguously:
``post/{post_id}``, ``comment/{comment_id}``,
``reaction/{actor}/{object_kind}/{object_id}/{reaction}``.

Fan-out on read
    An author with more than ``read_fanout_threshold`` active followers stops pushing new
    activities to followers (``state.read_fanout`` turns True for good; the adapter records the
    author as read-fanout when it flips). Follows then backfill nothing; unfollows and deletes
    still retract what was pushed. Readers pull that author's activities from the author's own
    feed (rows with ``owner = author = followee``) and merge them with their pushed rows
    (``merge_feed_page``). The flip depends on the graph stream's progress, so which activities
    were pushed before it is not interleaving-independent.

What this module does not fan out: edits (text lives once in a content table joined at read time),
spam verdicts and deletions by someone other than the author (both are read-time visibility, see
``is_visible``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from schemas.errors import ConfigError, InvalidEvent
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
from streams.domain.feedstate import AuthorState, RecentActivity
from streams.domain.threads import to_ms

__all__ = [
    "ACTIVITY_KINDS",
    "AuthorState",
    "FeedChange",
    "FeedConfig",
    "RecentActivity",
    "activity_target",
    "apply",
    "row_version",
]

ACTIVITY_KINDS: frozenset[str] = frozenset({"post", "comment", "reaction"})

_GRAPH, _CONTENT = 1, 2  # at equal ms a graph event counts as earlier than a content event
_MAX_LIFETIMES = 8


def row_version(t_ms: int, *, graph: bool) -> int:
    """The ``version`` of a row whose deciding event (L) happened at ``t_ms``: ``t_ms * 4 + 1``
    for a graph event, ``+ 2`` for a content event (see the module docstring)."""
    return t_ms * 4 + (_GRAPH if graph else _CONTENT)


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedConfig:
    """Which activities enter feeds and where fan-out on write stops.

    ``kinds``: any of "post", "comment", "reaction". ``backfill_limit``: how many of an author's
    newest live activities a new follower receives. ``recent_limit``: how many activities the
    state remembers (None: ``2 * backfill_limit``; must be >= ``backfill_limit``).
    ``read_fanout_threshold``: above this many followers an author is fanned out on read.
    ``dedup_window``: how many applied event ids, and how many activity ids (for "published
    twice: the first one stands"), per author are remembered.
    Raises ``ConfigError`` on an unknown kind, a negative number or a too small ``recent_limit``.
    """

    kinds: frozenset[str] = frozenset({"post"})
    backfill_limit: int = 100
    read_fanout_threshold: int = 10_000
    dedup_window: int = 10_000
    recent_limit: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - ACTIVITY_KINDS
        if unknown:
            raise ConfigError(
                f"feed kinds {sorted(unknown)} are unknown; choose from {sorted(ACTIVITY_KINDS)}"
            )
        for name in ("backfill_limit", "read_fanout_threshold", "dedup_window", "recent_limit"):
            value = getattr(self, name)
            if name == "recent_limit" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"feed {name} must be a whole number >= 0, got {value!r}")
        if self.recent_limit is not None and self.recent_limit < self.backfill_limit:
            raise ConfigError(
                f"feed recent_limit {self.recent_limit} is below backfill_limit "
                f"{self.backfill_limit}; remember at least as many activities as are backfilled"
            )

    @property
    def remembered(self) -> int:
        """How many activities the state keeps: ``recent_limit`` or ``2 * backfill_limit``."""
        return 2 * self.backfill_limit if self.recent_limit is None else self.recent_limit


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
    """Apply one event to ``state`` (in place) and return the ``feed_items`` rows it changes,
    following the time-based semantics of the module docstring whatever the interleaving:

    * a new activity (or a new lifetime of one) of a configured kind: a live row in the author's
      own feed, and in the feed of every follower following at its time (unless read-fanout);
    * ``Followed``: the follower receives the activities of the backfill window at the follow
      time (unless read-fanout);
    * ``Unfollowed``: the remembered pushed activities are deleted from the follower's feed;
    * the author's delete of a post, comment or reaction: deleted from the author's feed and
      from every active follower's (only the author's when it was never pushed, or when it is
      not remembered and the author is read-fanout: the read-time deleted flag hides old copies);
    * a late event also re-emits the pairs whose backfill window it moved;
    * a duplicate event id, a repeated publish or delete, an event of an unconfigured kind, or
      any other event type: no changes.

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

    t_ms = to_ms(event.occurred_at)
    if isinstance(event, Followed):
        changes = _follow(state, event.actor, t_ms, config)
    elif isinstance(event, Unfollowed):
        changes = _unfollow(state, event.actor, t_ms)
    else:
        assert subject is not None  # the routing branch above returned for everything else
        kind, activity_id, post_id, _ = subject
        if isinstance(event, PostPublished | CommentPosted | ReactionAdded):
            changes = _publish(state, kind, activity_id, post_id, t_ms, config)
        else:
            changes = _retract(state, kind, activity_id, post_id, t_ms, config)
    _remember(state, event.event_id, config.dedup_window)
    return changes


def _remember(state: AuthorState, event_id: str, window: int) -> None:
    state.applied[event_id] = None
    while len(state.applied) > window:
        del state.applied[next(iter(state.applied))]


def _note(state: AuthorState, activity_id: str, live: bool, window: int) -> None:
    state.published.pop(activity_id, None)
    state.published[activity_id] = live
    while len(state.published) > window:
        del state.published[next(iter(state.published))]


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


def _window(recent: list[RecentActivity], t_ms: int, limit: int) -> set[str]:
    """Ids of the ``limit`` newest activities of ``recent`` live just before a graph event at
    ``t_ms``."""
    live = []
    for activity in recent:
        created = activity.created_at_point(t_ms)
        if created is not None:
            live.append((created, activity.activity_id))
    live.sort(reverse=True)
    return {activity_id for _, activity_id in live[:limit]}


def _pair(
    state: AuthorState, follower: str, since: int, activity: RecentActivity, window: set[str]
) -> FeedChange:
    """The row of (follower, activity) for an active follower who followed at ``since``."""
    if activity.last_ms >= since:  # L is the activity's latest event; the follower follows then
        version = row_version(activity.last_ms, graph=False)
        return _row(state, follower, activity, version=version, is_deleted=not activity.live)
    live = activity.live and activity.activity_id in window  # L is the follow
    return _row(
        state, follower, activity, version=row_version(since, graph=True), is_deleted=not live
    )


def _refresh(
    state: AuthorState,
    activity: RecentActivity,
    config: FeedConfig,
    *,
    new: bool,
    before: list[RecentActivity],
) -> list[FeedChange]:
    """Rows of the active followers after a publish or delete of ``activity`` (its latest
    event); ``new``: no row of the activity can exist yet, so deleted ones are not written;
    ``before``: the remembered activities before this event."""
    out: list[FeedChange] = []
    # Per follow time: the backfill window now, and the activities whose place in it changed.
    windows: dict[int, tuple[set[str], set[str]]] = {}
    for follower, since in state.followers.items():
        if activity.last_ms >= since:
            if activity.live or not new:
                out.append(_pair(state, follower, since, activity, set()))
            continue
        # The follow is later than this event: the window at the follow time may have moved.
        # The pairs decided by that follow change only for this activity and for those that
        # entered or left the window (rare live: a lagging content stream; common in a replay).
        if state.read_fanout:  # follows push nothing any more; only a retraction matters
            if not new:
                out.append(_pair(state, follower, since, activity, set()))
            continue
        if since not in windows:
            after = _window(state.recent, since, config.backfill_limit)
            moved = after ^ _window(before, since, config.backfill_limit)
            windows[since] = (after, moved | {activity.activity_id})
        window, moved = windows[since]
        for other in state.recent:
            if other.fanned_out and other.last_ms < since and other.activity_id in moved:
                row = _pair(state, follower, since, other, window)
                if not (new and other is activity and row.is_deleted):
                    out.append(row)
    return out


def _find(state: AuthorState, activity_id: str) -> int | None:
    return next((i for i, a in enumerate(state.recent) if a.activity_id == activity_id), None)


def _publish(
    state: AuthorState, kind: str, activity_id: str, post_id: str, t_ms: int, config: FeedConfig
) -> list[FeedChange]:
    before = list(state.recent)
    at = _find(state, activity_id)
    if at is not None:
        known = state.recent.pop(at)
        if known.live:
            state.recent.insert(at, known)
            return []  # published twice under two event ids: the first one stands
        assert known.deleted_ms is not None
        lifetimes = (*known.earlier, (known.created_ms, known.deleted_ms))
        activity = replace(
            known,
            created_ms=max(t_ms, known.deleted_ms),
            deleted_ms=None,
            earlier=lifetimes[-_MAX_LIFETIMES + 1 :],
            fanned_out=not state.read_fanout,
        )
    elif state.published.get(activity_id, False):
        return []  # live but no longer remembered in ``recent``: still a repeat
    else:
        activity = RecentActivity(
            activity_id=activity_id,
            kind=kind,
            post_id=post_id,
            created_ms=t_ms,
            fanned_out=not state.read_fanout,
        )
    _note(state, activity_id, True, config.dedup_window)
    # Newest first; ties by activity id, the same order as the read side.
    state.recent.append(activity)
    state.recent.sort(key=lambda a: (a.created_ms, a.activity_id), reverse=True)
    version = row_version(activity.created_ms, graph=False)
    changes = [_row(state, state.author, activity, version=version, is_deleted=False)]
    if activity.fanned_out:
        changes += _refresh(state, activity, config, new=at is None, before=before)
    del state.recent[config.remembered :]
    return changes


def _retract(
    state: AuthorState, kind: str, activity_id: str, post_id: str, t_ms: int, config: FeedConfig
) -> list[FeedChange]:
    _note(state, activity_id, False, config.dedup_window)
    at = _find(state, activity_id)
    if at is None:
        # Older than anything remembered (or never published): it was pushed unless the author
        # is read-fanout. For a read-fanout author the read-time deleted flag hides any copy
        # pushed before the flip, which saves a tombstone per follower.
        unknown = RecentActivity(
            activity_id=activity_id, kind=kind, post_id=post_id, created_ms=0, fanned_out=False
        )
        version = row_version(t_ms, graph=False)
        changes = [_row(state, state.author, unknown, version=version, is_deleted=True)]
        if not state.read_fanout:
            changes += [
                _row(
                    state,
                    follower,
                    unknown,
                    version=max(version, row_version(since, graph=True)),
                    is_deleted=True,
                )
                for follower, since in state.followers.items()
            ]
        return changes
    known = state.recent[at]
    if not known.live:
        return []  # deleted twice under two event ids: the first one stands
    before = list(state.recent)
    activity = replace(known, deleted_ms=max(t_ms, known.created_ms))
    state.recent[at] = activity
    version = row_version(activity.last_ms, graph=False)
    changes = [_row(state, state.author, activity, version=version, is_deleted=True)]
    if activity.fanned_out:
        changes += _refresh(state, activity, config, new=False, before=before)
    return changes


def _follow(state: AuthorState, follower: str, t_ms: int, config: FeedConfig) -> list[FeedChange]:
    if follower in state.followers:
        return []  # following already: the first follow stands
    state.followers[follower] = t_ms
    if len(state.followers) > config.read_fanout_threshold:
        state.read_fanout = True
    if state.read_fanout:
        return []
    window = _window(state.recent, t_ms, config.backfill_limit)
    # The follower had no row of a remembered activity since their last unfollow: write only
    # the live ones.
    rows = (_pair(state, follower, t_ms, a, window) for a in state.recent if a.fanned_out)
    return [row for row in rows if not row.is_deleted]


def _unfollow(state: AuthorState, follower: str, t_ms: int) -> list[FeedChange]:
    if state.followers.pop(follower, None) is None:
        return []
    # Every pair of a former follower is deleted; L is the later of the unfollow and the
    # activity's latest event.
    return [
        _row(
            state,
            follower,
            activity,
            version=max(row_version(t_ms, graph=True), row_version(activity.last_ms, graph=False)),
            is_deleted=True,
        )
        for activity in state.recent
        if activity.fanned_out
    ]

"""What one batch of events does to the state of one key, and what it emits. Pure: no I/O.

The Faust agents (``streams.app``) and any offline replay share these functions, so live
processing and a rebuild from offset 0 produce the same rows: every row's version is derived from
the state (a thread's ``seq``, a follower set's ``seq``, or the event time for feed rows), and the
state is a fold of the log.

Three keyed processors, one per source partitioning:
- threads (content topic, key tenant/post): thread state -> notification groups, trend
  contributions, content state (moderation included), machine spam verdicts, and the content
  events re-keyed by their actor for the feeds;
- authors (graph topic and the re-keyed activity topic, key tenant/author): feed fan-out, follow
  notifications, the follow graph and the author's read-fanout flag;
- inboxes (inbox topic, key tenant/user): read and seen marks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.events import (
    CommentDeleted,
    CommentEdited,
    CommentPosted,
    Event,
    Followed,
    PostDeleted,
    PostEdited,
    PostPublished,
    ReactionAdded,
    ReactionRemoved,
    Unfollowed,
)
from streams import rows
from streams.domain import feeds
from streams.domain.follows import FollowerState, follow_groups
from streams.domain.inbox import InboxState
from streams.domain.notifications import (
    GroupChange,
    GroupKey,
    NotificationGroup,
    derive_groups,
    diff_groups,
)
from streams.domain.spam import machine_verdict_for
from streams.domain.threads import ThreadState, to_ms
from streams.domain.trends import (
    ContributionChange,
    TrendContribution,
    contributions,
    diff_contributions,
)

# Content events that can change a feed: re-keyed by actor onto the activity topic.
FEED_EVENT_TYPES = (
    PostPublished,
    PostDeleted,
    CommentPosted,
    CommentDeleted,
    ReactionAdded,
    ReactionRemoved,
)
_FEED_KIND: dict[type[Event], str] = {
    PostPublished: "post",
    PostDeleted: "post",
    CommentPosted: "comment",
    CommentDeleted: "comment",
    ReactionAdded: "reaction",
    ReactionRemoved: "reaction",
}
_SCORED = (PostPublished, PostEdited, CommentPosted, CommentEdited)


@dataclass
class Output:
    """Everything a batch emits: rows per derived topic, events to publish, events to re-key."""

    rows: dict[str, list[rows.Row]] = field(default_factory=lambda: defaultdict(list))
    published: list[Event] = field(default_factory=list)
    forwarded: list[Event] = field(default_factory=list)

    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())


@dataclass(slots=True)
class Derived:
    """A thread state's groups and contributions, kept next to that very state object between
    batches (``streams.folds``) so a batch does not derive again what the last one derived last.
    Valid while ``seq`` equals the state's; -1: nothing kept."""

    seq: int = -1
    groups: dict[GroupKey, NotificationGroup] = field(default_factory=dict)
    contributions: list[TrendContribution] = field(default_factory=list)


def process_thread(
    state: ThreadState,
    events: Sequence[Event],
    out: Output,
    *,
    feed_kinds: frozenset[str] = frozenset({"post"}),
    derived: Derived | None = None,
) -> bool:
    """Fold ``events`` (all of this thread, in log order) into ``state``; emit what changed.

    Only the activities of ``feed_kinds`` are re-keyed for the feeds (the others cannot change
    one). New or edited posts and comments are scored for spam as they arrive; a machine verdict is
    applied to the state at once and published (its id is deterministic, so the copy that comes
    back through the log, or a rescoring on replay, is dropped as a duplicate). Returns whether
    the state changed (and so must be saved).

    Withdrawals cover every group and contribution that existed after ANY event of the batch,
    not only before and after it, and content rows cover every object the batch changed at any
    point: a worker that dies after emitting a batch but before saving its state reprocesses the
    events in other batches, and an intermediate row it emitted must still be withdrawn (seen in
    the SIGKILL test before this rule). This costs one derivation per changed event of a thread
    but the batch's last (the state after it is the final one, which the diff covers).

    ``derived``, if given, must belong to this state object: its values are used when they are
    of the state's ``seq``, and it holds the state's values when the batch is done.
    """
    if derived is not None and derived.seq == state.seq:
        before_groups, before_contribs = derived.groups, derived.contributions
    else:
        before_groups, before_contribs = derive_groups(state), contributions(state)
    before_objects = dict(state.objects)
    before_by_key = {c.key: c for c in before_contribs}
    # Keys whose value at some intermediate point differed from before the batch, with the last
    # such value (a withdrawal needs one).
    varied_groups: dict[GroupKey, NotificationGroup] = {}
    varied_contribs: dict[tuple[str, str, str, str, str], TrendContribution] = {}
    touched: set[str] = set()  # objects whose state changed at some point of the batch
    changed = False

    def observe() -> None:
        for key, group in derive_groups(state).items():
            if before_groups.get(key) != group:
                varied_groups[key] = group
        for contribution in contributions(state):
            if before_by_key.get(contribution.key) != contribution:
                varied_contribs[contribution.key] = contribution
        touched.update(oid for oid, obj in state.objects.items() if before_objects.get(oid) != obj)

    last = len(events) - 1
    for index, event in enumerate(events):
        if isinstance(event, FEED_EVENT_TYPES) and _FEED_KIND[type(event)] in feed_kinds:
            out.forwarded.append(event)  # duplicates too: the feed state drops them itself
        if not state.apply(event):
            continue
        changed = True
        if isinstance(event, _SCORED):
            object_id = (
                event.post_id
                if isinstance(event, PostPublished | PostEdited)
                else (event.comment_id)
            )
            obj = state.objects.get(object_id)
            verdict = obj and machine_verdict_for(
                obj, tenant=state.tenant, post_id=state.post_id, revision=state.seq
            )
            if verdict and state.apply(verdict):
                out.published.append(verdict)
        if index < last:  # after the last event the state is final: the diff covers it
            observe()
    if not changed:
        if derived is not None:
            derived.seq, derived.groups, derived.contributions = (
                state.seq,
                before_groups,
                before_contribs,
            )
        return False
    version = state.seq
    after_groups = derive_groups(state)
    for change in diff_groups(before_groups, after_groups, version=version):
        out.rows[rows.NOTIFICATION_GROUPS].append(rows.group_row(change))
    for key, group in varied_groups.items():  # intermediate values the diff does not cover
        if after_groups.get(key) == before_groups.get(key):
            final = after_groups.get(key, group)
            change = GroupChange(final, version, key not in after_groups)
            out.rows[rows.NOTIFICATION_GROUPS].append(rows.group_row(change))
    after_contribs = contributions(state)
    if derived is not None:
        derived.seq, derived.groups, derived.contributions = state.seq, after_groups, after_contribs
    after_by_key = {c.key: c for c in after_contribs}
    for c in diff_contributions(before_contribs, after_contribs, version=version):
        out.rows[rows.TREND_CONTRIBUTIONS].append(rows.contribution_row(c))
    for ckey, contribution in varied_contribs.items():
        if after_by_key.get(ckey) == before_by_key.get(ckey):
            final_c = after_by_key.get(ckey, contribution)
            cchange = ContributionChange(final_c, version, ckey not in after_by_key)
            out.rows[rows.TREND_CONTRIBUTIONS].append(rows.contribution_row(cchange))
    for object_id, obj in state.objects.items():
        if obj.published and (before_objects.get(object_id) != obj or object_id in touched):
            out.rows[rows.CONTENT_STATE].append(
                rows.content_row(obj, tenant=state.tenant, post_id=state.post_id, version=version)
            )
    return True


def process_author(
    feed: feeds.AuthorState,
    follows: FollowerState,
    events: Sequence[Event],
    out: Output,
    *,
    config: feeds.FeedConfig,
) -> bool:
    """Fold an author's graph and activity events into its feed and follower state.

    The feed state's remembered event ids decide for both states whether an event is new, so
    the two always hold the same followers (``streams.folds`` stores them once).
    """
    before_fanout = feed.read_fanout
    follows_changed = False
    changes: list[feeds.FeedChange] = []
    for event in events:
        fresh = event.event_id not in feed.applied
        changes += feeds.apply(feed, event, config)
        if (
            fresh
            and isinstance(event, Followed | Unfollowed)
            and follows.apply(event, deduplicated=True)
        ):
            follows_changed = True
            out.rows[rows.FOLLOWS_STATE].append(
                rows.follow_row(
                    tenant=follows.tenant,
                    follower=event.actor,
                    followee=follows.followee,
                    since_ms=to_ms(event.occurred_at),
                    version=follows.seq,
                    is_deleted=isinstance(event, Unfollowed),
                )
            )
    if changes:
        out.rows[rows.FEED_ITEMS] += rows.feed_rows(changes)
    if follows_changed:
        # Always the final follow group (an upsert, or a withdrawal when nobody follows): a diff
        # against the state before the batch would miss an intermediate row that an earlier,
        # crashed attempt at these events emitted.
        after = follow_groups(follows)
        final = next(iter(after.values()), None) or NotificationGroup(
            tenant=follows.tenant,
            recipient=follows.followee,
            kind="follow",
            object_kind="user",
            object_id=follows.followee,
            post_id="",
            actor_count=0,
            latest_actors=(),
            first_ms=0,
            last_ms=0,
            excerpt="",
        )
        follow_change = GroupChange(final, follows.seq, not after)
        out.rows[rows.NOTIFICATION_GROUPS].append(rows.group_row(follow_change))
    if follows_changed or feed.read_fanout != before_fanout:
        out.rows[rows.AUTHOR_STATE].append(
            rows.author_row(follows, read_fanout=feed.read_fanout, version=follows.seq)
        )
    # The feed state remembers every applied id, even when no row changes: always save it.
    return bool(events)


def process_inbox(state: InboxState, events: Sequence[Event], out: Output) -> bool:
    """Fold read/seen marks; emit the user's marks row when one moved."""
    changed = False
    for event in events:
        changed = state.apply(event) or changed
    if changed:
        out.rows[rows.INBOX_STATE].append(rows.inbox_row(state))
    return changed

"""What Hubbub's read models must hold after a list of events: an independent statement.

Written from the documented product rules (the docstrings of ``streams/domain`` and
``notes/rows.md``) and deliberately importing nothing from ``streams``: the end-to-end tests compare
the pipeline's tables with it, and ``tests/test_oracle.py`` compares it with the pure domain code.
It favours plainness over speed (a few thousand events per second).

``expect(events, machine_flags=...)`` folds the events in list order (the log order), skipping any
event whose id was seen before (a redelivery), and returns an ``Expected``. Feeds alone are folded
in time order instead (see below): only they join two streams, the graph and the content.

Content
    Per thread ``(tenant, post_id)`` and object id: the first creation wins; an edit counts only
    while the object is published and not deleted; a delete or person verdict arriving before the
    creation is kept; an object kind that contradicts the thread (a "post" that is not the thread's
    post, a comment id equal to the post id) is ignored. *Spam* is the latest person verdict when
    there is one, else ``machine_flags(body, title)`` on the final text; machine verdicts in the
    input are ignored, the callable stands for the machine. An object is *live* when published,
    not deleted, not spam, and its thread's post (if known) is neither deleted nor spam.

Notification groups, keyed ``(tenant, recipient, kind, object_kind, object_id)``
    Every live post or comment notifies the users it @mentions (kind "mention", object = itself);
    a live comment also notifies the live post's author ("comment", object = the post) and, when
    its ``in_reply_to`` is a live comment of the thread, that comment's author ("reply", object =
    the parent). A recipient gets one notification per source, the strongest: reply > comment >
    mention, and never one for their own source. An active reaction on a live object notifies the
    object's author ("reaction") unless they reacted themselves; its time is when it was last
    added. An active follow notifies the followee ("follow", object_kind "user", object = the
    followee; time = when the current follow began). A group counts distinct actors; its
    ``latest_actors`` are the 3 newest distinct actors by their latest contribution (ties by id);
    ``first_ms``/``last_ms`` span the contributions; ``excerpt`` is the object's title, else the
    first 80 characters of its body, whitespace collapsed ("…" marks a cut; "" for follows).

Inbox
    A group is unread when ``last_ms > max(latest read-all mark, latest mark of its key)`` and
    unseen when ``last_ms > latest seen mark``; marks start at 0 and never move back.

Trend contributions, keyed ``(tenant, dimension, dim_value, metric, source_id)``
    Each live post or comment counts in dimension "tenant", "post" (its thread) and "hashtag" (each
    tag of its own title or body, lowercased), at its creation; each active reaction on a live
    object counts in "tenant" and "post" at the time it was added, as
    ``"{actor}/{object_id}/{reaction}"``.

Feeds (``FeedRules``)
    The write side is decided per pair (follower F, activity A of author X) by the pair's latest
    *relevant event* L: F's follow or unfollow of X, or A's publish or delete (for a reaction: its
    removal), in time order: ``occurred_at`` ms, then graph events before content events, then log
    order. Events that change nothing are not events here (a second follow while following, an
    unfollow while not, a publish of a live activity however old, a delete of a deleted one).
    L a delete or an unfollow: no row. L a publish: a row iff F follows X then. L F's follow: a
    row iff A is among the ``backfill_limit`` newest activities of X live just before the follow
    (newest by publish time, then activity id), so a delete lets an older activity back in. The
    author's own feed holds each of their live activities. The oracle folds the feed events in
    that time order, so the event being folded is L for every pair it touches.
    Kept as the domain approximates it (same parameters, so the comparison is exact): per author
    the domain remembers only the ``remembered`` newest activities by publish time
    (``recent_limit``, default twice ``backfill_limit``), tombstones included, filled in the
    order events arrive. A graph event reaches only the activities remembered when it arrives
    (and those arriving after it): a follow backfills from them, an unfollow retracts only them,
    and a pair of an activity out of reach keeps its row. At equal ms this depends on the log
    order: a publish logged before an unfollow may push an older activity out of its reach. A
    delete of an activity no longer remembered takes it out of every current follower's feed
    unless the author is read-fanout.
    Read-fanout: an author becomes read-fanout for good once followers exceed
    ``read_fanout_threshold``; from then on publishes and follows push nothing to followers, and a
    delete retracts from followers only what was pushed. The flip is taken in time order (the
    domain takes it in arrival order: a publish logged before the flipping follow at the same ms
    is still pushed to the followers before it; generated workloads have not hit that tie).
    The read side (``home_feed``): the viewer's live rows, plus for each read-fanout author the
    viewer follows now the author's own activities of configured kinds; an entry is hidden when
    its object (the reacted object, for a reaction) or its thread's post is deleted, or when
    either is spam unless the viewer is the entry's author. Newest first, ties by activity id,
    both descending.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
)

MachineFlags = Callable[[str, str], bool]
"""``machine_flags(text, title)``: True when the machine scorer calls the text spam."""

GroupId = tuple[str, str, str, str, str]  # (tenant, recipient, kind, object_kind, object_id)
TrendId = tuple[str, str, str, str, str]  # (tenant, dimension, dim_value, metric, source_id)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STRENGTH = {"mention": 1, "comment": 2, "reply": 3}


def ms(at: datetime) -> int:
    delta = at - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


# -- text -----------------------------------------------------------------------------------------

_HANDLE_CHARS = re.compile(r"[A-Za-z0-9_.\-]*")
_TAG_CHARS = re.compile(r"[A-Za-z0-9_]*")


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def mentioned(text: str) -> set[str]:
    """Handles @mentioned in ``text`` (see streams.domain.text's documented rules)."""
    found: set[str] = set()
    for i, ch in enumerate(text):
        if ch != "@" or (i > 0 and (_word_char(text[i - 1]) or text[i - 1] == "@")):
            continue
        if i + 1 >= len(text) or not (text[i + 1].isascii() and text[i + 1].isalnum()):
            continue
        run = _HANDLE_CHARS.match(text, i + 1)
        assert run is not None
        end = run.end()
        if end < len(text) and _word_char(text[end]):
            continue  # runs on into more word characters: nobody
        handle = run.group().rstrip(".-")
        if len(handle) <= 64:
            found.add(handle)
    return found


def tagged(text: str) -> set[str]:
    """Hashtags in ``text``, lowercased, without "#"."""
    found: set[str] = set()
    for i, ch in enumerate(text):
        if ch != "#" or (i > 0 and (_word_char(text[i - 1]) or text[i - 1] in "&#")):
            continue
        if i + 1 >= len(text) or not (text[i + 1].isascii() and text[i + 1].isalpha()):
            continue
        run = _TAG_CHARS.match(text, i + 1)
        assert run is not None
        end = run.end()
        if end < len(text) and _word_char(text[end]):
            continue
        if len(run.group()) <= 100:
            found.add(run.group().lower())
    return found


def excerpt_of(title: str, body: str) -> str:
    if title.strip():
        return " ".join(title.split())
    text = " ".join(body.split())
    return text if len(text) <= 80 else text[:80].rstrip() + "…"


# -- values ---------------------------------------------------------------------------------------


@dataclass
class Obj:
    """A post or comment as the log leaves it."""

    tenant: str
    post_id: str
    object_id: str
    kind: str
    author: str = ""
    created_ms: int = 0
    title: str = ""
    body: str = ""
    in_reply_to: str | None = None
    published: bool = False
    deleted: bool = False
    person: str | None = None
    machine_spam: bool = False

    @property
    def spam(self) -> bool:
        return self.person == "spam" if self.person is not None else self.machine_spam


@dataclass(frozen=True)
class Group:
    tenant: str
    recipient: str
    kind: str
    object_kind: str
    object_id: str
    post_id: str
    actor_count: int
    latest_actors: tuple[str, ...]
    first_ms: int
    last_ms: int
    excerpt: str

    @property
    def key_text(self) -> str:
        return f"{self.kind}:{self.object_kind}:{self.object_id}"


@dataclass(frozen=True)
class FeedRow:
    owner: str
    activity_id: str
    kind: str
    author: str
    post_id: str
    created_ms: int


@dataclass(frozen=True)
class FeedRules:
    kinds: frozenset[str] = frozenset({"post"})
    backfill_limit: int = 100
    read_fanout_threshold: int = 10_000
    # Not a product rule: how many activities per author graph events can reach. The domain's
    # state keeps only that many (FeedConfig.recent_limit), so the oracle takes the same number to
    # compare exactly. The domain's dedup_window (repeats of ids older than it) is not modelled.
    recent_limit: int | None = None

    @property
    def remembered(self) -> int:
        return 2 * self.backfill_limit if self.recent_limit is None else self.recent_limit


@dataclass
class Marks:
    read_all_ms: int = 0
    group_ms: dict[str, int] = field(default_factory=dict)
    seen_ms: int = 0


@dataclass
class _Known:
    """An activity of the author, live or deleted (its latest lifetime)."""

    activity_id: str
    kind: str
    post_id: str
    created_ms: int  # publish time of the current lifetime
    pushed: bool  # the current lifetime went to followers (the author was not read-fanout)
    arrived: int  # position in the log of the publish that began the current lifetime
    live: bool = True


@dataclass
class _Author:
    followers: set[str] = field(default_factory=set)
    read_fanout: bool = False
    activities: dict[str, _Known] = field(default_factory=dict)  # every one ever published


# -- the answer -----------------------------------------------------------------------------------


@dataclass
class Expected:
    """Final read models; build with ``expect``."""

    rules: FeedRules
    objects: dict[tuple[str, str, str], Obj]  # (tenant, post_id, object_id)
    reactions: dict[tuple[str, str, str, str, str], tuple[int, str]]
    """(tenant, post_id, actor, object_id, reaction) -> (added_ms, object_kind), active ones."""
    follows: dict[tuple[str, str], dict[str, int]]  # (tenant, followee) -> follower -> since_ms
    feed_rows: dict[tuple[str, str], dict[str, FeedRow]]  # (tenant, owner) -> live rows
    read_fanout: set[tuple[str, str]]  # (tenant, author)
    inboxes: dict[tuple[str, str], Marks]
    groups: dict[GroupId, Group] = field(default_factory=dict)
    contributions: dict[TrendId, tuple[str, int]] = field(default_factory=dict)

    # -- content --

    def live(self, obj: Obj) -> bool:
        post = self.objects.get((obj.tenant, obj.post_id, obj.post_id))
        thread_ok = post is None or not (post.deleted or post.spam)
        return obj.published and not obj.deleted and not obj.spam and thread_ok

    # -- inbox --

    def unread_count(self, tenant: str, user: str) -> int:
        marks = self.inboxes.get((tenant, user), Marks())
        return sum(
            1
            for g in self.groups_of(tenant, user)
            if g.last_ms > max(marks.read_all_ms, marks.group_ms.get(g.key_text, 0))
        )

    def unseen_count(self, tenant: str, user: str) -> int:
        marks = self.inboxes.get((tenant, user), Marks())
        return sum(1 for g in self.groups_of(tenant, user) if g.last_ms > marks.seen_ms)

    def groups_of(self, tenant: str, user: str) -> list[Group]:
        return [g for (t, r, *_), g in self.groups.items() if (t, r) == (tenant, user)]

    # -- trends --

    def trend_totals(self) -> dict[tuple[str, str, str, str], tuple[int, frozenset[str]]]:
        """(tenant, dimension, dim_value, metric) -> (how many sources, distinct actors)."""
        counts: dict[tuple[str, str, str, str], list[str]] = {}
        for (tenant, dim, value, metric, _), (actor, _) in self.contributions.items():
            counts.setdefault((tenant, dim, value, metric), []).append(actor)
        return {key: (len(actors), frozenset(actors)) for key, actors in counts.items()}

    # -- feeds --

    def following(self, tenant: str, viewer: str) -> set[str]:
        return {a for (t, a), fs in self.follows.items() if t == tenant and viewer in fs}

    def visible(self, row: FeedRow, tenant: str, viewer: str) -> bool:
        parts = row.activity_id.split("/")
        target = parts[1] if len(parts) == 2 else parts[3]
        obj = self.objects.get((tenant, row.post_id, target))
        if obj is None or not obj.published:
            return False
        post = self.objects.get((tenant, row.post_id, row.post_id))
        deleted = obj.deleted or (post is not None and post.deleted)
        spam = obj.spam or (post is not None and post.spam)
        return not deleted and (not spam or viewer == row.author)

    def home_feed(self, tenant: str, viewer: str, *, only_followed: bool = False) -> list[str]:
        """Activity ids the viewer sees, newest first. ``only_followed``: also drop pushed rows
        of authors the viewer no longer follows (a reader that filters by current follows)."""
        following = self.following(tenant, viewer)
        rows = dict(self.feed_rows.get((tenant, viewer), {}))
        if only_followed:
            rows = {a: r for a, r in rows.items() if r.author in following or r.author == viewer}
        for author in following:
            if (tenant, author) in self.read_fanout:
                for a, r in self.feed_rows.get((tenant, author), {}).items():
                    if r.author == author and r.kind in self.rules.kinds:
                        rows.setdefault(a, r)
        shown = [r for r in rows.values() if self.visible(r, tenant, viewer)]
        shown.sort(key=lambda r: (r.created_ms, r.activity_id), reverse=True)
        return [r.activity_id for r in shown]


# -- folding --------------------------------------------------------------------------------------


class _Fold:
    def __init__(self, rules: FeedRules, events: list[Event]) -> None:
        self.rules = rules
        self.arrival = {e.event_id: i for i, e in enumerate(events)}
        self.remembered = _remembered_on_arrival(events, rules)
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.reactions: dict[tuple[str, str, str, str, str], tuple[int, str]] = {}
        self.follows: dict[tuple[str, str], dict[str, int]] = {}
        self.inboxes: dict[tuple[str, str], Marks] = {}
        self.authors: dict[tuple[str, str], _Author] = {}
        # (tenant, owner, activity_id) -> row, None for a tombstone. Feed events are folded in
        # time order, so the row written last is the one of the pair's latest relevant event.
        self.table: dict[tuple[str, str, str], FeedRow | None] = {}

    def obj(self, tenant: str, post_id: str, object_id: str, kind: str) -> Obj:
        key = (tenant, post_id, object_id)
        if key not in self.objects:
            self.objects[key] = Obj(tenant, post_id, object_id, kind)
        return self.objects[key]

    def take(self, e: Event) -> None:
        t = ms(e.occurred_at)
        if isinstance(e, PostPublished | CommentPosted):
            if isinstance(e, PostPublished):
                ids, kind, title, reply_to = (e.post_id, e.post_id), "post", e.title, None
            else:
                ids, kind, title, reply_to = (e.post_id, e.comment_id), "comment", "", e.in_reply_to
            if ids[0] != ids[1] or kind == "post":
                o = self.obj(e.tenant, *ids, kind)
                if not o.published:
                    o.author, o.created_ms, o.title, o.body = e.actor, t, title, e.body
                    o.in_reply_to, o.published = reply_to, True
        elif isinstance(e, PostEdited | CommentEdited):
            object_id = e.post_id if isinstance(e, PostEdited) else e.comment_id
            is_post = isinstance(e, PostEdited)
            edited = self.objects.get((e.tenant, e.post_id, object_id))
            if edited is not None and (object_id == e.post_id) == is_post:
                if edited.published and not edited.deleted:
                    edited.title = e.title if isinstance(e, PostEdited) else ""
                    edited.body = e.body
        elif isinstance(e, PostDeleted):
            self.obj(e.tenant, e.post_id, e.post_id, "post").deleted = True
        elif isinstance(e, CommentDeleted):
            if e.comment_id != e.post_id:
                self.obj(e.tenant, e.post_id, e.comment_id, "comment").deleted = True
        elif isinstance(e, ModerationVerdict):
            if (e.object_id == e.post_id) == (e.object_kind == "post") and e.source == "person":
                self.obj(e.tenant, e.post_id, e.object_id, e.object_kind).person = e.verdict
        elif isinstance(e, ReactionAdded | ReactionRemoved):
            if (e.object_id == e.post_id) == (e.object_kind == "post"):
                key = (e.tenant, e.post_id, e.actor, e.object_id, e.reaction)
                if isinstance(e, ReactionRemoved):
                    self.reactions.pop(key, None)
                elif key not in self.reactions:
                    self.reactions[key] = (t, e.object_kind)
        elif isinstance(e, Followed):
            self.follows.setdefault((e.tenant, e.followee), {}).setdefault(e.actor, t)
        elif isinstance(e, Unfollowed):
            self.follows.get((e.tenant, e.followee), {}).pop(e.actor, None)
        elif isinstance(e, NotificationsRead | NotificationsSeen):
            marks = self.inboxes.setdefault((e.tenant, e.actor), Marks())
            up_to = ms(e.up_to_at)
            if isinstance(e, NotificationsSeen):
                marks.seen_ms = max(marks.seen_ms, up_to)
            elif not e.group_keys:
                marks.read_all_ms = max(marks.read_all_ms, up_to)
            else:
                for k in e.group_keys:
                    marks.group_ms[k] = max(marks.group_ms.get(k, 0), up_to)

    # -- feeds (events given in time order, see feed_order) --

    def put(self, tenant: str, owner: str, author: str, k: _Known) -> None:
        row = FeedRow(owner, k.activity_id, k.kind, author, k.post_id, k.created_ms)
        self.table[(tenant, owner, k.activity_id)] = row

    def drop(self, tenant: str, owner: str, activity_id: str) -> None:
        self.table[(tenant, owner, activity_id)] = None

    def reaches(self, e: Event, k: _Known) -> bool:
        """Whether the domain's state still remembers ``k`` when ``e`` arrives: it arrives
        later, or it is among the remembered newest then (see _remembered_on_arrival)."""
        return k.arrived > self.arrival[e.event_id] or k.activity_id in self.remembered[e.event_id]

    def feed(self, e: Event) -> None:
        rules = self.rules
        if isinstance(e, Followed | Unfollowed):
            a = self.authors.setdefault((e.tenant, e.followee), _Author())
            known = [k for k in a.activities.values() if self.reaches(e, k)]
            if isinstance(e, Followed) and e.actor not in a.followers:
                a.followers.add(e.actor)
                a.read_fanout = a.read_fanout or len(a.followers) > rules.read_fanout_threshold
                if not a.read_fanout:  # L is this follow: the window just before it is live
                    live = sorted(
                        (k for k in known if k.live),
                        key=lambda k: (k.created_ms, k.activity_id),
                        reverse=True,
                    )
                    for k in live[: rules.backfill_limit]:
                        self.put(e.tenant, e.actor, e.followee, k)
            elif isinstance(e, Unfollowed) and e.actor in a.followers:
                a.followers.discard(e.actor)
                for k in known:  # L is this unfollow: nothing stays (of what is remembered)
                    if k.pushed:
                        self.drop(e.tenant, e.actor, k.activity_id)
            return
        subject = _feed_subject(e, rules)
        if subject is None:
            return
        kind, activity_id = subject
        a = self.authors.setdefault((e.tenant, e.actor), _Author())
        prior = a.activities.get(activity_id)
        if isinstance(e, PostPublished | CommentPosted | ReactionAdded):
            if prior is not None and prior.live:
                return  # published twice under two event ids: the first stands
            k = _Known(
                activity_id,
                kind,
                e.post_id,
                ms(e.occurred_at),
                pushed=not a.read_fanout,
                arrived=self.arrival[e.event_id],
            )
            a.activities[activity_id] = k  # L is this publish
            for owner in [e.actor, *(a.followers if k.pushed else ())]:
                self.put(e.tenant, owner, e.actor, k)
            return
        if prior is not None and self.reaches(e, prior):
            if not prior.live:
                return  # deleted twice: nothing changes
            told = prior.pushed
        else:
            # Not remembered: every current follower's row is taken out unless the author is
            # read-fanout (the domain no longer knows whether it was pushed).
            told = not a.read_fanout
        if prior is not None:
            prior.live = False
        for owner in [e.actor, *(a.followers if told else ())]:  # L is this delete
            self.drop(e.tenant, owner, activity_id)

    # -- derivations --

    def finish(self, machine_flags: MachineFlags) -> Expected:
        for o in self.objects.values():
            o.machine_spam = o.published and machine_flags(o.body, o.title)
        feed_rows: dict[tuple[str, str], dict[str, FeedRow]] = {}
        for (tenant, owner, activity_id), row in self.table.items():
            if row is not None:
                feed_rows.setdefault((tenant, owner), {})[activity_id] = row
        out = Expected(
            rules=self.rules,
            objects=self.objects,
            reactions=self.reactions,
            follows={k: v for k, v in self.follows.items() if v},
            feed_rows=feed_rows,
            read_fanout={k for k, a in self.authors.items() if a.read_fanout},
            inboxes=self.inboxes,
        )
        out.groups = _groups(out)
        out.contributions = _contributions(out)
        return out


def _groups(x: Expected) -> dict[GroupId, Group]:
    # contributions per group: (actor, at_ms); the object a group is about, for excerpt and post
    found: dict[GroupId, list[tuple[str, int]]] = {}
    about: dict[GroupId, Obj | None] = {}

    def add(tenant: str, recipient: str, kind: str, target: Obj, actor: str, at: int) -> None:
        key = (tenant, recipient, kind, target.kind, target.object_id)
        found.setdefault(key, []).append((actor, at))
        about[key] = target

    for src in x.objects.values():
        if not x.live(src):
            continue
        best: dict[str, tuple[str, Obj]] = {}

        def offer(
            recipient: str, kind: str, target: Obj, best: dict[str, tuple[str, Obj]] = best
        ) -> None:
            held = best.get(recipient)
            if held is None or _STRENGTH[kind] > _STRENGTH[held[0]]:
                best[recipient] = (kind, target)

        for handle in mentioned(src.title) | mentioned(src.body):
            offer(handle, "mention", src)
        if src.kind == "comment":
            post = x.objects.get((src.tenant, src.post_id, src.post_id))
            if post is not None and x.live(post):
                offer(post.author, "comment", post)
            parent = None
            if src.in_reply_to is not None:
                parent = x.objects.get((src.tenant, src.post_id, src.in_reply_to))
            if parent is not None and parent.kind == "comment" and x.live(parent):
                offer(parent.author, "reply", parent)
        for recipient, (kind, target) in best.items():
            if recipient != src.author:
                add(src.tenant, recipient, kind, target, src.author, src.created_ms)

    for (tenant, post_id, actor, object_id, _), (at, _) in x.reactions.items():
        reacted = x.objects.get((tenant, post_id, object_id))
        if reacted is not None and x.live(reacted) and reacted.author != actor:
            add(tenant, reacted.author, "reaction", reacted, actor, at)

    for (tenant, followee), followers in x.follows.items():
        for follower, since in followers.items():
            if follower != followee:
                key = (tenant, followee, "follow", "user", followee)
                found.setdefault(key, []).append((follower, since))
                about[key] = None

    groups: dict[GroupId, Group] = {}
    for key, contribs in found.items():
        latest: dict[str, int] = {}
        for actor, at in contribs:
            latest[actor] = max(at, latest.get(actor, at))
        order = sorted(latest, key=lambda a: (-latest[a], a))
        obj = about[key]
        groups[key] = Group(
            tenant=key[0],
            recipient=key[1],
            kind=key[2],
            object_kind=key[3],
            object_id=key[4],
            post_id=obj.post_id if obj is not None else "",
            actor_count=len(latest),
            latest_actors=tuple(order[:3]),
            first_ms=min(at for _, at in contribs),
            last_ms=max(at for _, at in contribs),
            excerpt=excerpt_of(obj.title, obj.body) if obj is not None else "",
        )
    return groups


def _contributions(x: Expected) -> dict[TrendId, tuple[str, int]]:
    out: dict[TrendId, tuple[str, int]] = {}
    for o in x.objects.values():
        if not x.live(o):
            continue
        dims = [("tenant", o.tenant), ("post", o.post_id)]
        dims += [("hashtag", tag) for tag in tagged(o.title) | tagged(o.body)]
        for dim, value in dims:
            out[(o.tenant, dim, value, o.kind, o.object_id)] = (o.author, o.created_ms)
    for (tenant, post_id, actor, object_id, reaction), (at, _) in x.reactions.items():
        target = x.objects.get((tenant, post_id, object_id))
        if target is not None and x.live(target):
            source = f"{actor}/{object_id}/{reaction}"
            for dim, value in (("tenant", tenant), ("post", post_id)):
                out[(tenant, dim, value, "reaction", source)] = (actor, at)
    return out


def _feed_subject(e: Event, rules: FeedRules) -> tuple[str, str] | None:
    """(kind, activity_id) of a content event that feeds of ``rules`` take, else None."""
    if isinstance(e, PostPublished | PostDeleted):
        kind, activity_id = "post", f"post/{e.post_id}"
    elif isinstance(e, CommentPosted | CommentDeleted):
        kind, activity_id = "comment", f"comment/{e.comment_id}"
    elif isinstance(e, ReactionAdded | ReactionRemoved):
        kind = "reaction"
        activity_id = f"reaction/{e.actor}/{e.object_kind}/{e.object_id}/{e.reaction}"
    else:
        return None
    return (kind, activity_id) if kind in rules.kinds else None


def _remembered_on_arrival(events: list[Event], rules: FeedRules) -> dict[str, frozenset[str]]:
    """Per feed event id: the activity ids its author's feed state remembers when it arrives.

    This is the domain's approximation, reproduced so the comparison is exact: per author the
    ``rules.remembered`` newest activities by publish time (then id), deleted ones included,
    filled as events *arrive* (log order), not in time order. So at equal ms a publish that
    arrives before a graph event may already have pushed an older activity out of reach of it
    (an activity that arrives after the event is reached exactly, whatever its time).
    """
    newest: dict[tuple[str, str], list[tuple[int, str]]] = {}
    live: dict[tuple[str, str], set[str]] = {}
    out: dict[str, frozenset[str]] = {}
    for e in events:
        if isinstance(e, Followed | Unfollowed):
            out[e.event_id] = frozenset(i for _, i in newest.get((e.tenant, e.followee), []))
            continue
        subject = _feed_subject(e, rules)
        if subject is None:
            continue
        key, activity_id = (e.tenant, e.actor), subject[1]
        mine = newest.setdefault(key, [])
        out[e.event_id] = frozenset(i for _, i in mine)
        if isinstance(e, PostPublished | CommentPosted | ReactionAdded):
            if activity_id not in live.setdefault(key, set()):
                live[key].add(activity_id)
                mine[:] = [(t, i) for t, i in mine if i != activity_id]
                mine.append((ms(e.occurred_at), activity_id))
                mine.sort(reverse=True)
                del mine[rules.remembered :]
        else:
            live.setdefault(key, set()).discard(activity_id)
    return out


def feed_order(e: Event) -> tuple[int, int]:
    """Sort key of the feeds' time order; with a stable sort, ties keep the log order."""
    return ms(e.occurred_at), 0 if isinstance(e, Followed | Unfollowed) else 1


def expect(
    events: Iterable[Event], *, machine_flags: MachineFlags, feed: FeedRules | None = None
) -> Expected:
    """The read models after ``events`` in this order (duplicate ids skipped); feeds are
    folded in ``feed_order``, so for them only the events' times and streams matter (except
    for which activities the domain's approximation remembers, see _remembered_on_arrival)."""
    rules = feed or FeedRules()
    applied: set[str] = set()
    unique: list[Event] = []
    for e in events:
        if e.event_id not in applied:
            applied.add(e.event_id)
            unique.append(e)
    fold = _Fold(rules, unique)
    for e in unique:
        fold.take(e)
    for e in sorted(unique, key=feed_order):
        fold.feed(e)
    return fold.finish(machine_flags)

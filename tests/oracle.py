"""What Hubbub's read models must hold after a list of events: an independent statement.

Written from the documented product rules (the docstrings of ``streams/domain`` and
``notes/rows.md``) and deliberately importing nothing from ``streams``: the end-to-end tests compare
the pipeline's tables with it, and ``tests/test_oracle.py`` compares it with the pure domain code.
It favours plainness over speed (a few thousand events per second).

``expect(events, machine_flags=...)`` folds the events in list order (the log order), skipping any
event whose id was seen before (a redelivery), and returns an ``Expected``:

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
    The write side: per author, activities of the configured kinds (post, comment, reaction) go to
    the author's own feed and, while the author is not read-fanout, to every current follower's; a
    new follower receives the author's kept activities (the newest ``backfill_limit`` still live:
    a delete does not bring an older one back, the state keeps only that many); an unfollow takes
    those kept activities that were pushed out of the follower's feed (older ones stay in the
    table); the author's delete or reaction removal takes the activity out of the author's feed
    and, if it was pushed (or is too old to be known and the author is not read-fanout), out of
    every current follower's. An author becomes read-fanout for good once followers exceed
    ``read_fanout_threshold``; from then on nothing new is pushed. Rows resolve by the highest
    version (the time of the event that wrote them), ties to the row written last.
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


@dataclass
class Marks:
    read_all_ms: int = 0
    group_ms: dict[str, int] = field(default_factory=dict)
    seen_ms: int = 0


@dataclass
class _Kept:
    activity_id: str
    kind: str
    post_id: str
    created_ms: int
    pushed: bool


@dataclass
class _Author:
    followers: set[str] = field(default_factory=set)
    read_fanout: bool = False
    kept: list[_Kept] = field(default_factory=list)  # newest first
    live: set[str] = field(default_factory=set)  # published and not taken back, however old


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
    def __init__(self, rules: FeedRules) -> None:
        self.rules = rules
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.reactions: dict[tuple[str, str, str, str, str], tuple[int, str]] = {}
        self.follows: dict[tuple[str, str], dict[str, int]] = {}
        self.inboxes: dict[tuple[str, str], Marks] = {}
        self.authors: dict[tuple[str, str], _Author] = {}
        # (tenant, owner, activity_id) -> (version, row or None for a tombstone)
        self.table: dict[tuple[str, str, str], tuple[int, FeedRow | None]] = {}

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
        self.feed(e, t)

    # -- feeds --

    def write(
        self, tenant: str, owner: str, activity_id: str, version: int, row: FeedRow | None
    ) -> None:
        old = self.table.get((tenant, owner, activity_id))
        if old is None or version >= old[0]:
            self.table[(tenant, owner, activity_id)] = (version, row)

    def feed(self, e: Event, t: int) -> None:
        rules = self.rules
        if isinstance(e, Followed | Unfollowed):
            a = self.authors.setdefault((e.tenant, e.followee), _Author())
            if isinstance(e, Followed) and e.actor not in a.followers:
                a.followers.add(e.actor)
                a.read_fanout = a.read_fanout or len(a.followers) > rules.read_fanout_threshold
                if not a.read_fanout:
                    for k in a.kept:
                        self.write(
                            e.tenant, e.actor, k.activity_id, t, self.row(e.actor, e.followee, k)
                        )
            elif isinstance(e, Unfollowed) and e.actor in a.followers:
                a.followers.discard(e.actor)
                for k in a.kept:
                    if k.pushed:
                        self.write(e.tenant, e.actor, k.activity_id, t, None)
            return
        if isinstance(e, PostPublished | PostDeleted):
            kind, activity_id = "post", f"post/{e.post_id}"
        elif isinstance(e, CommentPosted | CommentDeleted):
            kind, activity_id = "comment", f"comment/{e.comment_id}"
        elif isinstance(e, ReactionAdded | ReactionRemoved):
            kind = "reaction"
            activity_id = f"reaction/{e.actor}/{e.object_kind}/{e.object_id}/{e.reaction}"
        else:
            return
        if kind not in rules.kinds:
            return
        a = self.authors.setdefault((e.tenant, e.actor), _Author())
        created = isinstance(e, PostPublished | CommentPosted | ReactionAdded)
        known = next((k for k in a.kept if k.activity_id == activity_id), None)
        if created:
            if activity_id in a.live:
                return  # published twice under two event ids: the first stands
            a.live.add(activity_id)
            k = _Kept(activity_id, kind, e.post_id, t, pushed=not a.read_fanout)
            for owner in [e.actor, *(a.followers if k.pushed else ())]:
                self.write(e.tenant, owner, activity_id, t, self.row(owner, e.actor, k))
            a.kept.append(k)
            a.kept.sort(key=lambda x: (x.created_ms, x.activity_id), reverse=True)
            del a.kept[rules.backfill_limit :]
        else:
            a.live.discard(activity_id)
            if known is not None:
                a.kept.remove(known)
            pushed = known.pushed if known is not None else not a.read_fanout
            for owner in [e.actor, *(a.followers if pushed else ())]:
                self.write(e.tenant, owner, activity_id, t, None)

    @staticmethod
    def row(owner: str, author: str, k: _Kept) -> FeedRow:
        return FeedRow(owner, k.activity_id, k.kind, author, k.post_id, k.created_ms)

    # -- derivations --

    def finish(self, machine_flags: MachineFlags) -> Expected:
        for o in self.objects.values():
            o.machine_spam = o.published and machine_flags(o.body, o.title)
        feed_rows: dict[tuple[str, str], dict[str, FeedRow]] = {}
        for (tenant, owner, activity_id), (_, row) in self.table.items():
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


def expect(
    events: Iterable[Event], *, machine_flags: MachineFlags, feed: FeedRules | None = None
) -> Expected:
    """The read models after ``events`` in this order (duplicate ids skipped)."""
    fold = _Fold(feed or FeedRules())
    applied: set[str] = set()
    for e in events:
        if e.event_id not in applied:
            applied.add(e.event_id)
            fold.take(e)
    return fold.finish(machine_flags)

"""The oracle against hand-worked cases, and against the pure domain code on generated workloads.

The domain side is run the way the processors are meant to run it, with dicts for sinks: every
content event folds into its ``ThreadState``, the machine scorer judges what changed
(``machine_verdict_for``), and the groups and trend contributions the thread now implies are
diffed into the sink; graph events fold into ``FollowerState`` (follow groups) and into the
followee's ``AuthorState``; content events into their actor's ``AuthorState``; inbox events into
``InboxState``. The feed sink keeps the row of highest version (ties: the last written).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from producers.generator import Community, Ratios
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
from streams.domain import feedpage, feeds, follows, inbox, notifications, spam, threads, trends
from tests.oracle import Expected, FeedRules, MachineFlags, expect, mentioned, tagged

T0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
TENANT = "acme"


def real_flags(text: str, title: str) -> bool:
    return spam.is_spam(spam.score(text, title=title))


def fake_flags(text: str, title: str) -> bool:
    return "SPAM" in text


# -- the domain code, run as the processors run it -------------------------------------------------


@dataclass
class Pipeline:
    config: feeds.FeedConfig
    flags: MachineFlags = real_flags
    threads: dict[tuple[str, str], threads.ThreadState] = field(default_factory=dict)
    thread_groups: dict[
        tuple[str, str], dict[notifications.GroupKey, notifications.NotificationGroup]
    ] = field(default_factory=dict)
    thread_trends: dict[tuple[str, str], list[trends.TrendContribution]] = field(
        default_factory=dict
    )
    followers: dict[tuple[str, str], follows.FollowerState] = field(default_factory=dict)
    authors: dict[tuple[str, str], feeds.AuthorState] = field(default_factory=dict)
    inboxes: dict[tuple[str, str], inbox.InboxState] = field(default_factory=dict)
    groups: dict[tuple[str, notifications.GroupKey], notifications.NotificationGroup] = field(
        default_factory=dict
    )
    contributions: dict[tuple[str, str, str, str, str], trends.TrendContribution] = field(
        default_factory=dict
    )
    feed: dict[tuple[str, str, str], feeds.FeedChange] = field(default_factory=dict)

    def run(self, events: list[Event]) -> Pipeline:
        for e in events:
            self.apply(e)
        return self

    def apply(self, e: Event) -> None:
        if e.topic == "content":
            self._content(e)
        elif isinstance(e, Followed | Unfollowed):
            key = (e.tenant, e.followee)
            state = self.followers.setdefault(key, follows.FollowerState(*key))
            before = follows.follow_groups(state)
            if state.apply(e):
                self._sink_groups(
                    e.tenant,
                    notifications.diff_groups(
                        before, follows.follow_groups(state), version=state.seq
                    ),
                )
        elif isinstance(e, NotificationsRead | NotificationsSeen):
            key = (e.tenant, e.actor)
            self.inboxes.setdefault(key, inbox.InboxState(*key)).apply(e)
        self._feed(e)

    def _content(self, e: Event) -> None:
        key = (e.tenant, e.post_id)  # type: ignore[attr-defined]
        thread = self.threads.setdefault(key, threads.ThreadState(*key))
        if not thread.apply(e):
            return
        for obj in list(thread.objects.values()):
            verdict = self._machine(obj, key, thread.seq)
            if verdict is not None:
                thread.apply(verdict)
        new_groups = notifications.derive_groups(thread)
        changes = notifications.diff_groups(
            self.thread_groups.get(key, {}), new_groups, version=thread.seq
        )
        self.thread_groups[key] = new_groups
        self._sink_groups(e.tenant, changes)
        new_trends = trends.contributions(thread)
        for change in trends.diff_contributions(
            self.thread_trends.get(key, []), new_trends, version=thread.seq
        ):
            c = change.contribution
            if change.is_deleted:
                self.contributions.pop(c.key, None)
            else:
                self.contributions[c.key] = c
        self.thread_trends[key] = new_trends

    def _machine(
        self, obj: threads.ThreadObject, key: tuple[str, str], seq: int
    ) -> ModerationVerdict | None:
        if self.flags is real_flags:
            return spam.machine_verdict_for(obj, tenant=key[0], post_id=key[1], revision=seq)
        # A stand-in machine with the same contract: say spam once, take it back after an edit.
        if not obj.published or obj.deleted:
            return None
        flagged = self.flags(obj.body, obj.title)
        if flagged == (obj.machine_verdict == "spam"):
            return None
        return ModerationVerdict(
            event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}/{obj.object_id}/{seq}")),
            occurred_at=datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=obj.created_ms),
            tenant=key[0],
            actor="machine",
            post_id=key[1],
            object_id=obj.object_id,
            object_kind=obj.kind,
            verdict="spam" if flagged else "ham",
            source="machine",
            score=1.0 if flagged else 0.0,
        )

    def _sink_groups(self, tenant: str, changes: list[notifications.GroupChange]) -> None:
        for change in changes:
            if change.is_deleted:
                self.groups.pop((tenant, change.group.key), None)
            else:
                self.groups[(tenant, change.group.key)] = change.group

    def _feed(self, e: Event) -> None:
        if isinstance(e, Followed | Unfollowed):
            owner = e.followee
        elif isinstance(
            e,
            PostPublished
            | PostDeleted
            | CommentPosted
            | CommentDeleted
            | ReactionAdded
            | ReactionRemoved,
        ):
            owner = e.actor
        else:
            return
        state = self.authors.setdefault((e.tenant, owner), feeds.AuthorState(e.tenant, owner))
        for row in feeds.apply(state, e, self.config):
            key = (row.tenant, row.owner, row.activity_id)
            old = self.feed.get(key)
            if old is None or row.version >= old.version:
                self.feed[key] = row

    # -- reading --

    def group_view(self) -> dict[tuple[str, str, str, str, str], tuple[object, ...]]:
        return {
            (t, k.recipient, k.kind, k.object_kind, k.object_id): (
                g.post_id,
                g.actor_count,
                g.latest_actors,
                g.first_ms,
                g.last_ms,
                g.excerpt,
            )
            for (t, k), g in self.groups.items()
        }

    def counts(self, tenant: str, user: str) -> tuple[int, int]:
        mine = [g for (t, _), g in self.groups.items() if t == tenant]
        state = self.inboxes.get((tenant, user), inbox.InboxState(tenant, user))
        return inbox.unread_count(mine, state), inbox.unseen_count(mine, state)

    def live_rows(self) -> dict[tuple[str, str, str], tuple[object, ...]]:
        return {
            k: (r.kind, r.author, r.post_id, r.created_ms)
            for k, r in self.feed.items()
            if not r.is_deleted
        }

    def home_feed(self, tenant: str, viewer: str) -> list[str]:
        def entry(r: feeds.FeedChange) -> feedpage.FeedEntry:
            return feedpage.FeedEntry(
                activity_id=r.activity_id,
                kind=r.kind,
                author=r.author,
                post_id=r.post_id,
                created_ms=r.created_ms,
            )

        pushed = [
            entry(r)
            for r in self.feed.values()
            if r.tenant == tenant and r.owner == viewer and not r.is_deleted
        ]
        pulled = []
        for (t, author), state in self.authors.items():
            followed = self.followers.get((t, author))
            if (
                t == tenant
                and state.read_fanout
                and followed is not None
                and viewer in followed.followers
            ):
                pulled += [
                    entry(r)
                    for r in self.feed.values()
                    if (r.tenant, r.owner, r.author) == (t, author, author)
                    and not r.is_deleted
                    and r.kind in self.config.kinds
                ]
        page = feedpage.merge_feed_page(pushed, pulled, limit=10**9)
        return [e.activity_id for e in page.entries if self._visible(tenant, viewer, e)]

    def _visible(self, tenant: str, viewer: str, entry: feedpage.FeedEntry) -> bool:
        _, object_id = feeds.activity_target(entry.activity_id)
        thread = self.threads.get((tenant, entry.post_id))
        obj = thread.objects.get(object_id) if thread else None
        if thread is None or obj is None or not obj.published:
            return False
        post = thread.post
        deleted = obj.deleted or (post is not None and post.deleted)
        spammy = obj.spam or (post is not None and post.spam)
        return feedpage.is_visible(entry, viewer=viewer, deleted=deleted, spam=spammy)


def oracle_view(x: Expected) -> dict[tuple[str, str, str, str, str], tuple[object, ...]]:
    return {
        k: (g.post_id, g.actor_count, g.latest_actors, g.first_ms, g.last_ms, g.excerpt)
        for k, g in x.groups.items()
    }


def compare(
    events: list[Event], rules: FeedRules, *, flags: MachineFlags = real_flags
) -> tuple[Expected, Pipeline]:
    """Run both sides and assert they agree on every read model."""
    config = feeds.FeedConfig(
        kinds=rules.kinds,
        backfill_limit=rules.backfill_limit,
        read_fanout_threshold=rules.read_fanout_threshold,
        recent_limit=rules.recent_limit,
    )
    ours = expect(events, machine_flags=flags, feed=rules)
    theirs = Pipeline(config, flags).run(events)
    assert oracle_view(ours) == theirs.group_view()
    assert {k: (c.actor, c.at_ms) for k, c in theirs.contributions.items()} == ours.contributions
    ours_rows = {
        (t, o, a): (r.kind, r.author, r.post_id, r.created_ms)
        for (t, o), rows in ours.feed_rows.items()
        for a, r in rows.items()
    }
    assert ours_rows == theirs.live_rows()
    assert ours.read_fanout == {k for k, s in theirs.authors.items() if s.read_fanout}
    users = {e.actor for e in events} | {getattr(e, "followee", e.actor) for e in events}
    tenants = {e.tenant for e in events}
    for tenant in tenants:
        for user in sorted(users):
            assert (
                ours.unread_count(tenant, user),
                ours.unseen_count(tenant, user),
            ) == theirs.counts(tenant, user), user
            assert ours.home_feed(tenant, user) == theirs.home_feed(tenant, user), user
    return ours, theirs


# -- generated workloads ---------------------------------------------------------------------------

BUSY = Ratios(
    delete=0.05,
    unfollow=0.05,
    verdict=0.04,
    unreaction=0.08,
    edit=0.06,
    duplicate=0.05,
    mention=0.5,
)


@pytest.mark.parametrize(
    ("seed", "rules", "ratios"),
    [
        (1, FeedRules(), Ratios()),
        (
            2,
            FeedRules(
                kinds=frozenset({"post", "comment", "reaction"}),
                backfill_limit=3,
                read_fanout_threshold=6,
            ),
            BUSY,
        ),
        (
            3,
            FeedRules(
                kinds=frozenset({"post", "comment"}), backfill_limit=5, read_fanout_threshold=12
            ),
            BUSY,
        ),
        (
            4,
            FeedRules(
                kinds=frozenset({"post", "reaction"}), backfill_limit=2, read_fanout_threshold=4
            ),
            Ratios(),
        ),
    ],
)
def test_oracle_agrees_with_domain_on_generated_workloads(
    seed: int, rules: FeedRules, ratios: Ratios
) -> None:
    community = Community(seed, tenant=TENANT, users=30, spammers=2, avg_follows=4.0, ratios=ratios)
    events = list(community.events(2500, start_at=T0, rate_per_s=2.0))
    ours, theirs = compare(events, rules)
    # the workload exercised what it is meant to: withdrawals, hidden threads, read-fanout
    kinds = {k[2] for k in ours.groups}
    assert kinds == {"comment", "reply", "mention", "reaction", "follow"}
    assert any(o.person == "ham" and o.machine_spam for o in ours.objects.values())
    assert any(o.spam for o in ours.objects.values() if o.kind == "post")
    assert any(o.deleted for o in ours.objects.values() if o.kind == "post")
    if rules.read_fanout_threshold < 100:
        assert ours.read_fanout


def test_oracle_agrees_at_high_rates_with_equal_timestamps() -> None:
    community = Community(9, tenant=TENANT, users=25, spammers=1, avg_follows=3.0, ratios=BUSY)
    events = list(community.events(2000, start_at=T0, rate_per_s=5000.0))
    assert len({e.occurred_at for e in events}) < len(events) * 0.7  # many ties
    compare(
        events,
        FeedRules(
            kinds=frozenset({"post", "comment", "reaction"}),
            backfill_limit=4,
            read_fanout_threshold=8,
        ),
    )


# -- hand-worked cases -----------------------------------------------------------------------------

_n = iter(range(1, 10**6))


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def ms_at(minute: float) -> int:
    return int((at(minute) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)


def eid() -> str:
    return f"00000000-0000-4000-8000-{next(_n):012d}"


def post(actor: str, pid: str, m: float, body: str = "hello", title: str = "") -> PostPublished:
    return PostPublished(
        event_id=eid(),
        occurred_at=at(m),
        tenant=TENANT,
        actor=actor,
        post_id=pid,
        body=body,
        title=title,
    )


def comment(
    actor: str, pid: str, cid: str, m: float, body: str = "nice", reply: str | None = None
) -> CommentPosted:
    return CommentPosted(
        event_id=eid(),
        occurred_at=at(m),
        tenant=TENANT,
        actor=actor,
        post_id=pid,
        comment_id=cid,
        body=body,
        in_reply_to=reply,
    )


def react(
    actor: str, pid: str, oid: str, m: float, *, remove: bool = False, token: str = "like"
) -> Event:
    cls = ReactionRemoved if remove else ReactionAdded
    kind = "post" if oid == pid else "comment"
    return cls(
        event_id=eid(),
        occurred_at=at(m),
        tenant=TENANT,
        actor=actor,
        post_id=pid,
        object_id=oid,
        object_kind=kind,
        reaction=token,
    )


def follow(actor: str, followee: str, m: float, *, undo: bool = False) -> Event:
    cls = Unfollowed if undo else Followed
    return cls(event_id=eid(), occurred_at=at(m), tenant=TENANT, actor=actor, followee=followee)


def verdict(pid: str, oid: str, m: float, v: str) -> ModerationVerdict:
    kind = "post" if oid == pid else "comment"
    return ModerationVerdict(
        event_id=eid(),
        occurred_at=at(m),
        tenant=TENANT,
        actor="mod",
        post_id=pid,
        object_id=oid,
        object_kind=kind,
        verdict=v,
        source="person",
        score=1.0 if v == "spam" else 0.0,
    )


def test_text_parsers_follow_the_documented_rules() -> None:
    assert mentioned("hi @ana, cc @ben. and @cat- but not bob@x.org nor @@dan nor @evé") == {
        "ana",
        "ben",
        "cat",
    }
    assert mentioned("@" + "a" * 64) == {"a" * 64}
    assert mentioned("@" + "a" * 65) == set()
    assert tagged("#Launch and #launch, page#x, &#39; ##no #café #ok_2") == {"launch", "ok_2"}


def test_notification_precedence_self_exclusion_and_withdrawal() -> None:
    events = [
        post("olga", "p1", 0, title="Launch day"),
        comment("ben", "p1", "c1", 1, body="first"),
        # olga replies to ben's c1, mentioning ben (reply wins) and herself (never told)
        comment("olga", "p1", "c2", 2, body="thanks @ben and @olga", reply="c1"),
        comment("ana", "p1", "c3", 3, body="me too @olga", reply="c1"),
        react("ana", "p1", "p1", 4),
        react("olga", "p1", "p1", 5),  # own post: nobody told
        react("cy", "p1", "c1", 6),
        react("cy", "p1", "c1", 7, remove=True),
    ]
    x = expect(events, machine_flags=fake_flags)
    g = {
        k[1:]: (v.actor_count, v.latest_actors, v.first_ms, v.last_ms, v.excerpt)
        for k, v in x.groups.items()
    }
    assert g == {
        ("olga", "comment", "post", "p1"): (2, ("ana", "ben"), ms_at(1), ms_at(3), "Launch day"),
        ("ben", "reply", "comment", "c1"): (2, ("ana", "olga"), ms_at(2), ms_at(3), "first"),
        ("olga", "reaction", "post", "p1"): (1, ("ana",), ms_at(4), ms_at(4), "Launch day"),
    }
    # deleting c1 withdraws the replies to it; ana's comment still tells the post author
    x = expect(
        [
            *events,
            CommentDeleted(
                event_id=eid(),
                occurred_at=at(8),
                tenant=TENANT,
                actor="ben",
                post_id="p1",
                comment_id="c1",
            ),
        ],
        machine_flags=fake_flags,
    )
    assert {k[1:3]: v.actor_count for k, v in x.groups.items()} == {
        ("olga", "comment"): 1,  # c3 by ana; c2 is olga's own comment on her post
        ("olga", "reaction"): 1,
        ("ben", "mention"): 1,  # c2 mentions ben; its reply went with c1
    }


def test_person_verdicts_override_the_machine_and_spam_posts_hide_their_thread() -> None:
    events = [
        post("olga", "p1", 0, body="SPAM buy"),
        comment("ben", "p1", "c1", 1),
        react("ana", "p1", "c1", 2),
    ]
    assert expect(events, machine_flags=fake_flags).groups == {}
    x = expect([*events, verdict("p1", "p1", 3, "ham")], machine_flags=fake_flags)
    assert sorted(k[2] for k in x.groups) == ["comment", "reaction"]
    x = expect(
        [*events, verdict("p1", "p1", 3, "ham"), verdict("p1", "c1", 4, "spam")],
        machine_flags=fake_flags,
    )
    assert sorted(k[2] for k in x.groups) == []
    assert x.contributions == {
        (TENANT, d, v, "post", "p1"): ("olga", ms_at(0))
        for d, v in (("tenant", TENANT), ("post", "p1"))
    }


def test_unread_and_unseen_counts_use_the_latest_marks() -> None:
    events = [
        post("olga", "p1", 0),
        comment("ben", "p1", "c1", 1),
        follow("ben", "olga", 2),
        NotificationsRead(
            event_id=eid(), occurred_at=at(3), tenant=TENANT, actor="olga", up_to_at=at(1.5)
        ),
        NotificationsRead(
            event_id=eid(), occurred_at=at(4), tenant=TENANT, actor="olga", up_to_at=at(0.5)
        ),  # never back
        NotificationsSeen(
            event_id=eid(), occurred_at=at(5), tenant=TENANT, actor="olga", up_to_at=at(9)
        ),
    ]
    x = expect(events, machine_flags=fake_flags)
    assert (x.unread_count(TENANT, "olga"), x.unseen_count(TENANT, "olga")) == (1, 0)
    keyed = NotificationsRead(
        event_id=eid(),
        occurred_at=at(6),
        tenant=TENANT,
        actor="olga",
        up_to_at=at(6),
        group_keys=("follow:user:olga",),
    )
    x = expect([*events, keyed], machine_flags=fake_flags)
    assert x.unread_count(TENANT, "olga") == 0


def test_feed_backfill_unfollow_and_deletes() -> None:
    rules = FeedRules(kinds=frozenset({"post"}), backfill_limit=2)
    events = [
        post("olga", "p1", 0),
        post("olga", "p2", 1),
        post("olga", "p3", 2),
        PostDeleted(event_id=eid(), occurred_at=at(3), tenant=TENANT, actor="olga", post_id="p3"),
        # the 2 newest live just before the follow: p3's delete lets p1 back into the window
        follow("ben", "olga", 4),
        post("olga", "p4", 5),
        post("ben", "b1", 6),
    ]
    x = expect(events, machine_flags=fake_flags, feed=rules)
    assert x.home_feed(TENANT, "ben") == ["post/b1", "post/p4", "post/p2", "post/p1"]
    assert x.home_feed(TENANT, "olga") == ["post/p4", "post/p2", "post/p1"]
    more = [*events, post("olga", "p5", 7), post("olga", "p6", 8)]
    gone = [*more, follow("ben", "olga", 9, undo=True)]
    x = expect(gone, machine_flags=fake_flags, feed=rules)
    # the remembered 4 newest (p6, p5, p4 and the deleted p3) leave ben's feed; p2 and p1, no
    # longer remembered, stay in the table and only a reader that filters by follows drops them
    assert x.home_feed(TENANT, "ben") == ["post/b1", "post/p2", "post/p1"]
    assert x.home_feed(TENANT, "ben", only_followed=True) == ["post/b1"]
    compare(more, rules, flags=fake_flags)
    compare(gone, rules, flags=fake_flags)
    # remembering more, the unfollow reaches p2 and p1 as well
    wide = FeedRules(kinds=frozenset({"post"}), backfill_limit=2, recent_limit=6)
    assert expect(gone, machine_flags=fake_flags, feed=wide).home_feed(TENANT, "ben") == ["post/b1"]
    compare(gone, wide, flags=fake_flags)


def test_what_an_unfollow_reaches_depends_on_the_log_order_at_equal_times() -> None:
    # The domain's approximation (see tests/oracle.py, Feeds): remembering 2 activities, p3
    # logged before the unfollow of the same ms pushes p1 out of its reach; logged after, not.
    rules = FeedRules(backfill_limit=1)
    events = [follow("ben", "olga", 0), post("olga", "p1", 1), post("olga", "p2", 2)]
    p3, unfollow = post("olga", "p3", 3), follow("ben", "olga", 3, undo=True)
    x = expect([*events, p3, unfollow], machine_flags=fake_flags, feed=rules)
    assert x.home_feed(TENANT, "ben") == ["post/p1"]
    x = expect([*events, unfollow, p3], machine_flags=fake_flags, feed=rules)
    assert x.home_feed(TENANT, "ben") == []
    compare([*events, p3, unfollow], rules, flags=fake_flags)
    compare([*events, unfollow, p3], rules, flags=fake_flags)


def test_read_fanout_authors_are_pulled() -> None:
    rules = FeedRules(read_fanout_threshold=1)
    events = [
        post("olga", "p1", 0),
        follow("ben", "olga", 1),
        follow("cy", "olga", 2),
        post("olga", "p2", 3),
    ]
    x = expect(events, machine_flags=fake_flags, feed=rules)
    assert x.read_fanout == {(TENANT, "olga")}
    assert "post/p2" not in x.feed_rows[(TENANT, "ben")]
    assert x.home_feed(TENANT, "ben") == x.home_feed(TENANT, "cy") == ["post/p2", "post/p1"]
    compare(events, rules, flags=fake_flags)


def test_spam_is_shown_to_its_author_only() -> None:
    events = [post("olga", "p1", 0, body="SPAM"), follow("ben", "olga", 1)]
    x = expect(events, machine_flags=fake_flags)
    assert x.home_feed(TENANT, "olga") == ["post/p1"]
    assert x.home_feed(TENANT, "ben") == []
    compare(events, FeedRules(), flags=fake_flags)


def test_duplicates_and_edits() -> None:
    p = post("olga", "p1", 0, body="plain")
    edit = PostEdited(
        event_id=eid(),
        occurred_at=at(1),
        tenant=TENANT,
        actor="olga",
        post_id="p1",
        body="now SPAM @ben #Tag",
    )
    c = comment("ben", "p1", "c1", 2)
    early_edit = CommentEdited(
        event_id=eid(),
        occurred_at=at(1),
        tenant=TENANT,
        actor="ben",
        post_id="p1",
        comment_id="c9",
        body="x",
    )
    x = expect([p, p, early_edit, c, c, edit, edit], machine_flags=lambda text, title: False)
    assert {k[1:3] for k in x.groups} == {("olga", "comment"), ("ben", "mention")}
    assert x.groups[(TENANT, "ben", "mention", "post", "p1")].first_ms == ms_at(0)  # creation time
    assert (TENANT, "hashtag", "tag", "post", "p1") in x.contributions
    assert (TENANT, "p1", "c9") not in x.objects
    assert expect([p, edit, c], machine_flags=fake_flags).groups == {}


def test_reacting_again_keeps_the_first_time_and_removal_resets_it() -> None:
    events = [post("olga", "p1", 0), react("ana", "p1", "p1", 1), react("ana", "p1", "p1", 2)]
    x = expect(events, machine_flags=fake_flags)
    assert x.groups[(TENANT, "olga", "reaction", "post", "p1")].last_ms == ms_at(1)
    assert x.contributions[(TENANT, "post", "p1", "reaction", "ana/p1/like")] == ("ana", ms_at(1))
    again = [*events, react("ana", "p1", "p1", 3, remove=True), react("ana", "p1", "p1", 4)]
    x = expect(again, machine_flags=fake_flags)
    assert x.groups[(TENANT, "olga", "reaction", "post", "p1")].last_ms == ms_at(4)
    compare(again, FeedRules(kinds=frozenset({"post", "reaction"})), flags=fake_flags)


def test_a_post_published_twice_stands_as_first_published() -> None:
    # A client retry under a fresh event id: the first one stands however old the post is. Here
    # p1 is no longer among the remembered newest (1 with recent_limit=1: p2 pushed it out); the
    # domain still knows it is live (``AuthorState.published``), so nothing is pushed again.
    events = [follow("ben", "olga", 0), post("olga", "p1", 1), post("olga", "p2", 2)]
    again = [*events, post("olga", "p1", 3)]
    rules = FeedRules(backfill_limit=1, recent_limit=1)
    x = expect(again, machine_flags=fake_flags, feed=rules)
    assert x.home_feed(TENANT, "ben") == ["post/p2", "post/p1"]
    assert x.feed_rows[(TENANT, "ben")]["post/p1"].created_ms == ms_at(1)
    compare(again, rules, flags=fake_flags)
    compare(again, FeedRules(backfill_limit=5), flags=fake_flags)


def test_feeds_follow_time_not_the_interleaving_of_the_streams() -> None:
    rules = FeedRules(kinds=frozenset({"post"}), backfill_limit=2)
    events = [
        post("olga", "p1", 0),
        post("olga", "p2", 1),
        PostDeleted(event_id=eid(), occurred_at=at(2), tenant=TENANT, actor="olga", post_id="p2"),
        follow("ben", "olga", 3),  # window: p1 (p2 is deleted)
        post("olga", "p3", 4),  # pushed: ben follows
        follow("ben", "olga", 5, undo=True),
        post("olga", "p4", 6),  # not pushed
        # same ms: graph before content, so cy follows before p5 and dan unfollows before p5
        post("olga", "p5", 7),
        follow("cy", "olga", 7),
        follow("dan", "olga", 6.5),
        follow("dan", "olga", 7, undo=True),
    ]
    graph = [e for e in events if e.topic == "graph"]
    content = [e for e in events if e.topic == "content"]
    for order in (events, graph + content, content + graph):
        x = expect(order, machine_flags=fake_flags, feed=rules)
        assert x.home_feed(TENANT, "ben") == []
        # cy's follow at minute 7 backfills p4 and p3 (p5 comes after it) and p5 is pushed
        assert x.home_feed(TENANT, "cy") == ["post/p5", "post/p4", "post/p3"]
        assert x.home_feed(TENANT, "dan") == []
        compare(order, rules, flags=fake_flags)

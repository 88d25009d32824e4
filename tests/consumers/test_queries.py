"""The read side on hand-made rows in a real ClickHouse: exact pages, inboxes, trends."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from consumers.queries import (
    FeedItem,
    ModerationState,
    TrendCount,
    TrendingItem,
    feed_page,
    moderation,
    notifications,
    render,
    trend_counts,
    trending,
    unread_counts,
)
from infra.clickhouse import ClickHouse
from streams.domain import notifications as domain_notifications
from streams.domain import trends as domain_trends
from tests.consumers.conftest import put

pytestmark = pytest.mark.integration


def feed(
    owner: str,
    activity_id: str,
    author: str,
    post_id: str,
    created_ms: int,
    *,
    version: int | None = None,
    is_deleted: int = 0,
    tenant: str = "t",
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "owner": owner,
        "activity_id": activity_id,
        "kind": activity_id.split("/")[0],
        "author": author,
        "post_id": post_id,
        "created_ms": created_ms,
        "version": created_ms if version is None else version,
        "is_deleted": is_deleted,
    }


def content(
    object_id: str,
    author: str,
    *,
    post_id: str | None = None,
    title: str = "",
    body: str = "text",
    deleted: int = 0,
    spam: int = 0,
    version: int = 1,
    edited_ms: int = 0,
) -> dict[str, Any]:
    return {
        "tenant": "t",
        "post_id": post_id or object_id,
        "object_id": object_id,
        "kind": "post" if post_id is None else "comment",
        "author": author,
        "title": title,
        "body": body,
        "in_reply_to": "",
        "created_ms": 100,
        "edited_ms": edited_ms,
        "deleted": deleted,
        "spam": spam,
        "machine_verdict": "spam" if spam else "",
        "person_verdict": "",
        "version": version,
    }


def follow(
    follower: str, followee: str, *, version: int = 1, is_deleted: int = 0
) -> dict[str, Any]:
    return {
        "tenant": "t",
        "follower": follower,
        "followee": followee,
        "since_ms": 50,
        "version": version,
        "is_deleted": is_deleted,
    }


def author(name: str, read_fanout: int, *, version: int = 1) -> dict[str, Any]:
    return {
        "tenant": "t",
        "author": name,
        "read_fanout": read_fanout,
        "follower_count": 3,
        "version": version,
    }


@pytest.fixture
def feeds(ch: ClickHouse) -> ClickHouse:
    """Viewer v follows a (pushes), b (read-fanout: pulled) and once followed c."""
    put(ch, "follows_state", [follow("v", "a"), follow("v", "b"), follow("v", "c")])
    put(ch, "follows_state", [follow("v", "c", version=2, is_deleted=1)])
    put(ch, "author_state", [author("a", 0), author("b", 0), author("c", 0)])
    put(ch, "author_state", [author("b", 1, version=2)])
    put(
        ch,
        "feed_items",
        [
            feed("v", "post/p0", "a", "p0", 1000),
            feed("v", "post/p1", "a", "p1", 1000),
            feed("v", "post/p2", "a", "p2", 2000),  # its post is deleted
            feed("v", "comment/c1", "a", "p3", 3000),  # on a spam post of x: thread hidden
            feed("v", "reaction/a/post/p1/like", "a", "p1", 4000),
            feed("v", "post/p4", "a", "p4", 4500),
            feed("v", "post/p5", "c", "p5", 5000),  # c is no longer followed
            feed("v", "post/p6", "v", "p6", 6000),  # v's own, judged spam: v still sees it
            feed("v", "post/p7", "b", "p7", 7000),  # pushed before b turned read-fanout
            feed("v", "post/p9", "a", "p9", 9000),  # no content state yet
            feed("b", "post/p7", "b", "p7", 7000),
            feed("b", "post/p8", "b", "p8", 8000),
            feed("b", "post/pz", "z", "pz", 7500),  # z's post in b's feed: not b's own
            feed("w", "post/pw", "a", "pw", 9500),  # another owner
            feed("v", "post/px", "a", "px", 9600, tenant="other"),
        ],
    )
    put(ch, "feed_items", [feed("v", "post/p4", "a", "p4", 0, version=4600, is_deleted=1)])
    put(
        ch,
        "content_state",
        [
            content("p0", "a"),
            content("p1", "a", title="One"),
            content("p2", "a", deleted=1),
            content("p3", "x", spam=1),
            content("c1", "a", post_id="p3"),
            content("p4", "a"),
            content("p5", "c"),
            content("p6", "v", spam=1),
            content("p7", "b"),
            content("p8", "b", title="Old"),
            content("pz", "z"),
            content("pw", "a"),
        ],
    )
    put(ch, "content_state", [content("p8", "b", title="New", version=2, edited_ms=8500)])
    return ch


def _ids(items: tuple[FeedItem, ...]) -> list[str]:
    return [i.activity_id for i in items]


def test_a_feed_page_merges_pushed_and_pulled_rows_and_hides_what_it_must(
    feeds: ClickHouse,
) -> None:
    page = feed_page(feeds, tenant="t", viewer="v", limit=10)
    assert _ids(page.items) == [
        "post/p8",
        "post/p7",
        "post/p6",
        "reaction/a/post/p1/like",
        "post/p1",
        "post/p0",
    ]
    assert (page.next_before_ms, page.next_before_id) == (None, None)
    assert page.items[0] == FeedItem(
        activity_id="post/p8",
        kind="post",
        author="b",
        post_id="p8",
        created_ms=8000,
        object_kind="post",
        object_id="p8",
        object_author="b",
        title="New",
        body="text",
        edited_ms=8500,
    )
    reaction = page.items[3]
    assert (reaction.object_kind, reaction.object_id, reaction.title) == ("post", "p1", "One")


def test_feed_pages_follow_the_keyset_cursor_and_end_exactly(feeds: ClickHouse) -> None:
    first = feed_page(feeds, tenant="t", viewer="v", limit=2)
    assert _ids(first.items) == ["post/p8", "post/p7"]
    assert (first.next_before_ms, first.next_before_id) == (7000, "post/p7")
    second = feed_page(feeds, tenant="t", viewer="v", limit=2, before_ms=7000, before_id="post/p7")
    assert _ids(second.items) == ["post/p6", "reaction/a/post/p1/like"]
    third = feed_page(
        feeds,
        tenant="t",
        viewer="v",
        limit=2,
        before_ms=second.next_before_ms,
        before_id=second.next_before_id,
    )
    assert _ids(third.items) == ["post/p1", "post/p0"]  # equal times: ids descending
    assert (third.next_before_ms, third.next_before_id) == (None, None)
    by_time = feed_page(feeds, tenant="t", viewer="v", limit=10, before_ms=4000)
    assert _ids(by_time.items) == ["post/p1", "post/p0"]


def test_a_feed_page_by_one_walks_the_whole_feed(feeds: ClickHouse) -> None:
    walked: list[str] = []
    cursor: tuple[int | None, str | None] = (None, None)
    while True:
        page = feed_page(
            feeds, tenant="t", viewer="v", limit=1, before_ms=cursor[0], before_id=cursor[1]
        )
        walked += _ids(page.items)
        if page.next_before_ms is None:
            break
        cursor = (page.next_before_ms, page.next_before_id)
    assert walked == _ids(feed_page(feeds, tenant="t", viewer="v", limit=50).items)


def test_options_of_the_feed_page(feeds: ClickHouse) -> None:
    kept = feed_page(feeds, tenant="t", viewer="v", limit=10, keep_unfollowed=True)
    assert "post/p5" in _ids(kept.items)
    posts_only = feed_page(feeds, tenant="t", viewer="v", limit=10, kinds=("post",))
    assert "reaction/a/post/p1/like" not in _ids(posts_only.items)
    # x sees nothing of v's feed, and the spam post p6 only to its author
    assert feed_page(feeds, tenant="t", viewer="x", limit=10).items == ()
    with pytest.raises(ValueError, match="limit"):
        feed_page(feeds, tenant="t", viewer="v", limit=0)
    with pytest.raises(ValueError, match="before_ms"):
        feed_page(feeds, tenant="t", viewer="v", before_id="post/p1")
    with pytest.raises(ValueError, match="kinds"):
        feed_page(feeds, tenant="t", viewer="v", kinds=("story",))


def test_hidden_candidates_beyond_the_first_chunk_do_not_shorten_a_page(ch: ClickHouse) -> None:
    # 100 newer posts of a deleted thread bury the three visible ones: the reader must read on.
    put(ch, "follows_state", [follow("v", "a")])
    put(
        ch,
        "feed_items",
        [feed("v", f"post/h{i:03d}", "a", f"h{i:03d}", 10_000 + i) for i in range(100)],
    )
    put(ch, "feed_items", [feed("v", f"post/s{i}", "a", f"s{i}", 1000 + i) for i in range(3)])
    put(
        ch,
        "content_state",
        [content(f"h{i:03d}", "a", deleted=1) for i in range(100)]
        + [content(f"s{i}", "a") for i in range(3)],
    )
    page = feed_page(ch, tenant="t", viewer="v", limit=2)
    assert _ids(page.items) == ["post/s2", "post/s1"]
    assert (page.next_before_ms, page.next_before_id) == (1001, "post/s1")


def group(
    kind: str,
    object_kind: str,
    object_id: str,
    actors: list[str],
    count: int,
    first_ms: int,
    last_ms: int,
    excerpt: str,
    *,
    version: int = 1,
    is_deleted: int = 0,
    recipient: str = "r",
) -> dict[str, Any]:
    return {
        "tenant": "t",
        "recipient": recipient,
        "kind": kind,
        "object_kind": object_kind,
        "object_id": object_id,
        "post_id": "" if kind == "follow" else "p1",
        "actor_count": count,
        "latest_actors": actors,
        "first_ms": first_ms,
        "last_ms": last_ms,
        "excerpt": excerpt,
        "version": version,
        "is_deleted": is_deleted,
    }


@pytest.fixture
def inbox(ch: ClickHouse) -> ClickHouse:
    put(
        ch,
        "notification_groups",
        [
            group("comment", "post", "p1", ["ana", "ben", "cy"], 6, 1000, 5000, "Launch day"),
            group("reply", "comment", "c1", ["ben", "ana"], 2, 3000, 4000, "nice"),
            group("reaction", "post", "p1", ["dee"], 1, 3000, 3000, "Launch day"),
            group("follow", "user", "r", ["eve"], 1, 6000, 6000, ""),
            group("mention", "comment", "c9", ["fay"], 1, 2500, 2500, "hey @r"),
            group("mention", "post", "p2", ["gus"], 1, 2000, 2000, "@r look"),
            group("comment", "post", "q1", ["ana"], 1, 9000, 9000, "other", recipient="s"),
        ],
    )
    put(
        ch,
        "notification_groups",
        [
            group(
                "mention",
                "comment",
                "c9",
                ["fay"],
                1,
                2500,
                2500,
                "hey @r",
                version=2,
                is_deleted=1,
            ),
            group(
                "mention", "post", "p2", ["hal", "ivy", "gus"], 3, 2000, 7000, "@r look", version=2
            ),
        ],
    )
    put(
        ch,
        "inbox_state",
        [
            {
                "tenant": "t",
                "user": "r",
                "read_up_to_ms": 1000,
                "seen_up_to_ms": 0,
                "group_reads": {},
                "version": 1,
            }
        ],
    )
    put(
        ch,
        "inbox_state",
        [
            {
                "tenant": "t",
                "user": "r",
                "read_up_to_ms": 3500,
                "seen_up_to_ms": 5500,
                "group_reads": {"reply:comment:c1": 4000},
                "version": 2,
            }
        ],
    )
    return ch


def test_notifications_are_live_groups_newest_first_rendered_and_flagged(
    inbox: ClickHouse,
) -> None:
    found = notifications(inbox, tenant="t", recipient="r")
    assert [(n.group_key, n.text, n.unread, n.unseen) for n in found] == [
        ("mention:post:p2", "hal and 2 others mentioned you in a post '@r look'", True, True),
        ("follow:user:r", "eve started following you", True, True),
        ("comment:post:p1", "ana and 5 others commented on your post 'Launch day'", True, False),
        ("reply:comment:c1", "ben and ana replied to your comment 'nice'", False, False),
        ("reaction:post:p1", "dee reacted to your post 'Launch day'", False, False),
    ]
    first = found[0]
    assert (
        first.actor_count,
        first.latest_actors,
        first.first_ms,
        first.last_ms,
        first.post_id,
    ) == (3, ("hal", "ivy", "gus"), 2000, 7000, "p1")
    assert [n.group_key for n in notifications(inbox, tenant="t", recipient="r", limit=2)] == [
        "mention:post:p2",
        "follow:user:r",
    ]
    named = notifications(inbox, tenant="t", recipient="r", limit=1, names={"hal": "Hal"})
    assert named[0].text == "Hal and 2 others mentioned you in a post '@r look'"


def test_unread_and_unseen_counts_honour_every_mark(inbox: ClickHouse) -> None:
    assert unread_counts(inbox, tenant="t", recipient="r") == (3, 2)
    # no inbox row: every mark is 0, everything is unread and unseen
    assert unread_counts(inbox, tenant="t", recipient="s") == (1, 1)
    assert unread_counts(inbox, tenant="t", recipient="nobody") == (0, 0)
    assert [n.unread for n in notifications(inbox, tenant="t", recipient="s")] == [True]


def test_render_says_what_the_domain_render_says() -> None:
    for count, actors, excerpt in [
        (1, ("a",), "x"),
        (2, ("a", "b"), ""),
        (7, ("a", "b", "c"), "Launch day"),
        (0, (), ""),
    ]:
        for kind, object_kind in [
            ("comment", "post"),
            ("reply", "comment"),
            ("mention", "comment"),
            ("reaction", "post"),
            ("follow", "user"),
        ]:
            domain_group = domain_notifications.NotificationGroup(
                "t", "r", kind, object_kind, "o", "p", count, actors, 1, 2, excerpt
            )  # type: ignore[arg-type]
            assert render(
                kind=kind,
                object_kind=object_kind,
                actor_count=count,
                latest_actors=actors,
                excerpt=excerpt,
                names={"a": "Ana"},
            ) == domain_notifications.render(domain_group, names={"a": "Ana"})


def contribution(
    value: str,
    metric: str,
    source: str,
    actor: str,
    at_ms: int,
    *,
    dimension: str = "hashtag",
    version: int = 1,
    is_deleted: int = 0,
    tenant: str = "t",
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "dimension": dimension,
        "dim_value": value,
        "metric": metric,
        "source_id": source,
        "actor": actor,
        "at_ms": at_ms,
        "version": version,
        "is_deleted": is_deleted,
    }


HOUR = 3_600_000
NOW = 1_700_000_000_000 - 1_700_000_000_000 % HOUR


def test_trend_counts_per_bucket_over_live_contributions(ch: ClickHouse) -> None:
    put(
        ch,
        "trend_contributions",
        [
            contribution("launch", "post", "p1", "ana", NOW + 10),
            contribution("launch", "comment", "c1", "ben", NOW + 60_000),
            contribution("launch", "comment", "c2", "ana", NOW + 61_000),
            contribution("launch", "reaction", "cy/p1/like", "cy", NOW + HOUR + 5),
            contribution("launch", "comment", "c3", "dee", NOW + HOUR + 6),
            contribution("other", "post", "p9", "eve", NOW),
        ],
    )
    put(
        ch,
        "trend_contributions",
        [
            contribution("launch", "comment", "c3", "dee", NOW + HOUR + 6, version=2, is_deleted=1),
            contribution("launch", "comment", "c1", "ben", NOW + 60_000, version=2),  # redelivered
        ],
    )

    def counts(granularity: str, **span: int) -> list[TrendCount]:
        return trend_counts(
            ch, tenant="t", dimension="hashtag", dim_value="launch", granularity=granularity, **span
        )

    assert counts("hour") == [
        TrendCount(start_ms=NOW, posts=1, comments=2, reactions=0, actors=2),
        TrendCount(start_ms=NOW + HOUR, posts=0, comments=0, reactions=1, actors=1),
    ]
    assert counts("minute") == [
        TrendCount(start_ms=NOW, posts=1, comments=0, reactions=0, actors=1),
        TrendCount(start_ms=NOW + 60_000, posts=0, comments=2, reactions=0, actors=2),
        TrendCount(start_ms=NOW + HOUR, posts=0, comments=0, reactions=1, actors=1),
    ]
    day = NOW - NOW % (24 * HOUR)
    assert counts("day") == [TrendCount(start_ms=day, posts=1, comments=2, reactions=1, actors=3)]
    assert counts("hour", since_ms=NOW + 60_000, until_ms=NOW + HOUR) == [
        TrendCount(start_ms=NOW, posts=0, comments=2, reactions=0, actors=2)
    ]
    with pytest.raises(ValueError, match="granularity"):
        counts("week")


def test_trending_ranks_by_the_score_of_distinct_actors(ch: ClickHouse) -> None:
    rows = [
        # "quiet": nobody before, 4 people now -> 16.0
        *[contribution("quiet", "post", f"q{i}", f"u{i}", NOW - 10 * i - 1) for i in range(4)],
        # "busy": 2 people in each of the 24 windows before, 6 now -> (6-2)^2/2 = 8.0
        *[
            contribution("busy", "post", f"b{w}{i}", f"u{i}", NOW - w * HOUR - 5)
            for w in range(1, 25)
            for i in range(2)
        ],
        *[contribution("busy", "comment", f"bc{i}", f"v{i}", NOW - 100) for i in range(6)],
        # "spammy": one account, 50 posts now -> below min_actors
        *[contribution("spammy", "post", f"s{i}", "bot", NOW - 1000 - i) for i in range(50)],
        # "old": only before the baseline, and one at now (excluded)
        *[contribution("old", "post", f"o{i}", f"u{i}", NOW - 30 * HOUR) for i in range(5)],
        contribution("old", "post", "o9", "u9", NOW),
    ]
    put(ch, "trend_contributions", rows)
    put(
        ch,
        "trend_contributions",
        [  # one of quiet's people withdrew: 3 left -> 9.0
            contribution("quiet", "post", "q0", "u0", NOW - 1, version=2, is_deleted=1)
        ],
    )
    top = trending(ch, tenant="t", now_ms=NOW)
    assert top == [
        TrendingItem(key="quiet", score=9.0, current=3, baseline=0.0),
        TrendingItem(key="busy", score=8.0, current=6, baseline=2.0),
    ]
    assert trending(ch, tenant="t", now_ms=NOW, k=1) == top[:1]
    assert trending(ch, tenant="t", now_ms=NOW, min_actors=4) == top[1:]
    assert trending(ch, tenant="t", dimension="post", now_ms=NOW) == []
    with pytest.raises(ValueError, match="window_ms"):
        trending(ch, tenant="t", now_ms=NOW, window_ms=0)


_trend_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),  # key
        st.sampled_from([f"u{i}" for i in range(6)]),  # actor
        st.one_of(  # at, relative to now: half in the current window, half anywhere near
            st.integers(min_value=-60_000, max_value=-1),
            st.integers(min_value=-8 * 60_000, max_value=60_000),
        ),
        st.sampled_from([False, False, False, True]),  # withdrawn later
    ),
    min_size=10,
    max_size=60,
)


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=_trend_rows)
def test_trending_in_sql_is_the_domain_trending(
    ch: ClickHouse, rows: list[tuple[str, str, int, bool]]
) -> None:
    now = 1_700_000_040_000
    name = f"t{uuid.uuid4().hex}"  # every example writes its own tenant into the shared database
    live = [
        contribution(k, "post", f"s{i}", actor, now + at, tenant=name)
        for i, (k, actor, at, _) in enumerate(rows)
    ]
    if live:
        put(ch, "trend_contributions", live)
    gone = [
        dict(row, version=2, is_deleted=1)
        for row, (*_, withdrawn) in zip(live, rows, strict=True)
        if withdrawn
    ]
    if gone:
        put(ch, "trend_contributions", gone)
    expected = domain_trends.trending(
        [(k, actor, now + at) for k, actor, at, withdrawn in rows if not withdrawn],
        now_ms=now,
        window_ms=60_000,
        baseline_windows=5,
        k=3,
        min_actors=2,
    )
    got = trending(
        ch, tenant=name, now_ms=now, window_ms=60_000, baseline_windows=5, k=3, min_actors=2
    )
    assert [(i.key, i.score, i.current, i.baseline) for i in got] == [
        (i.key, i.score, i.current, i.baseline) for i in expected
    ]


def test_moderation_state_of_an_object(ch: ClickHouse) -> None:
    put(ch, "content_state", [content("c1", "ana", post_id="p1")])
    put(
        ch,
        "content_state",
        [
            dict(
                content("c1", "ana", post_id="p1", spam=1, version=3),
                person_verdict="spam",
                machine_verdict="ham",
            )
        ],
    )
    assert moderation(ch, tenant="t", object_id="c1") == ModerationState(
        tenant="t",
        object_id="c1",
        post_id="p1",
        kind="comment",
        author="ana",
        deleted=False,
        spam=True,
        machine_verdict="ham",
        person_verdict="spam",
        created_ms=100,
        edited_ms=0,
        version=3,
    )
    assert moderation(ch, tenant="t", object_id="nope") is None


USERS = ("v", "a", "b", "c")


@st.composite
def feed_worlds(draw: st.DrawFn) -> dict[str, Any]:
    """Posts, comments and reactions of a few users, their content state, feed rows pushed to v
    or kept in the author's own feed, and v's follows, some of them read-fanout."""
    posts = {f"p{i}": draw(st.sampled_from(USERS)) for i in range(draw(st.integers(2, 6)))}
    comments = {
        f"c{i}": (draw(st.sampled_from(USERS)), draw(st.sampled_from(sorted(posts))))
        for i in range(draw(st.integers(0, 4)))
    }
    activities: list[tuple[str, str, str, str]] = []  # activity id, author, post, object id
    activities += [(f"post/{p}", a, p, p) for p, a in posts.items()]
    activities += [(f"comment/{c}", a, p, c) for c, (a, p) in comments.items()]
    for obj in draw(st.lists(st.sampled_from(sorted(posts) + sorted(comments)), max_size=5)):
        actor = draw(st.sampled_from(USERS))
        kind = "post" if obj in posts else "comment"
        post = obj if obj in posts else comments[obj][1]
        activities.append((f"reaction/{actor}/{kind}/{obj}/like", actor, post, obj))
    state = st.sampled_from(["live"] * 5 + ["deleted", "spam", "missing"])
    objects = {o: draw(state) for o in [*posts, *comments]}
    rows = []
    for activity_id, author_, post, _ in dict.fromkeys(activities):
        created = draw(st.integers(1, 6)) * 1000  # few distinct times: ties are common
        for owner in draw(st.sets(st.sampled_from(["v", author_]), min_size=1)):
            deleted = draw(st.sampled_from([False, False, False, True]))
            rows.append((owner, activity_id, author_, post, created, deleted))
    follows = {u: draw(st.sampled_from(["no", "yes", "yes", "unfollowed"])) for u in USERS[1:]}
    fanout = {u: draw(st.booleans()) for u in USERS[1:]}
    return {
        "posts": posts,
        "comments": comments,
        "objects": objects,
        "rows": rows,
        "follows": follows,
        "fanout": fanout,
        "activities": activities,
    }


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(world=feed_worlds(), limit=st.integers(1, 4))
def test_feed_pages_are_the_domain_merge_of_visible_entries(
    ch: ClickHouse, world: dict[str, Any], limit: int
) -> None:
    from streams.domain.feedpage import FeedEntry, is_visible, merge_feed_page

    tenant = f"t{uuid.uuid4().hex}"
    authors = {**world["posts"], **{c: a for c, (a, _) in world["comments"].items()}}
    states = [
        dict(
            content(
                o,
                authors[o],
                post_id=None if o in world["posts"] else world["comments"][o][1],
                deleted=int(s == "deleted"),
                spam=int(s == "spam"),
            ),
            tenant=tenant,
        )
        for o, s in world["objects"].items()
        if s != "missing"
    ]
    if states:
        put(ch, "content_state", states)
    put(
        ch,
        "feed_items",
        [feed(o, a, au, p, c, tenant=tenant) for o, a, au, p, c, _ in world["rows"]],
    )
    gone = [
        feed(o, a, au, p, 0, version=c + 1, is_deleted=1, tenant=tenant)
        for o, a, au, p, c, deleted in world["rows"]
        if deleted
    ]
    if gone:
        put(ch, "feed_items", gone)
    put(
        ch,
        "follows_state",
        [dict(follow("v", u), tenant=tenant) for u, f in world["follows"].items() if f != "no"],
    )
    put(
        ch,
        "follows_state",
        [
            dict(follow("v", u, version=2, is_deleted=1), tenant=tenant)
            for u, f in world["follows"].items()
            if f == "unfollowed"
        ],
    )
    put(
        ch,
        "author_state",
        [dict(author(u, int(f)), tenant=tenant) for u, f in world["fanout"].items()],
    )

    followed = {u for u, f in world["follows"].items() if f == "yes"}
    target = {a: o for a, _, _, o in world["activities"]}

    def visible(entry: FeedEntry) -> bool:
        for obj in (target[entry.activity_id], entry.post_id):
            s = world["objects"][obj]
            if s == "missing" or not is_visible(
                entry, viewer="v", deleted=s == "deleted", spam=s == "spam"
            ):
                return False
        return True

    pushed = [
        e
        for (o, a, au, p, c, d) in world["rows"]
        if not d and o == "v"
        for e in [
            FeedEntry(activity_id=a, kind=a.split("/")[0], author=au, post_id=p, created_ms=c)
        ]
        if (au == "v" or au in followed) and visible(e)
    ]
    pulled = [
        e
        for (o, a, au, p, c, d) in world["rows"]
        if not d and o != "v"
        for e in [
            FeedEntry(activity_id=a, kind=a.split("/")[0], author=au, post_id=p, created_ms=c)
        ]
        if o == au and o in followed and world["fanout"][o] and visible(e)
    ]

    cursor: tuple[int | None, str | None] = (None, None)
    for _ in range(20):
        expected = merge_feed_page(
            pushed, pulled, limit=limit, before_ms=cursor[0], before_id=cursor[1]
        )
        got = feed_page(
            ch, tenant=tenant, viewer="v", limit=limit, before_ms=cursor[0], before_id=cursor[1]
        )
        assert [(i.activity_id, i.author, i.post_id, i.created_ms) for i in got.items] == [
            (e.activity_id, e.author, e.post_id, e.created_ms) for e in expected.entries
        ]
        assert (got.next_before_ms, got.next_before_id) == (
            expected.next_before_ms,
            expected.next_before_id,
        )
        if got.next_before_ms is None:
            break
        cursor = (got.next_before_ms, got.next_before_id)

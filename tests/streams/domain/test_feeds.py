"""Feed fan-out (write side), feed pages (read side), and fan-out on write == fan-out on read."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.errors import ConfigError, DecodeError, InvalidEvent
from schemas.events import (
    CommentDeleted,
    CommentPosted,
    Event,
    Followed,
    ModerationVerdict,
    PostDeleted,
    PostEdited,
    PostPublished,
    ReactionAdded,
    ReactionRemoved,
    Unfollowed,
)
from streams.domain.feedpage import FeedEntry, FeedPage, is_visible, merge_feed_page
from streams.domain.feeds import (
    AuthorState,
    FeedChange,
    FeedConfig,
    RecentActivity,
    activity_target,
    apply,
    row_version,
)

T = "acme"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T0_MS = 1_714_564_800_000
ALL_KINDS = FeedConfig(kinds=frozenset({"post", "comment", "reaction"}))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ms(seconds: float) -> int:
    return T0_MS + int(seconds * 1000)


def follow(follower: str, followee: str, s: float) -> Followed:
    return Followed(occurred_at=at(s), tenant=T, actor=follower, followee=followee)


def unfollow(follower: str, followee: str, s: float) -> Unfollowed:
    return Unfollowed(occurred_at=at(s), tenant=T, actor=follower, followee=followee)


def post(author: str, post_id: str, s: float) -> PostPublished:
    return PostPublished(occurred_at=at(s), tenant=T, actor=author, post_id=post_id, body="hi")


def row(
    owner: str,
    activity_id: str,
    *,
    created: float,
    version: float,
    kind: str = "post",
    author: str = "ana",
    post_id: str = "p1",
    deleted: bool = False,
    graph: bool = False,
) -> FeedChange:
    return FeedChange(
        tenant=T,
        owner=owner,
        activity_id=activity_id,
        kind=kind,
        author=author,
        post_id=post_id,
        created_ms=ms(created) if created >= 0 else 0,
        version=row_version(ms(version), graph=graph),
        is_deleted=deleted,
    )


def run(state: AuthorState, events: list[Event], config: FeedConfig) -> list[FeedChange]:
    out: list[FeedChange] = []
    for event in events:
        out += apply(state, event, config)
    return out


def test_epoch_helper_matches_the_clock() -> None:
    assert int(T0.timestamp()) * 1000 == T0_MS


# -- write side -----------------------------------------------------------------------------------


def test_post_goes_to_own_feed_and_every_follower() -> None:
    state = AuthorState(tenant=T, author="ana")
    run(state, [follow("bo", "ana", 1), follow("cy", "ana", 2)], FeedConfig())
    changes = apply(state, post("ana", "p1", 3), FeedConfig())
    assert changes == [
        row("ana", "post/p1", created=3, version=3),
        row("bo", "post/p1", created=3, version=3),
        row("cy", "post/p1", created=3, version=3),
    ]
    assert state.recent == [
        RecentActivity(
            activity_id="post/p1", kind="post", post_id="p1", created_ms=ms(3), fanned_out=True
        )
    ]
    assert state.followers == {"bo": ms(1), "cy": ms(2)}


def test_first_post_without_followers_reaches_only_the_author() -> None:
    state = AuthorState(tenant=T, author="ana")
    assert apply(state, post("ana", "p1", 1), FeedConfig()) == [
        row("ana", "post/p1", created=1, version=1)
    ]


def test_follow_backfills_newest_activities_up_to_the_limit() -> None:
    config = FeedConfig(backfill_limit=2)
    state = AuthorState(tenant=T, author="ana")
    run(state, [post("ana", "p1", 1), post("ana", "p2", 2), post("ana", "p3", 3)], config)
    assert [a.activity_id for a in state.recent] == ["post/p3", "post/p2", "post/p1"]
    changes = apply(state, follow("bo", "ana", 10), config)
    assert changes == [
        row("bo", "post/p3", created=3, version=10, post_id="p3", graph=True),
        row("bo", "post/p2", created=2, version=10, post_id="p2", graph=True),
    ]


def test_follow_twice_changes_nothing() -> None:
    state = AuthorState(tenant=T, author="ana")
    run(state, [post("ana", "p1", 1), follow("bo", "ana", 2)], FeedConfig())
    assert apply(state, follow("bo", "ana", 3), FeedConfig()) == []
    assert state.followers == {"bo": ms(2)}


def test_unfollow_deletes_the_authors_activities_from_that_feed_only() -> None:
    state = AuthorState(tenant=T, author="ana")
    run(
        state,
        [
            follow("bo", "ana", 1),
            follow("cy", "ana", 2),
            post("ana", "p1", 3),
            post("ana", "p2", 4),
        ],
        FeedConfig(),
    )
    changes = apply(state, unfollow("bo", "ana", 5), FeedConfig())
    assert changes == [
        row("bo", "post/p2", created=4, version=5, post_id="p2", deleted=True, graph=True),
        row("bo", "post/p1", created=3, version=5, post_id="p1", deleted=True, graph=True),
    ]
    assert state.followers == {"cy": ms(2)}
    assert apply(state, unfollow("bo", "ana", 6), FeedConfig()) == []
    assert apply(state, post("ana", "p3", 7), FeedConfig()) == [
        row("ana", "post/p3", created=7, version=7, post_id="p3"),
        row("cy", "post/p3", created=7, version=7, post_id="p3"),
    ]


def test_delete_removes_from_every_feed_and_from_later_backfills() -> None:
    state = AuthorState(tenant=T, author="ana")
    run(state, [follow("bo", "ana", 1), post("ana", "p1", 2), post("ana", "p2", 3)], FeedConfig())
    deleted = PostDeleted(occurred_at=at(4), tenant=T, actor="ana", post_id="p1")
    assert apply(state, deleted, FeedConfig()) == [
        row("ana", "post/p1", created=2, version=4, deleted=True),
        row("bo", "post/p1", created=2, version=4, deleted=True),
    ]
    assert apply(state, follow("cy", "ana", 5), FeedConfig()) == [
        row("cy", "post/p2", created=3, version=5, post_id="p2", graph=True)
    ]
    assert [(a.activity_id, a.live) for a in state.recent] == [("post/p2", True),
                                                                ("post/p1", False)]  # fmt: skip


def test_delete_of_an_activity_no_longer_remembered_tombstones_with_unknown_time() -> None:
    state = AuthorState(tenant=T, author="ana")
    run(state, [follow("bo", "ana", 1)], FeedConfig())
    deleted = PostDeleted(occurred_at=at(4), tenant=T, actor="ana", post_id="old")
    assert apply(state, deleted, FeedConfig()) == [
        row("ana", "post/old", created=-1, version=4, post_id="old", deleted=True),
        row("bo", "post/old", created=-1, version=4, post_id="old", deleted=True),
    ]


def test_duplicate_event_ids_change_nothing() -> None:
    state = AuthorState(tenant=T, author="ana")
    first_follow, first_post = follow("bo", "ana", 1), post("ana", "p1", 2)
    run(state, [first_follow, first_post], FeedConfig())
    before = state.to_json()
    assert apply(state, first_post, FeedConfig()) == []
    assert apply(state, first_follow, FeedConfig()) == []
    undo = unfollow("bo", "ana", 3)
    assert len(apply(state, undo, FeedConfig())) == 1
    # a redelivered Followed must not bring the follower back after the Unfollowed
    assert apply(state, first_follow, FeedConfig()) == []
    assert apply(state, undo, FeedConfig()) == []
    assert state.followers == {}
    assert before["recent"] == state.to_json()["recent"]


def test_dedup_window_keeps_the_newest_ids() -> None:
    config = FeedConfig(dedup_window=2)
    state = AuthorState(tenant=T, author="ana")
    events = [post("ana", f"p{i}", i) for i in range(3)]
    run(state, events, config)
    assert list(state.applied) == [events[1].event_id, events[2].event_id]


def test_same_post_under_a_second_event_id_keeps_the_first() -> None:
    state = AuthorState(tenant=T, author="ana")
    apply(state, post("ana", "p1", 1), FeedConfig())
    assert apply(state, post("ana", "p1", 2), FeedConfig()) == []
    assert [a.created_ms for a in state.recent] == [ms(1)]


def test_read_fanout_pushes_nothing_to_followers_and_stays_on() -> None:
    config = FeedConfig(read_fanout_threshold=1)
    state = AuthorState(tenant=T, author="ana")
    assert run(state, [follow("bo", "ana", 1), post("ana", "p1", 2)], config) == [
        row("ana", "post/p1", created=2, version=2),
        row("bo", "post/p1", created=2, version=2),
    ]
    assert not state.read_fanout
    assert apply(state, follow("cy", "ana", 3), config) == []  # 2 > 1: no backfill, read instead
    assert state.read_fanout
    assert apply(state, post("ana", "p2", 4), config) == [
        row("ana", "post/p2", created=4, version=4, post_id="p2")
    ]
    # Unfollow retracts only what was pushed; read fan-out survives the drop below the threshold.
    assert apply(state, unfollow("cy", "ana", 5), config) == [
        row("cy", "post/p1", created=2, version=5, deleted=True, graph=True)
    ]
    assert state.read_fanout
    assert apply(state, post("ana", "p3", 6), config) == [
        row("ana", "post/p3", created=6, version=6, post_id="p3")
    ]
    # A post published in read mode was never pushed: deleting it touches the author's feed only.
    gone_p2 = PostDeleted(occurred_at=at(7), tenant=T, actor="ana", post_id="p2")
    assert apply(state, gone_p2, config) == [
        row("ana", "post/p2", created=4, version=7, post_id="p2", deleted=True)
    ]
    gone_p1 = PostDeleted(occurred_at=at(8), tenant=T, actor="ana", post_id="p1")
    assert apply(state, gone_p1, config) == [
        row("ana", "post/p1", created=2, version=8, deleted=True),
        row("bo", "post/p1", created=2, version=8, deleted=True),
    ]
    gone_old = PostDeleted(occurred_at=at(9), tenant=T, actor="ana", post_id="p0")
    assert apply(state, gone_old, config) == [
        row("ana", "post/p0", created=-1, version=9, post_id="p0", deleted=True)
    ]


def test_threshold_zero_reads_every_followed_author() -> None:
    config = FeedConfig(read_fanout_threshold=0)
    state = AuthorState(tenant=T, author="ana")
    assert run(state, [post("ana", "p1", 1), follow("bo", "ana", 2)], config) == [
        row("ana", "post/p1", created=1, version=1)
    ]
    assert state.read_fanout


def test_kinds_are_configuration() -> None:
    comment = CommentPosted(
        occurred_at=at(2), tenant=T, actor="ana", comment_id="c1", post_id="p9", body="yes"
    )
    like = ReactionAdded(
        occurred_at=at(3),
        tenant=T,
        actor="ana",
        post_id="p9",
        object_id="c7",
        object_kind="comment",
        reaction="like",
    )
    unlike = ReactionRemoved(
        occurred_at=at(4),
        tenant=T,
        actor="ana",
        post_id="p9",
        object_id="c7",
        object_kind="comment",
        reaction="like",
    )
    uncomment = CommentDeleted(
        occurred_at=at(5), tenant=T, actor="ana", comment_id="c1", post_id="p9"
    )
    posts_only = AuthorState(tenant=T, author="ana")
    first = follow("bo", "ana", 1)
    apply(posts_only, first, FeedConfig())
    assert run(posts_only, [comment, like, unlike, uncomment], FeedConfig()) == []
    assert posts_only.recent == []
    assert list(posts_only.applied) == [first.event_id]

    state = AuthorState(tenant=T, author="ana")
    apply(state, follow("bo", "ana", 1), ALL_KINDS)
    reaction_id = "reaction/ana/comment/c7/like"
    common = {"author": "ana", "post_id": "p9"}
    assert run(state, [comment, like], ALL_KINDS) == [
        row("ana", "comment/c1", created=2, version=2, kind="comment", **common),
        row("bo", "comment/c1", created=2, version=2, kind="comment", **common),
        row("ana", reaction_id, created=3, version=3, kind="reaction", **common),
        row("bo", reaction_id, created=3, version=3, kind="reaction", **common),
    ]
    assert run(state, [unlike, uncomment], ALL_KINDS) == [
        row("ana", reaction_id, created=3, version=4, kind="reaction", deleted=True, **common),
        row("bo", reaction_id, created=3, version=4, kind="reaction", deleted=True, **common),
        row("ana", "comment/c1", created=2, version=5, kind="comment", deleted=True, **common),
        row("bo", "comment/c1", created=2, version=5, kind="comment", deleted=True, **common),
    ]
    assert [a.live for a in state.recent] == [False, False]  # kept as tombstones


def test_events_that_do_not_touch_feeds_are_ignored() -> None:
    state = AuthorState(tenant=T, author="ana")
    edited = PostEdited(occurred_at=at(1), tenant=T, actor="ana", post_id="p1", body="new")
    verdict = ModerationVerdict(
        occurred_at=at(2),
        tenant=T,
        actor="mod",
        post_id="p1",
        object_id="p1",
        object_kind="post",
        verdict="spam",
        source="person",
        score=1.0,
    )
    assert run(state, [edited, verdict], ALL_KINDS) == []
    assert state == AuthorState(tenant=T, author="ana")


@pytest.mark.parametrize(
    "event",
    [
        follow("bo", "cy", 1),
        post("bo", "p1", 1),
        PostPublished(occurred_at=at(1), tenant="other", actor="ana", post_id="p1", body="x"),
    ],
)
def test_an_event_of_another_key_is_refused(event: Event) -> None:
    state = AuthorState(tenant=T, author="ana")
    with pytest.raises(InvalidEvent, match="routed to the feed state of acme/ana"):
        apply(state, event, FeedConfig())
    assert state == AuthorState(tenant=T, author="ana")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kinds": frozenset({"post", "repost"})}, r"\['repost'\] are unknown"),
        ({"backfill_limit": -1}, "backfill_limit must be a whole number >= 0"),
        ({"read_fanout_threshold": True}, "read_fanout_threshold"),
        ({"dedup_window": 1.5}, "dedup_window"),
        ({"backfill_limit": 3, "recent_limit": 2}, "recent_limit 2 is below backfill_limit 3"),
        ({"recent_limit": -1}, "recent_limit must be a whole number >= 0"),
    ],
)
def test_config_is_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FeedConfig(**kwargs)  # type: ignore[arg-type]


def test_state_round_trips_through_json_exactly() -> None:
    config = replace(ALL_KINDS, read_fanout_threshold=1)
    state = AuthorState(tenant=T, author="ana")
    run(
        state,
        [
            post("ana", "p1", 1),
            follow("bo", "ana", 2),
            follow("cy", "ana", 3),
            post("ana", "p2", 4),
            CommentPosted(
                occurred_at=at(5), tenant=T, actor="ana", comment_id="c1", post_id="p1", body="k"
            ),
        ],
        config,
    )
    text = json.dumps(state.to_json())
    again = AuthorState.from_json(json.loads(text))
    assert again == state
    assert json.dumps(again.to_json()) == text
    assert again.to_json() == {
        "format": 2,
        "tenant": T,
        "author": "ana",
        "followers": {"bo": ms(2), "cy": ms(3)},
        "recent": [
            {"activity_id": "comment/c1", "kind": "comment", "post_id": "p1",
             "created_ms": ms(5), "fanned_out": False, "deleted_ms": None, "earlier": []},
            {"activity_id": "post/p2", "kind": "post", "post_id": "p2",
             "created_ms": ms(4), "fanned_out": False, "deleted_ms": None, "earlier": []},
            {"activity_id": "post/p1", "kind": "post", "post_id": "p1",
             "created_ms": ms(1), "fanned_out": True, "deleted_ms": None, "earlier": []},
        ],
        "applied": list(state.applied),
        "read_fanout": True,
        "published": {"post/p1": True, "post/p2": True, "comment/c1": True},
    }  # fmt: skip


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d.pop("followers"),
        lambda d: d.update(format=1),
        lambda d: d.pop("published"),
        lambda d: d["recent"][0].update(deleted_ms=True),
        lambda d: d["recent"][0].update(earlier=[[1]]),
        lambda d: d.update(read_fanout=1),
        lambda d: d["recent"][0].update(created_ms="5"),
        lambda d: d.update(followers={"bo": True}),
        lambda d: d.update(applied=[3]),
    ],
)
def test_malformed_state_is_a_decode_error(mangle: Callable[[dict[str, Any]], object]) -> None:
    state = AuthorState(tenant=T, author="ana")
    run(state, [post("ana", "p1", 1), follow("bo", "ana", 2)], FeedConfig())
    data = state.to_json()
    mangle(data)
    with pytest.raises(DecodeError, match="rebuild the feed state by replaying the log"):
        AuthorState.from_json(data)


def test_activity_target() -> None:
    assert activity_target("post/p1") == ("post", "p1")
    assert activity_target("comment/c:1") == ("comment", "c:1")
    assert activity_target("reaction/ana/comment/c7/like") == ("comment", "c7")
    with pytest.raises(ValueError, match="not a feed activity id"):
        activity_target("reaction/ana/user/c7/like")


# -- read side ------------------------------------------------------------------------------------


def entry(activity_id: str, created_ms: int, author: str = "ana") -> FeedEntry:
    return FeedEntry(
        activity_id=activity_id, kind="post", author=author, post_id="p", created_ms=created_ms
    )


def test_merge_orders_newest_first_breaks_ties_by_id_and_dedups() -> None:
    pushed = [entry("post/a", 10), entry("post/c", 30), entry("post/b", 20)]
    pulled = [entry("post/z", 20, "zed"), entry("post/c", 30), entry("post/y", 5, "zed")]
    page = merge_feed_page(pushed, pulled, limit=10)
    assert page == FeedPage(
        entries=(
            entry("post/c", 30),
            entry("post/z", 20, "zed"),
            entry("post/b", 20),
            entry("post/a", 10),
            entry("post/y", 5, "zed"),
        ),
        next_before_ms=None,
        next_before_id=None,
    )


def test_keyset_cursor_walks_every_entry_once() -> None:
    pushed = [entry("post/a", 10), entry("post/b", 20), entry("post/c", 20)]
    pulled = [entry("post/d", 20, "zed"), entry("post/e", 5, "zed")]
    first = merge_feed_page(pushed, pulled, limit=2)
    assert [e.activity_id for e in first.entries] == ["post/d", "post/c"]
    assert (first.next_before_ms, first.next_before_id) == (20, "post/c")
    second = merge_feed_page(
        pushed, pulled, limit=2, before_ms=first.next_before_ms, before_id=first.next_before_id
    )
    assert [e.activity_id for e in second.entries] == ["post/b", "post/a"]
    assert (second.next_before_ms, second.next_before_id) == (10, "post/a")
    third = merge_feed_page(pushed, pulled, limit=2, before_ms=10, before_id="post/a")
    assert third == FeedPage(entries=(entry("post/e", 5, "zed"),), next_before_ms=None,
                             next_before_id=None)  # fmt: skip
    # a time-only cursor skips everything at that millisecond
    assert [e.activity_id for e in merge_feed_page(pushed, [], limit=5, before_ms=20).entries] == [
        "post/a"
    ]


def test_a_page_exactly_full_has_no_next_cursor() -> None:
    page = merge_feed_page([entry("post/a", 1), entry("post/b", 2)], [], limit=2)
    assert page.next_before_ms is None and len(page.entries) == 2


def test_merge_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="limit must be >= 1"):
        merge_feed_page([], [], limit=0)
    with pytest.raises(ValueError, match="needs its before_ms"):
        merge_feed_page([], [], limit=1, before_id="post/a")


def test_visibility() -> None:
    own = entry("post/a", 1, "ana")
    assert is_visible(own, viewer="bo", deleted=False, spam=False)
    assert not is_visible(own, viewer="ana", deleted=True, spam=False)
    assert not is_visible(own, viewer="bo", deleted=False, spam=True)
    assert is_visible(own, viewer="ana", deleted=False, spam=True)


# -- fan-out on write and fan-out on read give the same pages -------------------------------------


class FeedStore:
    """A pure stand-in for the processor + feed_items table + read API."""

    def __init__(self, config: FeedConfig) -> None:
        self.config = config
        self.states: dict[str, AuthorState] = {}
        self.rows: dict[tuple[str, str], FeedChange] = {}

    def feed(self, event: Event) -> None:
        author = event.followee if isinstance(event, Followed | Unfollowed) else event.actor
        state = self.states.setdefault(author, AuthorState(tenant=T, author=author))
        for change in apply(state, event, self.config):
            key = (change.owner, change.activity_id)
            old = self.rows.get(key)
            if old is None or change.version >= old.version:  # ReplacingMergeTree(version)
                self.rows[key] = change

    def live(self, owner: str, author: str | None = None) -> list[FeedEntry]:
        return [
            FeedEntry(
                activity_id=r.activity_id,
                kind=r.kind,
                author=r.author,
                post_id=r.post_id,
                created_ms=r.created_ms,
            )
            for (row_owner, _), r in self.rows.items()
            if row_owner == owner and not r.is_deleted and author in (None, r.author)
        ]

    def pages(self, viewer: str, limit: int, *, trim: bool) -> list[FeedPage]:
        pushed = self.live(viewer)
        pulled = [
            e
            for author, state in sorted(self.states.items())
            if state.read_fanout and viewer in state.followers
            for e in self.live(author, author)
        ]
        out: list[FeedPage] = []
        cursor: tuple[int | None, str | None] = (None, None)
        while True:
            page_pushed, page_pulled = pushed, pulled
            if trim:  # what a reader fetches: limit + 1 past the cursor, per source
                page_pushed = _past(pushed, cursor)[: limit + 1]
                page_pulled = [
                    e
                    for author in {e.author for e in pulled}
                    for e in _past([p for p in pulled if p.author == author], cursor)[: limit + 1]
                ]
            page = merge_feed_page(
                page_pushed, page_pulled, limit=limit, before_ms=cursor[0], before_id=cursor[1]
            )
            out.append(page)
            if page.next_before_ms is None:
                return out
            cursor = (page.next_before_ms, page.next_before_id)


def _past(entries: list[FeedEntry], cursor: tuple[int | None, str | None]) -> list[FeedEntry]:
    ordered = sorted(entries, key=lambda e: (e.created_ms, e.activity_id), reverse=True)
    if cursor[0] is None:
        return ordered
    return [e for e in ordered if (e.created_ms, e.activity_id) < (cursor[0], cursor[1] or "")]


USERS = ["u0", "u1", "u2", "u3"]


@st.composite
def workloads(draw: st.DrawFn) -> list[Event]:
    events: list[Event] = []
    objects: list[tuple[str, str, str, str]] = []  # (kind, id, post_id, author)
    clock = 0
    for n in range(draw(st.integers(0, 40))):
        clock += draw(st.sampled_from([0, 0, 1, 1000]))  # ties on purpose
        when = T0 + timedelta(milliseconds=clock)
        user = draw(st.sampled_from(USERS))
        other = draw(st.sampled_from([u for u in USERS if u != user]))
        op = draw(
            st.sampled_from(
                ["follow", "follow", "unfollow", "post", "post", "comment", "react", "unreact",
                 "delete", "duplicate"]
            )
        )  # fmt: skip
        env = {"occurred_at": when, "tenant": T, "actor": user}
        event: Event
        if op == "follow":
            event = Followed(**env, followee=other)
        elif op == "unfollow":
            event = Unfollowed(**env, followee=other)
        elif op == "post" or not objects:
            event = PostPublished(**env, post_id=f"p{n}", body="b")
            objects.append(("post", f"p{n}", f"p{n}", user))
        elif op == "comment":
            root = draw(st.sampled_from([o for o in objects if o[0] == "post"]))
            event = CommentPosted(**env, comment_id=f"c{n}", post_id=root[1], body="b")
            objects.append(("comment", f"c{n}", root[1], user))
        elif op in ("react", "unreact"):
            kind, object_id, post_id, _ = draw(st.sampled_from(objects))
            cls = ReactionAdded if op == "react" else ReactionRemoved
            reaction = draw(st.sampled_from(["like", "wow"]))
            event = cls(
                **env, post_id=post_id, object_id=object_id, object_kind=kind, reaction=reaction
            )
        elif op == "delete":
            kind, object_id, post_id, author = draw(st.sampled_from(objects))
            env["actor"] = author
            event = (
                PostDeleted(**env, post_id=post_id)
                if kind == "post"
                else CommentDeleted(**env, comment_id=object_id, post_id=post_id)
            )
        else:
            event = (
                events[draw(st.integers(0, len(events) - 1))]
                if events
                else follow(user, other, clock / 1000)
            )
        events.append(event)
    return events


def expected_feed(events: list[Event]) -> dict[str, set[str]]:
    """The oracle: own live activities plus those of everyone followed at the end."""
    live: dict[str, dict[str, str]] = {u: {} for u in USERS}  # author -> activity ids
    follows: set[tuple[str, str]] = set()
    seen: set[str] = set()
    for e in events:
        if e.event_id in seen:
            continue
        seen.add(e.event_id)
        if isinstance(e, Followed):
            follows.add((e.actor, e.followee))
        elif isinstance(e, Unfollowed):
            follows.discard((e.actor, e.followee))
        elif isinstance(e, PostPublished | PostDeleted):
            _toggle(live[e.actor], f"post/{e.post_id}", isinstance(e, PostPublished))
        elif isinstance(e, CommentPosted | CommentDeleted):
            _toggle(live[e.actor], f"comment/{e.comment_id}", isinstance(e, CommentPosted))
        elif isinstance(e, ReactionAdded | ReactionRemoved):
            rid = f"reaction/{e.actor}/{e.object_kind}/{e.object_id}/{e.reaction}"
            _toggle(live[e.actor], rid, isinstance(e, ReactionAdded))
    return {u: set(live[u]) | {a for f, g in follows if f == u for a in live[g]} for u in USERS}


def _toggle(activities: dict[str, str], activity_id: str, add: bool) -> None:
    if add:
        activities.setdefault(activity_id, activity_id)
    else:
        activities.pop(activity_id, None)


@settings(max_examples=150, deadline=None)
@given(
    events=workloads(),
    threshold=st.sampled_from([0, 1, 2]),
    limit=st.integers(1, 4),
    trim=st.booleans(),
)
def test_fan_out_on_write_and_on_read_give_the_same_pages(
    events: list[Event], threshold: int, limit: int, trim: bool
) -> None:
    push = FeedStore(replace(ALL_KINDS, backfill_limit=1000, read_fanout_threshold=10**9))
    pull = FeedStore(replace(ALL_KINDS, backfill_limit=1000, read_fanout_threshold=threshold))
    for event in events:
        push.feed(event)
        pull.feed(event)
    assert not any(s.read_fanout for s in push.states.values())
    assert all(s.read_fanout for s in pull.states.values() if len(s.followers) > threshold)
    oracle = expected_feed(events)
    for viewer in USERS:
        pages = push.pages(viewer, limit, trim=trim)
        assert pages == pull.pages(viewer, limit, trim=trim)
        shown = [e for p in pages for e in p.entries]
        assert {e.activity_id for e in shown} == oracle[viewer]
        assert len(shown) == len(oracle[viewer])
        assert all(len(p.entries) == limit for p in pages[:-1])

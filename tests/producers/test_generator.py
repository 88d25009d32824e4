"""The synthetic community: deterministic, valid, causal, heavy-tailed; its spam scores as spam."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.generator import ACTIONS, Community, Generated, Ratios, demo_community
from schemas.codec import decode, encode
from schemas.errors import ConfigError
from schemas.events import (
    EVENT_TYPES,
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
from streams.domain import spam

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def generate(community: Community, n: int, **kw: object) -> list[Generated]:
    return list(community.generate(n, start_at=T0, **kw))  # type: ignore[arg-type]


def check_causal(community: Community, items: list[Generated]) -> None:
    """Every original event names only what exists; only authors touch their content; the
    moderator alone judges. Duplicates are earlier events, unchanged, from the window."""
    posts: dict[str, tuple[str, bool]] = {}  # post id -> (author, deleted)
    comments: dict[str, tuple[str, str, bool]] = {}  # comment id -> (post id, author, deleted)
    reactions: set[tuple[str, str, str]] = set()
    edges: set[tuple[str, str]] = set()
    people = set(community.users) | set(community.spammers)
    seen: list[Event] = []
    last_at = datetime.min.replace(tzinfo=UTC)

    def live(post_id: str, object_id: str, kind: str) -> bool:
        if post_id not in posts or posts[post_id][1]:
            return False
        if kind == "post":
            return object_id == post_id
        return (
            object_id in comments
            and comments[object_id][0] == post_id
            and not comments[object_id][2]
        )

    for i, item in enumerate(items):
        e = item.event
        assert e.tenant == community.tenant
        if item.duplicate:
            window = seen[-community.duplicate_window :]
            assert any(e is old for old in window), f"item {i}: duplicate of nothing recent"
            continue
        assert e.occurred_at >= last_at, f"item {i}: time went back"
        assert e.occurred_at.tzinfo is UTC
        last_at = e.occurred_at
        seen.append(e)
        if isinstance(e, PostPublished):
            assert e.post_id not in posts and e.actor in people
            posts[e.post_id] = (e.actor, False)
        elif isinstance(e, CommentPosted):
            assert e.comment_id not in comments and e.actor in people
            assert live(e.post_id, e.post_id, "post")
            if e.in_reply_to is not None:
                assert live(e.post_id, e.in_reply_to, "comment")
            comments[e.comment_id] = (e.post_id, e.actor, False)
        elif isinstance(e, PostEdited | PostDeleted):
            assert live(e.post_id, e.post_id, "post") and posts[e.post_id][0] == e.actor
            if isinstance(e, PostDeleted):
                posts[e.post_id] = (e.actor, True)
        elif isinstance(e, CommentEdited | CommentDeleted):
            assert live(e.post_id, e.comment_id, "comment")
            assert comments[e.comment_id][1] == e.actor
            if isinstance(e, CommentDeleted):
                comments[e.comment_id] = (e.post_id, e.actor, True)
        elif isinstance(e, ReactionAdded):
            assert live(e.post_id, e.object_id, e.object_kind) and e.actor in community.users
            assert (e.actor, e.object_id, e.reaction) not in reactions
            reactions.add((e.actor, e.object_id, e.reaction))
        elif isinstance(e, ReactionRemoved):
            reactions.remove((e.actor, e.object_id, e.reaction))
        elif isinstance(e, ModerationVerdict):
            assert e.actor == community.moderator and e.source == "person"
            assert live(e.post_id, e.object_id, e.object_kind)
        elif isinstance(e, Followed):
            assert (e.actor, e.followee) not in edges and e.followee in community.users
            edges.add((e.actor, e.followee))
        elif isinstance(e, Unfollowed):
            edges.remove((e.actor, e.followee))
        else:
            assert isinstance(e, NotificationsRead | NotificationsSeen)
            assert e.actor in community.users and e.up_to_at.tzinfo is UTC


def test_same_seed_same_events_and_another_seed_others() -> None:
    a = generate(Community(11, users=50), 3000)
    assert a == generate(Community(11, users=50), 3000)
    community = Community(11, users=50)
    first = list(community.events(500, start_at=T0))
    assert first == list(community.events(500, start_at=T0))  # a second call replays
    assert first == [g.event for g in a[:500]]
    other = generate(Community(12, users=50), 3000)
    assert {g.event.event_id for g in a}.isdisjoint(g.event.event_id for g in other)


def test_events_are_valid_causal_and_ordered() -> None:
    community = Community(5, users=60, spammers=2)
    items = generate(community, 6000, rate_per_s=3.0)
    assert len(items) == 6000
    check_causal(community, items)
    assert {type(g.event).__name__ for g in items} == set(EVENT_TYPES)
    for g in items[:1500]:  # the catalogue's codec takes them back unchanged
        assert decode(encode(g.event)) == g.event


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    users=st.integers(2, 15),
    spammers=st.integers(0, 2),
    n=st.integers(0, 400),
    rate=st.sampled_from([None, 0.01, 50.0, 100_000.0]),
)
def test_any_small_community_is_causal(
    seed: int, users: int, spammers: int, n: int, rate: float | None
) -> None:
    community = Community(seed, users=users, spammers=spammers, avg_follows=2.0)
    items = generate(community, n, rate_per_s=rate)
    assert len(items) == n
    check_causal(community, items)


def test_follow_graph_is_heavy_tailed() -> None:
    community = Community(3, users=200)
    followers = Counter(followee for _, followee in community.initial_follows)
    total = sum(followers.values())
    top = followers.most_common(2)  # the top 1% of 200 users
    assert sum(c for _, c in top) >= 0.10 * total  # ten times their even share
    assert top[0][1] >= 10 * total / len(community.users)
    # and it stays so once the stream has followed and unfollowed for a while
    edges: set[tuple[str, str]] = set()
    for e in community.events(20_000, start_at=T0):
        if isinstance(e, Followed):
            edges.add((e.actor, e.followee))
        elif isinstance(e, Unfollowed):
            edges.discard((e.actor, e.followee))
    counts = sorted(Counter(f for _, f in edges).values(), reverse=True)
    assert sum(counts[:2]) >= 0.10 * len(edges)


def test_duplicates_follow_the_ratio_and_only_repeat() -> None:
    items = generate(Community(8, users=80), 20_000)
    share = sum(g.duplicate for g in items) / len(items)
    assert 0.015 <= share <= 0.025  # the default 2%
    originals = [g.event for g in items if not g.duplicate]
    assert len({e.event_id for e in originals}) == len(originals)
    assert all(g.event.event_id in {e.event_id for e in originals} for g in items if g.duplicate)
    quiet = generate(Community(8, users=80, ratios=Ratios(duplicate=0.0)), 3000)
    assert not any(g.duplicate for g in quiet)


def test_spam_scores_as_spam_and_ham_as_ham() -> None:
    items = [g for g in generate(Community(21, users=100, spammers=3), 30_000) if not g.duplicate]

    def score(g: Generated, seen_before: int = 0) -> float:
        e = g.event
        title = e.title if isinstance(e, PostPublished | PostEdited) else ""
        return spam.score(e.body, title=title, author_seen_before=seen_before).score  # type: ignore[attr-defined]

    by_class = {c: [g for g in items if g.text_class == c] for c in ("ham", "spam", "borderline")}
    assert len(by_class["spam"]) > 500 and len(by_class["borderline"]) > 30
    # every spam text crosses the threshold, even with the scorer's strongest author damping
    assert min(score(g, seen_before=4) for g in by_class["spam"]) >= spam.THRESHOLD
    assert max(score(g) for g in by_class["ham"]) < spam.THRESHOLD
    assert min(score(g) for g in by_class["borderline"]) >= spam.THRESHOLD
    assert {g.event.actor for g in by_class["spam"]} <= {"promo-0", "promo-1", "promo-2"}
    # each borderline comment is reviewed "ham" by the moderator right after it
    for i, g in enumerate(items):
        if g.text_class == "borderline":
            review = items[i + 1].event
            assert isinstance(review, ModerationVerdict)
            assert (review.object_id, review.verdict) == (g.event.comment_id, "ham")  # type: ignore[attr-defined]
    spam_ids = {
        g.event.comment_id if isinstance(g.event, CommentPosted) else g.event.post_id  # type: ignore[attr-defined]
        for g in by_class["spam"]
    }
    verdicts = Counter(
        (g.event.verdict, "spam" if g.event.object_id in spam_ids else "other")
        for g in items
        if isinstance(g.event, ModerationVerdict)
    )
    assert verdicts[("ham", "spam")] > 0  # reversals of the machine on spam texts
    assert verdicts[("spam", "other")] > 0  # the moderator hides ham too


def test_the_mix_follows_the_ratios() -> None:
    only_posts = Ratios(**{a: 0.0 for a in ACTIONS if a != "post"}, duplicate=0.0, bootstrap=0.0)  # type: ignore[arg-type]
    items = generate(Community(1, users=20, ratios=only_posts), 200)
    assert {type(g.event) for g in items} == {PostPublished}
    counts = Counter(type(g.event).__name__ for g in generate(Community(2, users=100), 20_000))
    assert counts["ReactionAdded"] > counts["CommentPosted"] > counts["PostPublished"]
    assert counts["PostPublished"] > counts["PostDeleted"] > 0


def test_rate_sets_the_pace_in_event_time() -> None:
    events = [
        g.event
        for g in generate(
            Community(4, users=30, ratios=Ratios(duplicate=0.0)), 10_000, rate_per_s=10.0
        )
    ]
    span = (events[-1].occurred_at - events[0].occurred_at).total_seconds()
    assert 950 <= span <= 1050
    assert events[0].occurred_at - T0 < timedelta(seconds=2)
    eastern = datetime(2026, 3, 1, 3, 0, tzinfo=timezone(timedelta(hours=-5)))
    first = next(iter(Community(4).events(1, start_at=eastern)))
    assert first.occurred_at.tzinfo is UTC and first.occurred_at >= T0


def test_bad_knobs_are_refused() -> None:
    with pytest.raises(ConfigError, match="reply"):
        Ratios(reply=1.5)
    with pytest.raises(ConfigError, match="post"):
        Ratios(post=-1.0)
    with pytest.raises(ConfigError, match="at least one"):
        Ratios(**{a: 0.0 for a in ACTIONS})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="tenant"):
        Community(1, tenant="no spaces")
    with pytest.raises(ConfigError, match="users"):
        Community(1, users=1)
    with pytest.raises(ValueError, match="naive"):
        Community(1).events(1, start_at=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="rate_per_s"):
        Community(1).events(1, start_at=T0, rate_per_s=0.0)
    with pytest.raises(ValueError, match="whole number"):
        Community(1).events(-1, start_at=T0)


def test_demo_preset() -> None:
    demo = demo_community()
    assert (demo.tenant, len(demo.users), len(demo.spammers)) == ("demo", 300, 4)
    assert next(iter(demo.events(1, start_at=T0))) == next(
        iter(demo_community().events(1, start_at=T0))
    )


def test_generation_speed_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    community = demo_community()
    start = time.perf_counter()
    n = sum(1 for _ in community.events(100_000, start_at=T0))
    elapsed = time.perf_counter() - start
    assert n == 100_000
    with capsys.disabled():
        print(f"\ngenerator: 100,000 events in {elapsed:.2f} s ({n / elapsed:,.0f} events/s)")

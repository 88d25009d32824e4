"""Trend contributions, their diffs, buckets and the trending score."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.events import Event
from streams.domain.threads import to_ms
from streams.domain.trends import (
    ContributionChange,
    Dimension,
    Metric,
    TrendBucket,
    TrendContribution,
    TrendingItem,
    bucket_start_ms,
    contributions,
    count_buckets,
    diff_contributions,
    score,
    trending,
)
from tests.streams.domain.thread_builders import (
    POST,
    TENANT,
    comment,
    delete_comment,
    edit_post,
    fold,
    ms,
    post,
    react,
    unreact,
    verdict,
)

H = 3_600_000


def c(
    dimension: Dimension, value: str, metric: Metric, source: str, actor: str, at_ms: int
) -> TrendContribution:
    return TrendContribution(
        tenant=TENANT,
        dimension=dimension,
        dim_value=value,
        metric=metric,
        source_id=source,
        actor=actor,
        at_ms=at_ms,
    )


def busy_thread_events() -> list[Event]:
    return [
        post(title="Launch #Day", body="we #ship on #day one"),
        comment("c1", "bo", 5, "love it #Ship"),
        comment("c2", "cy", 6, "plain words"),
        react("bo", POST, 7),
        react("cy", "c1", 8, "wow"),
    ]


def everywhere(metric: Metric, source: str, actor: str, at_ms: int) -> list[TrendContribution]:
    return [
        c("post", POST, metric, source, actor, at_ms),
        c("tenant", TENANT, metric, source, actor, at_ms),
    ]


def test_contributions_per_dimension_sorted_by_key() -> None:
    thread = fold(*busy_thread_events())
    assert contributions(thread) == [
        c("hashtag", "day", "post", POST, "olga", ms(0)),
        c("hashtag", "ship", "comment", "c1", "bo", ms(5)),
        c("hashtag", "ship", "post", POST, "olga", ms(0)),
        c("post", POST, "comment", "c1", "bo", ms(5)),
        c("post", POST, "comment", "c2", "cy", ms(6)),
        c("post", POST, "post", POST, "olga", ms(0)),
        c("post", POST, "reaction", f"bo/{POST}/like", "bo", ms(7)),
        c("post", POST, "reaction", "cy/c1/wow", "cy", ms(8)),
        c("tenant", TENANT, "comment", "c1", "bo", ms(5)),
        c("tenant", TENANT, "comment", "c2", "cy", ms(6)),
        c("tenant", TENANT, "post", POST, "olga", ms(0)),
        c("tenant", TENANT, "reaction", f"bo/{POST}/like", "bo", ms(7)),
        c("tenant", TENANT, "reaction", "cy/c1/wow", "cy", ms(8)),
    ]


def test_a_comment_does_not_inherit_its_posts_hashtags() -> None:
    thread = fold(post(title="", body="#launch"), comment("c1", "bo", 1, "count me in"))
    tagged = [x.source_id for x in contributions(thread) if x.dimension == "hashtag"]
    assert tagged == [POST]


def test_an_empty_or_unseen_thread_contributes_nothing_but_early_comments_count() -> None:
    assert contributions(fold()) == []
    early = fold(comment("c1", "bo", 1, "first"))  # the post has not arrived yet
    assert contributions(early) == everywhere("comment", "c1", "bo", ms(1))


def test_deleting_a_comment_withdraws_it_and_the_reactions_to_it() -> None:
    events = busy_thread_events()
    thread = fold(*events)
    before = contributions(thread)
    thread.apply(delete_comment("c1", "bo", 9))
    assert diff_contributions(before, contributions(thread), version=thread.seq) == [
        ContributionChange(x, 6, True)
        for x in [
            c("hashtag", "ship", "comment", "c1", "bo", ms(5)),
            *[
                x
                for pair in zip(
                    everywhere("comment", "c1", "bo", ms(5)),
                    everywhere("reaction", "cy/c1/wow", "cy", ms(8)),
                    strict=True,
                )
                for x in pair
            ],
        ]
    ]


def test_spam_withdraws_the_whole_thread_and_a_person_brings_it_back() -> None:
    thread = fold(*busy_thread_events())
    original = contributions(thread)
    thread.apply(verdict(POST, "spam", source="machine", minute=10))
    spam_changes = diff_contributions(original, contributions(thread), version=thread.seq)
    assert contributions(thread) == []
    assert spam_changes == [ContributionChange(x, 6, True) for x in original]
    thread.apply(verdict(POST, "ham", source="person", minute=11))
    assert diff_contributions([], contributions(thread), version=thread.seq) == [
        ContributionChange(x, 7, False) for x in original
    ]


def test_one_account_spamming_comments_cannot_trend() -> None:
    spam = [comment(f"s{i}", "spammer", 1, f"buy now #deal {i}") for i in range(50)]
    people = [comment(f"h{i}", who, 2, "#cats rule") for i, who in enumerate(["ann", "ben", "cat"])]
    thread = fold(post(title="", body="hello"), *spam, *people)
    rows = [
        (x.dim_value, x.actor, x.at_ms) for x in contributions(thread) if x.dimension == "hashtag"
    ]
    assert [r[0] for r in rows].count("deal") == 50
    assert trending(rows, now_ms=ms(30), window_ms=H, baseline_windows=24) == [
        TrendingItem(key="cats", score=9.0, current=3, baseline=0.0)
    ]


def test_editing_in_a_tag_adds_it_at_creation_time_and_editing_out_withdraws_it() -> None:
    thread = fold(post(title="", body="plain"))
    v0 = contributions(thread)
    thread.apply(edit_post("olga", 20, body="now #Tagged"))
    v1 = contributions(thread)
    added = c("hashtag", "tagged", "post", POST, "olga", ms(0))
    assert diff_contributions(v0, v1, version=thread.seq) == [ContributionChange(added, 2, False)]
    thread.apply(edit_post("olga", 21, body="plain again"))
    assert diff_contributions(v1, contributions(thread), version=thread.seq) == [
        ContributionChange(added, 3, True)
    ]


def test_a_reaction_added_again_counts_at_its_new_time() -> None:
    thread = fold(post(), react("bo", POST, 1))
    v0 = contributions(thread)
    thread.apply(unreact("bo", POST, 2))
    thread.apply(react("bo", POST, 3))
    assert diff_contributions(v0, contributions(thread), version=thread.seq) == [
        ContributionChange(x, 4, False)
        for x in everywhere("reaction", f"bo/{POST}/like", "bo", ms(3))
    ]


_universe = [
    c(dim, value, metric, source, actor, at)
    for dim, value in (("tenant", TENANT), ("hashtag", "x"))
    for metric, source in (("post", "p1"), ("reaction", "a/p1/like"))
    for actor, at in (("ann", 1), ("ben", 2))
]


@given(st.sets(st.sampled_from(_universe)), st.sets(st.sampled_from(_universe)), st.integers(1, 9))
def test_a_diff_turns_old_into_new(
    old: set[TrendContribution], new: set[TrendContribution], version: int
) -> None:
    # a key appears once per side, as contributions() guarantees
    old_by_key = {x.key: x for x in sorted(old, key=lambda x: (x.key, x.actor))}
    new_by_key = {x.key: x for x in sorted(new, key=lambda x: (x.key, x.actor))}
    changes = diff_contributions(old_by_key.values(), new_by_key.values(), version=version)
    sink = dict(old_by_key)
    for change in changes:
        assert change.version == version
        if change.is_deleted:
            assert sink.pop(change.contribution.key) == change.contribution
        else:
            sink[change.contribution.key] = change.contribution
    assert sink == new_by_key
    assert diff_contributions(new_by_key.values(), new_by_key.values(), version=version) == []


# -- buckets --------------------------------------------------------------------------------------

MIDNIGHT = to_ms(datetime(2025, 3, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("at_ms", "granularity", "start"),
    [
        (MIDNIGHT, "day", MIDNIGHT),
        (MIDNIGHT - 1, "day", MIDNIGHT - 86_400_000),
        (MIDNIGHT + 86_399_999, "day", MIDNIGHT),
        (MIDNIGHT - 1, "hour", MIDNIGHT - H),
        (MIDNIGHT - 1, "minute", MIDNIGHT - 60_000),
        (MIDNIGHT + 59_999, "minute", MIDNIGHT),
        (MIDNIGHT + 60_000, "minute", MIDNIGHT + 60_000),
        (-1, "day", -86_400_000),
    ],
)
def test_bucket_starts(at_ms: int, granularity: str, start: int) -> None:
    assert bucket_start_ms(at_ms, granularity) == start  # type: ignore[arg-type]


def test_days_are_utc_days_whatever_the_local_zone() -> None:
    # 01:30 on 2 March in UTC+2 is 23:30 on 1 March in UTC
    local = datetime(2025, 3, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert bucket_start_ms(to_ms(local), "day") == MIDNIGHT - 86_400_000


def test_an_unknown_granularity_is_refused() -> None:
    with pytest.raises(ValueError, match="'week' is not one of minute, hour, day"):
        bucket_start_ms(0, "week")  # type: ignore[arg-type]


def test_count_buckets_splits_at_utc_midnight_and_counts_distinct_actors() -> None:
    rows = [
        c("hashtag", "x", "post", "p1", "ann", MIDNIGHT - 1),
        c("hashtag", "x", "comment", "c1", "ann", MIDNIGHT - 2),
        c("hashtag", "x", "comment", "c2", "ben", MIDNIGHT),
        c("hashtag", "x", "comment", "c3", "ben", MIDNIGHT + 5),
        c("post", "p1", "reaction", "ann/p1/like", "ann", MIDNIGHT + 7),
    ]

    def bucket(
        dimension: Dimension, value: str, start: int, counts: tuple[int, int, int, int]
    ) -> TrendBucket:
        posts, comments, reactions, actors = counts
        return TrendBucket(
            tenant=TENANT,
            dimension=dimension,
            dim_value=value,
            granularity="day",
            start_ms=start,
            posts=posts,
            comments=comments,
            reactions=reactions,
            actors=actors,
        )

    assert count_buckets(rows, granularity="day") == [
        bucket("hashtag", "x", MIDNIGHT - 86_400_000, (1, 1, 0, 1)),
        bucket("hashtag", "x", MIDNIGHT, (0, 2, 0, 1)),
        bucket("post", "p1", MIDNIGHT, (0, 0, 1, 1)),
    ]
    assert [(b.start_ms, b.actors) for b in count_buckets(rows[:4], granularity="minute")] == [
        (MIDNIGHT - 60_000, 1),
        (MIDNIGHT, 1),
    ]
    assert count_buckets([], granularity="hour") == []


# -- score and trending ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "baseline", "expected"),
    [
        (2, 0.0, 0.0),  # fewer than min_actors
        (3, 0.0, 9.0),  # new key: floor of 1
        (3, 0.5, 6.25),  # below the floor: divide by 1
        (8, 0.0, 64.0),
        (120, 100.0, 4.0),
        (5, 5.0, 0.0),  # no rise
        (4, 6.0, 0.0),  # a fall
        (6, 2.0, 8.0),
    ],
)
def test_score(current: int, baseline: float, expected: float) -> None:
    assert score(current, baseline, min_actors=3) == expected


def test_score_min_actors_and_floor_are_settings() -> None:
    assert score(2, 0.0, min_actors=2) == 4.0
    assert score(6, 0.0, min_actors=3, floor=4.0) == 9.0


NOW = 100 * H


def rows_for(
    key: str, actors: int, window: int, *, prefix: str = "u"
) -> list[tuple[str, str, int]]:
    """``actors`` distinct actors of ``key``, in window ``window`` (0 = current) before NOW."""
    return [(key, f"{prefix}{i}", NOW - window * H - 1 - i) for i in range(actors)]


def test_trending_ranks_by_surprise_then_current_then_key() -> None:
    rows = [
        *rows_for("busy", 120, 0),
        *[r for w in range(1, 25) for r in rows_for("busy", 100, w)],  # baseline 100
        *rows_for("fresh", 8, 0),  # 64.0
        *rows_for("rising", 6, 0),
        *[r for w in range(1, 25, 2) for r in rows_for("rising", 4, w)],  # baseline 2 -> 8.0
        *rows_for("tie-b", 4, 0),  # 16.0
        *rows_for("tie-a", 4, 0),  # 16.0
        *rows_for("steady", 5, 0),
        *[r for w in range(1, 25) for r in rows_for("steady", 5, w)],  # 0.0
        *rows_for("pair", 2, 0),  # below min_actors
    ]
    assert trending(rows, now_ms=NOW) == [
        TrendingItem(key="fresh", score=64.0, current=8, baseline=0.0),
        TrendingItem(key="tie-a", score=16.0, current=4, baseline=0.0),
        TrendingItem(key="tie-b", score=16.0, current=4, baseline=0.0),
        TrendingItem(key="rising", score=8.0, current=6, baseline=2.0),
        TrendingItem(key="busy", score=4.0, current=120, baseline=100.0),
    ]
    assert [i.key for i in trending(rows, now_ms=NOW, k=2)] == ["fresh", "tie-a"]
    assert trending(rows, now_ms=NOW, k=0) == []


def test_trending_ties_on_score_go_to_more_actors() -> None:
    # (4 - 0)^2 / 1 = 16 and (12 - 4)^2 / 4 = 16
    rows = [*rows_for("a-small", 4, 0), *rows_for("z-big", 12, 0)]
    rows += [r for w in range(1, 3) for r in rows_for("z-big", 4, w)]
    items = trending(rows, now_ms=NOW, baseline_windows=2)
    assert [(i.key, i.score) for i in items] == [("z-big", 16.0), ("a-small", 16.0)]


def test_trending_window_edges() -> None:
    rows = [
        ("k", "at-start", NOW - H),  # first ms of the current window: counts
        ("k", "b", NOW - 1),
        ("k", "c", NOW - 2),
        ("k", "future", NOW),  # at now: ignored
        ("k", "old", NOW - H - 1),  # last ms of the first baseline window
        ("k", "ancient", NOW - 3 * H - 1),  # beyond 2 baseline windows: ignored
    ]
    assert trending(rows, now_ms=NOW, baseline_windows=2) == [
        TrendingItem(key="k", score=6.25, current=3, baseline=0.5)
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{"window_ms": 0}, {"baseline_windows": 0}, {"min_actors": 0}, {"k": -1}],
)
def test_trending_refuses_bad_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="trending needs"):
        trending([], now_ms=NOW, **kwargs)


_row = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["ann", "ben", "cat", "dan", "eve"]),
    st.integers(NOW - 5 * H, NOW + H),
)


@given(st.lists(_row, max_size=40), st.lists(st.integers(0, 39), max_size=40), st.randoms())
def test_trending_depends_only_on_distinct_actors_per_window(
    rows: list[tuple[str, str, int]], repeats: list[int], rnd: random.Random
) -> None:
    base = trending(rows, now_ms=NOW, baseline_windows=3, min_actors=2)
    # repeat some rows, shift repeats within their window, and shuffle: same answer
    noisy = list(rows)
    for i in repeats:
        if rows:
            key, actor, at_ms = rows[i % len(rows)]
            window_start = NOW - ((NOW - 1 - at_ms) // H + 1) * H if at_ms < NOW else at_ms
            noisy.append((key, actor, window_start))
    rnd.shuffle(noisy)
    assert trending(noisy, now_ms=NOW, baseline_windows=3, min_actors=2) == base
    for item in base:
        assert item.score == score(item.current, item.baseline, min_actors=2) > 0

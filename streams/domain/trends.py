"""Trends: activity counters per time bucket, and a trending score that one account cannot move.

Contributions, not counters
    The trends sink never increments anything. Each thread's state is turned into *contributions*
    (``contributions``): one row per (source, dimension), where a source is a live post, a live
    comment, or an active reaction on a live object, and the dimensions are the tenant, the thread
    (``post``) and each hashtag. The adapter writes ``diff_contributions(last, now, version=seq)``
    into a ReplacingMergeTree(version, is_deleted) sorted by ``TrendContribution.key``, and
    ClickHouse aggregates at query time: per bucket ``countIf(metric = ...)`` and
    ``uniqExact(actor)``. A redelivered event cannot double a count (same rows), and a delete or a
    spam verdict withdraws exactly the rows it hid (``is_deleted``); a person's "ham" brings them
    back. ``count_buckets`` is the pure statement of that query.

Dimensions
    * ``tenant``: every source of the tenant (dim_value = tenant);
    * ``post``: every source in the thread (dim_value = the thread's post id);
    * ``hashtag``: a post or comment whose *own* title/body carries the tag (dim_value = the tag,
      lowercased, without ``#``; ``streams.domain.text.hashtags``). A comment does not inherit its
      post's tags, and reactions count in no hashtag: a tag trends by the people using it, not by
      the replies or likes a tagged post attracts.

Times: a post or comment counts at its creation (an edit that adds a tag does not make it new), a
reaction at the time it was (last) added. Buckets are UTC (epoch-aligned), minute, hour or day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from streams.domain.text import hashtags
from streams.domain.threads import ThreadState

__all__ = [
    "GRANULARITY_MS",
    "ContributionChange",
    "TrendBucket",
    "TrendContribution",
    "TrendingItem",
    "bucket_start_ms",
    "contributions",
    "count_buckets",
    "diff_contributions",
    "score",
    "trending",
]

Dimension = Literal["tenant", "post", "hashtag"]
Metric = Literal["post", "comment", "reaction"]
Granularity = Literal["minute", "hour", "day"]

GRANULARITY_MS: dict[str, int] = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}

ContributionKey = tuple[str, str, str, str, str]
"""(tenant, dimension, dim_value, metric, source_id): the identity of one contribution row."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TrendContribution:
    """One source counted once in one dimension.

    ``source_id`` is the post or comment id, or for a reaction ``"{actor}/{object_id}/{reaction}"``
    (``/`` is not an id character, so it is unambiguous). ``actor`` is who did it (the author of a
    post or comment, the reactor), ``at_ms`` when it counts.
    """

    tenant: str
    dimension: Dimension
    dim_value: str
    metric: Metric
    source_id: str
    actor: str
    at_ms: int

    @property
    def key(self) -> ContributionKey:
        return (self.tenant, self.dimension, self.dim_value, self.metric, self.source_id)


@dataclass(frozen=True, slots=True)
class ContributionChange:
    """One row for the sink: an upsert of ``contribution``, or its withdrawal when ``is_deleted``.

    ``version`` is the thread's ``seq``: a contribution belongs to one thread, so its rows only
    ever get newer versions.
    """

    contribution: TrendContribution
    version: int
    is_deleted: bool


@lru_cache(maxsize=8192)
def _tags(title: str, body: str) -> tuple[str, ...]:
    # Contributions are re-derived on every event of a thread; texts rarely change, parse once.
    return tuple(hashtags(f"{title}\n{body}"))


def contributions(thread: ThreadState) -> list[TrendContribution]:
    """Every contribution the thread currently implies, sorted by key.

    Pure: equal states give equal lists. Only live objects count (not deleted, not spam, and not
    in a deleted or spam thread), and only active reactions on live objects.
    """
    tenant, post_id = thread.tenant, thread.post_id
    out: list[TrendContribution] = []

    def add(
        dimension: Dimension, value: str, metric: Metric, source: str, actor: str, at: int
    ) -> None:
        out.append(
            TrendContribution(
                tenant=tenant,
                dimension=dimension,
                dim_value=value,
                metric=metric,
                source_id=source,
                actor=actor,
                at_ms=at,
            )
        )

    scopes: tuple[tuple[Dimension, str], ...] = (("tenant", tenant), ("post", post_id))
    live = {o.object_id: o for o in thread.live_objects()}
    for obj in live.values():
        for dimension, value in scopes:
            add(dimension, value, obj.kind, obj.object_id, obj.author, obj.created_ms)
        for tag in _tags(obj.title, obj.body):
            add("hashtag", tag, obj.kind, obj.object_id, obj.author, obj.created_ms)
    for reaction in thread.reactions.values():
        if reaction.object_id in live:
            source = f"{reaction.actor}/{reaction.object_id}/{reaction.reaction}"
            for dimension, value in scopes:
                add(dimension, value, "reaction", source, reaction.actor, reaction.at_ms)
    out.sort(key=lambda c: c.key)
    return out


def diff_contributions(
    old: Iterable[TrendContribution],
    new: Iterable[TrendContribution],
    *,
    version: int,
) -> list[ContributionChange]:
    """Rows turning ``old`` into ``new``: upserts of new or changed contributions, withdrawals
    (the old contribution with ``is_deleted``) of vanished ones; unchanged ones emit nothing.
    Sorted by key. Contributions are matched by ``key``; within one input a key must be unique
    (``contributions`` guarantees it), otherwise the last one wins.
    """
    before = {c.key: c for c in old}
    after = {c.key: c for c in new}
    changes = [
        ContributionChange(c, version, False) for k, c in after.items() if before.get(k) != c
    ]
    changes += [ContributionChange(c, version, True) for k, c in before.items() if k not in after]
    changes.sort(key=lambda change: change.contribution.key)
    return changes


# -- buckets --------------------------------------------------------------------------------------


def bucket_start_ms(at_ms: int, granularity: Granularity) -> int:
    """Start (epoch ms) of the UTC minute, hour or day holding ``at_ms``.

    Epoch-aligned, so days start at UTC midnight whatever the time zone of the original datetime.
    Raises ``ValueError`` for another granularity.
    """
    size = GRANULARITY_MS.get(granularity)
    if size is None:
        raise ValueError(f"granularity {granularity!r} is not one of {', '.join(GRANULARITY_MS)}")
    return at_ms - at_ms % size  # Python's % floors, so times before 1970 bucket correctly too


@dataclass(frozen=True, kw_only=True, slots=True)
class TrendBucket:
    """The counters of one dimension value in one bucket: sources by metric, and distinct actors
    over all metrics (an actor who posts and reacts counts once)."""

    tenant: str
    dimension: Dimension
    dim_value: str
    granularity: Granularity
    start_ms: int
    posts: int
    comments: int
    reactions: int
    actors: int


def count_buckets(
    rows: Iterable[TrendContribution], *, granularity: Granularity
) -> list[TrendBucket]:
    """Aggregate live contributions into buckets, as the query over the sink does; sorted by
    (tenant, dimension, dim_value, start_ms). Distinct actors of a longer span are *not* the sum
    of its buckets' actors: count them over the span's rows."""
    counts: dict[tuple[str, Dimension, str, int], tuple[dict[str, int], set[str]]] = {}
    for c in rows:
        start = bucket_start_ms(c.at_ms, granularity)
        metrics, actors = counts.setdefault(
            (c.tenant, c.dimension, c.dim_value, start), ({}, set())
        )
        metrics[c.metric] = metrics.get(c.metric, 0) + 1
        actors.add(c.actor)
    return [
        TrendBucket(
            tenant=tenant,
            dimension=dimension,
            dim_value=value,
            granularity=granularity,
            start_ms=start,
            posts=metrics.get("post", 0),
            comments=metrics.get("comment", 0),
            reactions=metrics.get("reaction", 0),
            actors=len(actors),
        )
        for (tenant, dimension, value, start), (metrics, actors) in sorted(counts.items())
    ]


# -- trending -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class TrendingItem:
    """A key that trends now: its score, distinct actors in the current window, and the mean
    distinct actors per window over the baseline."""

    key: str
    score: float
    current: int
    baseline: float


def score(current: int, baseline: float, *, min_actors: int = 3, floor: float = 1.0) -> float:
    """How surprising ``current`` distinct actors are against an expected ``baseline``.

    ``score = (current - baseline) ** 2 / max(baseline, floor)`` when ``current >= min_actors``
    and ``current > baseline``, else 0.0.

    The term is Pearson's chi-square contribution of an observed count against its expectation,
    the comparison Mastodon makes for tags (distinct accounts today against what was expected):
    it grows with the square of the excess but is divided by the usual level, so a quiet key that
    jumps from 0 to 8 people (64.0) outranks a busy one going from 100 to 120 (4.0). Only rises
    score, and ``min_actors`` keeps a couple of people from making a trend; ``floor`` keeps a
    zero baseline from dividing by zero (a brand-new key scores ``current ** 2 / floor``). Counting
    distinct *actors* (never posts or reactions) is what stops one account from making a trend,
    however much it writes. No time decay is applied: the window is the recency.
    """
    if current < min_actors or current <= baseline:
        return 0.0
    return (current - baseline) ** 2 / max(baseline, floor)


def trending(
    rows: Iterable[tuple[str, str, int]],
    *,
    now_ms: int,
    window_ms: int = 3_600_000,
    baseline_windows: int = 24,
    k: int = 10,
    min_actors: int = 3,
) -> list[TrendingItem]:
    """The ``k`` keys with the highest positive ``score``, from ``(key, actor, at_ms)`` rows.

    current = distinct actors of the key in ``[now_ms - window_ms, now_ms)``; baseline = the mean,
    over the ``baseline_windows`` windows of the same length before it, of the distinct actors
    per window (windows without rows count as 0). Rows outside those windows (including any at or
    after ``now_ms``) are ignored, and repeating a row changes nothing. Ranked by score, then
    current, descending, then key ascending. With ``now_ms`` and ``window_ms`` on bucket
    boundaries the same numbers come from SQL over the contribution rows, feeding ``score``.

    Raises ``ValueError`` if ``window_ms``, ``baseline_windows`` or ``min_actors`` is below 1, or
    ``k`` below 0.
    """
    if window_ms < 1 or baseline_windows < 1 or min_actors < 1 or k < 0:
        raise ValueError(
            "trending needs window_ms >= 1, baseline_windows >= 1, min_actors >= 1 and k >= 0; "
            f"got {window_ms}, {baseline_windows}, {min_actors} and {k}"
        )
    # windows[key][i]: actors in window i, 0 = current, 1..baseline_windows = before it
    windows: dict[str, dict[int, set[str]]] = {}
    for key, actor, at_ms in rows:
        if at_ms >= now_ms:
            continue
        index = (now_ms - 1 - at_ms) // window_ms
        if index <= baseline_windows:
            windows.setdefault(key, {}).setdefault(index, set()).add(actor)
    items: list[TrendingItem] = []
    for key, by_window in windows.items():
        current = len(by_window.get(0, ()))
        baseline = sum(len(a) for i, a in by_window.items() if i > 0) / baseline_windows
        value = score(current, baseline, min_actors=min_actors)
        if value > 0:
            items.append(TrendingItem(key=key, score=value, current=current, baseline=baseline))
    items.sort(key=lambda item: (-item.score, -item.current, item.key))
    return items[:k]

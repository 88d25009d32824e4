"""Trend reads: counters per time bucket and the trending keys, aggregated at query time.

``trend_contributions`` holds one row per (source, dimension); FINAL keeps the live ones, so a
count is ``countIf`` over rows and distinct actors are ``uniqExact(actor)`` over the span asked
for (never a sum of smaller spans). Semantics are those of ``streams.domain.trends``
(``count_buckets``, ``trending`` and ``score``); buckets are epoch-aligned UTC minutes, hours or
days, with the same floor as ``bucket_start_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass

from consumers.rows import with_database
from infra.clickhouse import ClickHouse

__all__ = ["GRANULARITY_MS", "TrendCount", "TrendingItem", "score", "trend_counts", "trending"]

GRANULARITY_MS: dict[str, int] = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
DIMENSIONS: frozenset[str] = frozenset({"tenant", "post", "hashtag"})


@dataclass(frozen=True, kw_only=True, slots=True)
class TrendCount:
    """Live sources by metric and distinct actors (over all metrics) in one bucket."""

    start_ms: int
    posts: int
    comments: int
    reactions: int
    actors: int


@dataclass(frozen=True, kw_only=True, slots=True)
class TrendingItem:
    """A trending key: its score, distinct actors in the current window, and the mean distinct
    actors per window over the baseline windows."""

    key: str
    score: float
    current: int
    baseline: float


def _check_dimension(dimension: str) -> None:
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension {dimension!r} is not one of {', '.join(sorted(DIMENSIONS))}")


# Bounds compare in milliseconds: a DateTime64 cannot hold "no upper bound" (year 2300).
_MIN_MS = -2_208_988_800_000
_END_MS = 10_413_792_000_000
_COUNTS = """
    WITH toUnixTimestamp64Milli(counted_at) AS ms
    SELECT ms - positiveModulo(ms, {size:Int64}) AS start_ms,
           countIf(metric = 'post'), countIf(metric = 'comment'), countIf(metric = 'reaction'),
           uniqExact(actor)
    FROM {db}.trend_contributions FINAL
    WHERE tenant = {tenant:String} AND dimension = {dimension:String}
      AND dim_value = {dim_value:String}
      AND ms >= {since_ms:Int64} AND ms < {until_ms:Int64}
    GROUP BY start_ms
    ORDER BY start_ms
"""


def trend_counts(
    ch: ClickHouse,
    *,
    tenant: str,
    dimension: str,
    dim_value: str,
    granularity: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> list[TrendCount]:
    """Buckets of ``(dimension, dim_value)`` that have live contributions, oldest first;
    optionally only contributions in ``[since_ms, until_ms)``. One query.
    Raises ``ValueError`` for an unknown dimension or granularity."""
    _check_dimension(dimension)
    size = GRANULARITY_MS.get(granularity)
    if size is None:
        raise ValueError(f"granularity {granularity!r} is not one of {', '.join(GRANULARITY_MS)}")
    found = ch.rows(
        with_database(_COUNTS, ch.database),
        parameters={
            "tenant": tenant,
            "dimension": dimension,
            "dim_value": dim_value,
            "size": size,
            "since_ms": _MIN_MS if since_ms is None else since_ms,
            "until_ms": _END_MS if until_ms is None else until_ms,
        },
    )
    return [
        TrendCount(
            start_ms=int(r[0]),
            posts=int(r[1]),
            comments=int(r[2]),
            reactions=int(r[3]),
            actors=int(r[4]),
        )
        for r in found
    ]


# Distinct actors per key and window (w = 0: the current window, 1..N: the baseline windows).
# The window bounds compare as DateTime64 so the minmax index on counted_at skips old granules.
_TRENDING = """
    SELECT dim_value, sumIf(actors, w = 0) AS current, sumIf(actors, w > 0) AS before
    FROM (
        SELECT dim_value,
               intDiv({now_ms:Int64} - 1 - toUnixTimestamp64Milli(counted_at), {window_ms:Int64})
                   AS w,
               uniqExact(actor) AS actors
        FROM {db}.trend_contributions FINAL
        WHERE tenant = {tenant:String} AND dimension = {dimension:String}
          AND counted_at >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')
          AND counted_at < fromUnixTimestamp64Milli({now_ms:Int64}, 'UTC')
        GROUP BY dim_value, w
    )
    GROUP BY dim_value
    HAVING current >= {min_actors:UInt32} AND current * {windows:UInt32} > before
"""


def score(current: int, baseline: float, *, min_actors: int = 3, floor: float = 1.0) -> float:
    """``(current - baseline) ** 2 / max(baseline, floor)`` when ``current >= min_actors`` and
    ``current > baseline``, else 0.0: the formula of ``streams.domain.trends.score`` (Pearson's
    chi-square term of the observed distinct actors against the baseline), evaluated the same way
    in Python so a key scores bit for bit what the domain function gives."""
    if current < min_actors or current <= baseline:
        return 0.0
    return (current - baseline) ** 2 / max(baseline, floor)


def trending(
    ch: ClickHouse,
    *,
    tenant: str,
    dimension: str = "hashtag",
    now_ms: int,
    window_ms: int = 3_600_000,
    baseline_windows: int = 24,
    k: int = 10,
    min_actors: int = 3,
) -> list[TrendingItem]:
    """The ``k`` values of ``dimension`` with the highest positive ``score``; ranked by score,
    then current, descending, then key ascending.

    ClickHouse counts, per key, the distinct actors of live contributions in the current window
    ``[now_ms - window_ms, now_ms)`` and in each of the ``baseline_windows`` windows of the same
    length before it, and keeps the keys with ``current >= min_actors`` and
    ``current * baseline_windows > sum of baseline windows`` (the only ones that can score);
    ``baseline`` is that sum divided by ``baseline_windows`` (windows without rows count 0),
    and the score is computed here with ``score``, as ``streams.domain.trends.trending`` does.
    One query. Raises ``ValueError`` if ``window_ms``, ``baseline_windows`` or ``min_actors`` is
    below 1, ``k`` below 0, or the dimension is unknown.
    """
    _check_dimension(dimension)
    if window_ms < 1 or baseline_windows < 1 or min_actors < 1 or k < 0:
        raise ValueError(
            "trending needs window_ms >= 1, baseline_windows >= 1, min_actors >= 1 and k >= 0; "
            f"got {window_ms}, {baseline_windows}, {min_actors} and {k}"
        )
    found = ch.rows(
        with_database(_TRENDING, ch.database),
        parameters={
            "tenant": tenant,
            "dimension": dimension,
            "now_ms": now_ms,
            "window_ms": window_ms,
            "since_ms": now_ms - window_ms * (baseline_windows + 1),
            "min_actors": min_actors,
            "windows": baseline_windows,
        },
    )
    items: list[TrendingItem] = []
    for key, current, before in found:
        baseline = int(before) / baseline_windows
        value = score(int(current), baseline, min_actors=min_actors)
        if value > 0:
            items.append(
                TrendingItem(key=key, score=value, current=int(current), baseline=baseline)
            )
    items.sort(key=lambda item: (-item.score, -item.current, item.key))
    return items[:k]

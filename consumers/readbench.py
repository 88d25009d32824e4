"""Benchmark: FINAL against argMax for the feed page and the inbox, on unmerged parts.

``python -m consumers.readbench [--rows 1000000] [--runs 40] [--parts 20]`` builds a scratch
database (``{database}_readbench``, dropped at the end) holding ``rows`` feed rows of 10 000
viewers and as many notification groups, written in ``parts`` inserts plus 4 of rewrites with
merges stopped (so every read has to collapse versions across parts), a fifth of the keys
rewritten once by a newer version and 2% deleted. It then times, from Python over HTTP like the
read API, the feed candidates query and the inbox query both ways for the same random viewers,
and prints median and 95th percentile latencies and the ratio argMax / FINAL; then again after
``OPTIMIZE ... FINAL`` (one part per table).

Both ways return the same rows (checked on every run) except on equal versions, where only FINAL
is right (ReplacingMergeTree keeps the last insert, argMax an arbitrary row).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from consumers.inbox import _MARKS, _NOTIFICATIONS
from consumers.queries import _CANDIDATES
from consumers.rows import with_database
from infra.clickhouse import ClickHouse
from infra.migrations import migrate
from infra.settings import Settings

VIEWERS = 10_000
FOLLOWS = 50  # every viewer follows the next 50 users; pushed rows come from them

_FEED_ARGMAX = """
    WITH followees AS (
        SELECT followee FROM {db}.follows_state FINAL
        WHERE tenant = {tenant:String} AND follower = {viewer:String}
    ),
    pulled AS (
        SELECT author FROM {db}.author_state FINAL
        WHERE tenant = {tenant:String} AND read_fanout = 1 AND author IN followees
    )
    SELECT activity_id, r.1 AS kind, r.2 AS author, r.3 AS post_id,
           toUnixTimestamp64Milli(r.4) AS created_ms
    FROM (
        SELECT owner, activity_id,
               argMax(tuple(kind, author, post_id, created_at, is_deleted), version) AS r
        FROM {db}.feed_items
        WHERE tenant = {tenant:String} AND (owner = {viewer:String} OR owner IN pulled)
        GROUP BY owner, activity_id
    )
    WHERE r.5 = 0
      AND if(owner = {viewer:String},
             author = {viewer:String} OR {keep_unfollowed:UInt8} = 1 OR author IN followees,
             author = owner)
      AND kind IN {kinds:Array(String)}
      AND ({has_cursor:UInt8} = 0
           OR created_ms < {before_ms:Int64}
           OR ({has_id:UInt8} = 1 AND created_ms = {before_ms:Int64}
               AND activity_id < {before_id:String}))
    ORDER BY created_ms DESC, activity_id DESC
    LIMIT 1 BY activity_id
    LIMIT {fetch:UInt32}
"""

_INBOX_ARGMAX = """
    SELECT g.kind, g.object_kind, g.object_id, g.post_id, g.actor_count, g.latest_actors,
           toUnixTimestamp64Milli(g.first_at), toUnixTimestamp64Milli(g.last_at), g.excerpt,
           g.last_at > greatest(m.read_at,
                                m.reads[concat(g.kind, ':', g.object_kind, ':', g.object_id)]),
           g.last_at > m.seen_at
    FROM (
        SELECT kind, object_kind, object_id, r.1 AS post_id, r.2 AS actor_count,
               r.3 AS latest_actors, r.4 AS first_at, r.5 AS last_at, r.6 AS excerpt
        FROM (
            SELECT kind, object_kind, object_id,
                   argMax(tuple(post_id, actor_count, latest_actors, first_at, last_at, excerpt,
                                is_deleted), version) AS r
            FROM {db}.notification_groups
            WHERE tenant = {tenant:String} AND recipient = {recipient:String}
            GROUP BY kind, object_kind, object_id
        )
        WHERE r.7 = 0
        ORDER BY last_at DESC, kind, object_kind, object_id
        LIMIT {limit:UInt32}
    ) AS g
    CROSS JOIN (MARKS) AS m
    ORDER BY g.last_at DESC, g.kind, g.object_kind, g.object_id
""".replace("MARKS", _MARKS)

_T0 = 1_700_000_000_000


# Synthetic rows, generated in the server. Viewer u{n % VIEWERS} owns feed row n, written by one
# of the FOLLOWS users after the viewer (whom the viewer follows); every 100th user is
# read-fanout. A "rewrite" inserts 5% of the keys again with a newer version and 2% deleted.
_FEED_ROWS = """
    INSERT INTO {db}.feed_items
    SELECT 't', concat('u', toString(number % {viewers:UInt64})),
           concat('post/p', toString(number)), 'post',
           concat('u', toString((number % {viewers:UInt64} + 1
                                 + intDiv(number, {viewers:UInt64}) % {follows:UInt64})
                                % {viewers:UInt64})),
           concat('p', toString(number)),
           fromUnixTimestamp64Milli(toInt64({t0:Int64} + number * 1000), 'UTC'),
           {t0:Int64} + number * 1000 + {version:UInt64}, number % 50 = 7 AND {rewrite:UInt8}
    FROM numbers({start:UInt64}, {count:UInt64})
    WHERE {rewrite:UInt8} = 0 OR number % 20 = {slice:UInt64} OR number % 50 = 7
"""
_GROUP_ROWS = """
    INSERT INTO {db}.notification_groups
    SELECT 't', concat('u', toString(number % {viewers:UInt64})),
           ['comment', 'reaction', 'mention'][number % 3 + 1], 'post',
           concat('p', toString(number)), concat('p', toString(number)),
           number % 7 + 1 + {version:UInt64}, ['a', 'b', 'c'],
           fromUnixTimestamp64Milli(toInt64({t0:Int64} + number * 1000), 'UTC'),
           fromUnixTimestamp64Milli(toInt64({t0:Int64} + number * 1000 + {late:Int64}), 'UTC'),
           'Launch day', 1 + {version:UInt64}, number % 50 = 7 AND {rewrite:UInt8}
    FROM numbers({start:UInt64}, {count:UInt64})
    WHERE {rewrite:UInt8} = 0 OR number % 20 = {slice:UInt64} OR number % 50 = 7
"""
_FOLLOWS_ROWS = """
    INSERT INTO {db}.follows_state
    SELECT 't', concat('u', toString(number % {viewers:UInt64})),
           concat('u', toString((number % {viewers:UInt64} + 1 + intDiv(number, {viewers:UInt64}))
                                % {viewers:UInt64})),
           fromUnixTimestamp64Milli({t0:Int64}, 'UTC'), 1, 0
    FROM numbers({count:UInt64})
"""
_AUTHOR_ROWS = """
    INSERT INTO {db}.author_state
    SELECT 't', concat('u', toString(number)), number % 100 = 0, 1000, 1
    FROM numbers({viewers:UInt64})
"""


def _fill(ch: ClickHouse, rows: int, *, parts: int) -> None:
    db = ch.database
    for table in ("feed_items", "notification_groups"):
        ch.command(with_database("SYSTEM STOP MERGES {db}." + table, db))
    common = {"viewers": VIEWERS, "follows": FOLLOWS, "t0": _T0}
    chunk = rows // parts
    for i in range(parts):
        for sql in (_FEED_ROWS, _GROUP_ROWS):
            ch.command(
                with_database(sql, db),
                parameters={
                    **common,
                    "start": i * chunk,
                    "count": chunk,
                    "version": 0,
                    "rewrite": 0,
                    "slice": 0,
                    "late": 500,
                },
            )
    for i in range(4):  # each slice of rewrites is a part of its own
        for sql in (_FEED_ROWS, _GROUP_ROWS):
            ch.command(
                with_database(sql, db),
                parameters={
                    **common,
                    "start": 0,
                    "count": rows,
                    "version": 1 + i,
                    "rewrite": 1,
                    "slice": i,
                    "late": 900,
                },
            )
    ch.command(with_database(_FOLLOWS_ROWS, db), parameters={**common, "count": VIEWERS * FOLLOWS})
    ch.command(with_database(_AUTHOR_ROWS, db), parameters=common)


def _time(run: Callable[[], list[tuple[Any, ...]]]) -> tuple[float, list[tuple[Any, ...]]]:
    start = time.perf_counter()
    rows = run()
    return (time.perf_counter() - start) * 1000, rows


def _report(name: str, final_ms: list[float], argmax_ms: list[float]) -> None:
    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95) - 1]

    f, a = statistics.median(final_ms), statistics.median(argmax_ms)
    print(f"  {name:<14} FINAL  median {f:7.1f} ms  p95 {p95(final_ms):7.1f} ms")
    print(
        f"  {'':<14} argMax median {a:7.1f} ms  p95 {p95(argmax_ms):7.1f} ms"
        f"  (argMax / FINAL = {a / f:.2f})"
    )


def _compare(ch: ClickHouse, *, runs: int, seed: int) -> None:
    rng = random.Random(seed)
    feed_final: list[float] = []
    feed_argmax: list[float] = []
    inbox_final: list[float] = []
    inbox_argmax: list[float] = []
    sqls = {
        name: with_database(sql, ch.database)
        for name, sql in (
            ("feed_final", _CANDIDATES),
            ("feed_argmax", _FEED_ARGMAX),
            ("inbox_final", _NOTIFICATIONS),
            ("inbox_argmax", _INBOX_ARGMAX),
        )
    }
    for n in range(runs + 3):
        user = f"u{rng.randrange(VIEWERS)}"
        feed = {
            "tenant": "t",
            "viewer": user,
            "kinds": ["post"],
            "fetch": 42,
            "keep_unfollowed": 0,
            "has_cursor": 0,
            "before_ms": 0,
            "has_id": 0,
            "before_id": "",
        }
        inbox = {"tenant": "t", "recipient": user, "limit": 50}
        pairs = [
            (feed_final, feed_argmax, "feed", feed),
            (inbox_final, inbox_argmax, "inbox", inbox),
        ]
        for final_list, argmax_list, name, params in pairs:
            # alternate which goes first so neither always enjoys a warmer cache
            order = [("final", final_list), ("argmax", argmax_list)]
            results = {}
            for way, out in order if n % 2 else reversed(order):
                sql = sqls[f"{name}_{way}"]
                ms, results[way] = _time(
                    lambda sql=sql, params=params: ch.rows(  # type: ignore[misc]
                        sql, parameters=params
                    )
                )
                if n >= 3:  # the first runs warm caches up
                    out.append(ms)
            if results["final"] != results["argmax"]:
                raise AssertionError(f"{name} differs for {user}: FINAL and argMax disagree")
    print(f"  {runs} runs each, random viewers, the same rows returned both ways")
    _report("feed page", feed_final, feed_argmax)
    _report("notifications", inbox_final, inbox_argmax)


def measure(settings: Settings, *, rows: int, runs: int, parts: int = 20, seed: int = 7) -> None:
    """Build the scratch database, time both ways, print the figures, drop the database."""
    bench = settings.with_overrides(clickhouse_database=f"{settings.clickhouse_database}_readbench")
    ch = ClickHouse(bench)
    ch.command(f"DROP DATABASE IF EXISTS `{ch.database}`")
    try:
        migrate(ch)
        started = time.perf_counter()
        _fill(ch, rows, parts=parts)
        ((count, part_count),) = ch.rows(
            "SELECT sum(rows), count() FROM system.parts WHERE database = {db:String} "
            "AND table = 'feed_items' AND active",
            parameters={"db": ch.database},
        )
        print(
            f"filled in {time.perf_counter() - started:.1f} s: feed_items {count} rows in "
            f"{part_count} parts (merges stopped); notification_groups likewise"
        )
        _compare(ch, runs=runs, seed=seed)
        for table in ("feed_items", "notification_groups"):
            ch.command(f"SYSTEM START MERGES `{ch.database}`.{table}")
            ch.command(f"OPTIMIZE TABLE `{ch.database}`.{table} FINAL")
        print("after OPTIMIZE FINAL (one part per table, the state merges tend to):")
        _compare(ch, runs=runs, seed=seed)
    finally:
        ch.command(f"DROP DATABASE IF EXISTS `{ch.database}`")
        ch.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m consumers.readbench", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--parts", type=int, default=20)
    args = parser.parse_args(argv)
    measure(Settings.from_env(), rows=args.rows, runs=args.runs, parts=args.parts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

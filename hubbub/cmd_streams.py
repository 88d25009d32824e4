"""``hubbub worker``, ``hubbub sink`` and ``hubbub dlq list | replay``."""

from __future__ import annotations

import argparse
import sys

from infra.settings import Settings
from streams.app import StreamConfig, run_worker
from streams.domain.feeds import FeedConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    w = sub.add_parser("worker", help="run the stream processors (Faust); run several to scale")
    w.add_argument(
        "--web-port",
        type=int,
        default=6066,
        help="the worker's local web port (one per worker on a machine)",
    )
    w.add_argument(
        "--feed-kinds",
        default="post",
        help="activity kinds that enter feeds, comma separated: post,comment,reaction",
    )
    w.add_argument(
        "--backfill",
        type=int,
        default=100,
        help="activities copied into a feed on follow (default 100)",
    )
    w.add_argument(
        "--read-fanout-threshold",
        type=int,
        default=10_000,
        help="followers above which an author's posts are merged at read time",
    )
    w.add_argument("--batch", type=int, default=2000, help="events per processing batch")
    w.add_argument(
        "--batch-within-ms",
        type=int,
        default=100,
        help="longest an agent waits to fill a batch (latency against cost per event)",
    )
    w.add_argument(
        "--gap-stall-s",
        type=float,
        default=15.0,
        help="re-read a partition whose commit stood still this long with records past it",
    )
    w.add_argument(
        "--app-id",
        default=None,
        help="consumer group and state name (a new one replays the log from offset 0)",
    )
    w.add_argument("--loglevel", default="warning")
    w.set_defaults(handler=run_worker_command)

    k = sub.add_parser("sink", help="load the derived topics and raw events into ClickHouse")
    k.add_argument(
        "--group",
        default=None,
        help="consumer group (default {prefix}-sink; a new one reloads everything)",
    )
    k.add_argument(
        "--batch-rows",
        type=int,
        default=50_000,
        help="rows held before an insert when the sink is behind (fewer, larger parts)",
    )
    k.add_argument(
        "--batch-ms",
        type=int,
        default=200,
        help="longest a row waits in the sink before its batch is inserted",
    )
    k.set_defaults(handler=run_sink_command)

    d = sub.add_parser("dlq", help="dead letters: records the processors or sinks refused")
    actions = d.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = actions.add_parser("list", help="show the dead letters with their reason and origin")
    ls.add_argument("--limit", type=int, default=100)
    ls.set_defaults(handler=run_dlq_list)
    rp = actions.add_parser("replay", help="re-drive dead letters to their original topic")
    rp.add_argument("--dry-run", action="store_true")
    rp.set_defaults(handler=run_dlq_replay)


def stream_config(args: argparse.Namespace, settings: Settings) -> StreamConfig:
    kinds = frozenset(k.strip() for k in args.feed_kinds.split(",") if k.strip())
    return StreamConfig(
        feed=FeedConfig(
            kinds=kinds,
            backfill_limit=args.backfill,
            read_fanout_threshold=args.read_fanout_threshold,
        ),
        batch_size=args.batch,
        batch_within_s=args.batch_within_ms / 1000,
        gap_stall_s=args.gap_stall_s,
        web_port=args.web_port,
        # Absolute: the Faust worker changes into this folder, so a relative one would not resolve.
        workdir=(settings.state_dir / "streams" / f"worker-{args.web_port}").resolve(),
        app_id=args.app_id,
    )


def tune_gc() -> None:
    """Fewer cyclic garbage collections in a long-running worker or sink.

    Both allocate many short-lived objects per event (decoded events, rows, dicts), and with
    Python's default thresholds (700 allocations per young collection) the collector ran so often,
    and its full collections walked so many cached states, that it cost about a tenth of a
    worker's CPU (measured with ``make bench``: workers 215-225 ms of CPU per 1,000 events
    before, about 195 after). Everything allocated while starting is frozen out of collection
    altogether. Cycles are still collected, only less often.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def run_worker_command(args: argparse.Namespace, settings: Settings) -> int:
    tune_gc()
    return run_worker(settings, stream_config(args, settings), loglevel=args.loglevel)


def run_sink_command(args: argparse.Namespace, settings: Settings) -> int:
    import logging
    import signal
    import threading

    from consumers.sink import Sink

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    tune_gc()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with Sink(
        settings,
        group_id=args.group or f"{settings.topic_prefix}-sink",
        batch_rows=args.batch_rows,
        batch_ms=args.batch_ms,
    ) as sink:
        stats = sink.run(stop)
    print(
        f"sink: {stats.rows_written:,} rows written in {stats.batches:,} batches, "
        f"{stats.dead_letters} dead letters",
        file=sys.stderr,
    )
    return 0


def run_dlq_list(args: argparse.Namespace, settings: Settings) -> int:
    from consumers.deadletters import read_dead_letters

    letters = read_dead_letters(settings, limit=args.limit)
    for letter in letters:
        print(
            f"{letter.dlq_offset}\t{letter.topic}[{letter.partition}]@{letter.offset}\t"
            f"{letter.stage}\t{letter.reason}"
        )
    print(f"{len(letters)} dead letter(s)", file=sys.stderr)
    return 0


def run_dlq_replay(args: argparse.Namespace, settings: Settings) -> int:
    from consumers.deadletters import replay_dead_letters

    count = replay_dead_letters(settings, dry_run=args.dry_run)
    verb = "would re-drive" if args.dry_run else "re-drove"
    print(f"{verb} {count} dead letter(s) to their original topics")
    return 0

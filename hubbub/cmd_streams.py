"""``hubbub worker``, ``hubbub sink`` and ``hubbub dlq list | replay``."""

from __future__ import annotations

import argparse
import sys

from infra.settings import Settings
from streams.app import StreamConfig, run_worker
from streams.domain.feeds import FeedConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    w = sub.add_parser("worker", help="run the stream processors (Faust); run several to scale")
    w.add_argument("--web-port", type=int, default=6066,
                   help="the worker's local web port (one per worker on a machine)")
    w.add_argument("--feed-kinds", default="post",
                   help="activity kinds that enter feeds, comma separated: post,comment,reaction")
    w.add_argument("--backfill", type=int, default=100,
                   help="activities copied into a feed on follow (default 100)")
    w.add_argument("--read-fanout-threshold", type=int, default=10_000,
                   help="followers above which an author's posts are merged at read time")
    w.add_argument("--batch", type=int, default=2000, help="events per processing batch")
    w.add_argument("--app-id", default=None,
                   help="consumer group and state name (a new one replays the log from offset 0)")
    w.add_argument("--loglevel", default="warning")
    w.set_defaults(handler=run_worker_command)

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
        feed=FeedConfig(kinds=kinds, backfill_limit=args.backfill,
                        read_fanout_threshold=args.read_fanout_threshold),
        batch_size=args.batch, web_port=args.web_port,
        workdir=settings.state_dir / "streams" / f"worker-{args.web_port}",
        app_id=args.app_id,
    )


def run_worker_command(args: argparse.Namespace, settings: Settings) -> int:
    return run_worker(settings, stream_config(args, settings), loglevel=args.loglevel)


def run_dlq_list(args: argparse.Namespace, settings: Settings) -> int:
    from consumers.deadletters import read_dead_letters

    letters = read_dead_letters(settings, limit=args.limit)
    for letter in letters:
        print(f"{letter.dlq_offset}\t{letter.topic}[{letter.partition}]@{letter.offset}\t"
              f"{letter.stage}\t{letter.reason}")
    print(f"{len(letters)} dead letter(s)", file=sys.stderr)
    return 0


def run_dlq_replay(args: argparse.Namespace, settings: Settings) -> int:
    from consumers.deadletters import replay_dead_letters

    count = replay_dead_letters(settings, dry_run=args.dry_run)
    verb = "would re-drive" if args.dry_run else "re-drove"
    print(f"{verb} {count} dead letter(s) to their original topics")
    return 0

"""``hubbub produce FILE.jsonl`` and ``hubbub import thread FILE``."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infra.settings import Settings
from producers.importers.thread import parse_thread, thread_events
from producers.jsonl import produce_lines
from producers.publisher import Publisher
from schemas.errors import ConfigError, PublishFailed


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("produce", help="publish events given as JSON lines")
    p.add_argument("file", type=Path, help="JSON lines file, one event per line ('-' for stdin)")
    p.set_defaults(handler=run_produce)

    imp = sub.add_parser("import", help="turn outside content into events and publish them")
    kinds = imp.add_subparsers(dest="kind", required=True, metavar="KIND")
    t = kinds.add_parser("thread", help="a blog post with its comment thread (signature lines)")
    t.add_argument("file", type=Path)
    t.add_argument(
        "--tenant", required=True, help="the platform or community the thread belongs to"
    )
    t.add_argument("--post-id", required=True, help="id of the post (stable: re-imports dedup)")
    t.add_argument("--post-author", required=True, help="user id of the blog's owner")
    t.add_argument(
        "--published-at",
        required=True,
        help="when the post was published, ISO-8601 with offset (e.g. 2009-03-02T09:00-05:00)",
    )
    t.add_argument(
        "--timezone",
        required=True,
        help="the blog's IANA zone for comment times, e.g. America/New_York",
    )
    where = t.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--first-comment-starts", help="the first line of the first comment (prefix)"
    )
    where.add_argument("--post-ends-at-line", type=int, help="last line number of the post body")
    t.add_argument("--title", default="", help="the post's title (the format does not carry one)")
    t.add_argument(
        "--id-namespace",
        default=None,
        help="namespace of the stable event ids; change it to import an edited file afresh",
    )
    t.add_argument(
        "--dry-run", action="store_true", help="print the events as JSON, publish nothing"
    )
    t.set_defaults(handler=run_import_thread)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def run_produce(args: argparse.Namespace, settings: Settings) -> int:
    console = Console(stderr=True)
    path: Path = args.file
    if str(path) != "-" and not path.is_file():
        raise ConfigError(f"{path}: no such file")
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    lines = text.splitlines()
    with Publisher(settings) as publisher, _progress(console) as progress:
        task = progress.add_task(f"publishing {path.name}", total=len(lines))
        report = produce_lines(lines, publisher, on_progress=lambda n: progress.advance(task, n))
    for err in report.rejected:
        print(f"{path}:{err.line}: rejected: {err.reason}", file=sys.stderr)
    if report.unsent:
        print(
            f"{len(report.unsent)} event(s) not acknowledged ({report.unsent_cause}):",
            file=sys.stderr,
        )
        for event_type, event_id in report.unsent:
            print(f"  unsent {event_type} {event_id}", file=sys.stderr)
    print(
        f"{report.published} published, {len(report.rejected)} rejected, "
        f"{len(report.unsent)} unsent ({path})"
    )
    return 0 if report.ok else 1


def run_import_thread(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.codec import to_json

    try:
        published_at = datetime.fromisoformat(args.published_at)
    except ValueError as exc:
        raise ConfigError(f"--published-at {args.published_at!r} is not ISO-8601") from exc
    if published_at.tzinfo is None:
        raise ConfigError("--published-at needs an offset (e.g. -05:00): no naive times")
    text = Path(args.file).read_text(encoding="utf-8")
    parsed = parse_thread(
        text,
        zone=args.timezone,
        title=args.title,
        first_comment_starts=args.first_comment_starts,
        post_ends_at_line=args.post_ends_at_line,
    )
    events = thread_events(
        parsed,
        tenant=args.tenant,
        post_id=args.post_id,
        post_author=args.post_author,
        post_published_at=published_at,
        id_namespace=args.id_namespace,
    )
    if args.dry_run:
        import json

        for event in events:
            print(json.dumps(to_json(event), ensure_ascii=False))
        return 0
    try:
        with Publisher(settings) as publisher:
            publisher.publish_many(events)
    except PublishFailed as exc:
        print(f"hubbub: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"imported {args.file}: 1 post and {len(events) - 1} comments published "
        f"to tenant {args.tenant}"
    )
    return 0

"""``hubbub demo``: the whole pipeline on a synthetic community, then what to look at."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from consumers.inbox import notifications, unread_counts
from consumers.queries import feed_page
from consumers.trends import trending
from hubbub.pipeline import Pipeline
from infra.clickhouse import ClickHouse
from infra.launchers import services
from infra.settings import Settings
from producers.generator import demo_community
from producers.publisher import Publisher
from schemas.events import Event


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on a synthetic community (make demo)")
    p.add_argument("--events", type=int, default=6000, help="events to publish (default 6000)")
    p.add_argument("--rate", type=float, default=300.0, help="events per second (default 300)")
    p.add_argument("--seed", default="7", help="seed of the synthetic community")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    console = Console()
    console.rule("hubbub demo")
    console.print(
        f"1. local services in {settings.state_dir}/ (Kafka {settings.kafka_bootstrap}, "
        f"ClickHouse {settings.clickhouse_url})"
    )
    services.up(settings, progress=lambda m: console.print(f"   {m}"))
    console.print("2. topics and tables; stream worker and ClickHouse sink")
    pipeline = Pipeline(settings, settings.state_dir / "demo").start()
    try:
        start_at = datetime.now(UTC).replace(microsecond=0)
        # A tenant of its own per run: the community's ids repeat with the seed, so a second
        # run into the same tenant would be taken as the first one published again (and
        # dropped), leaving the first run's feeds and no trend in the current minute.
        community = demo_community(args.seed, tenant=f"demo-{start_at:%Y%m%d-%H%M%S}")
        console.print(
            f"3. publishing {args.events:,} events of a {len(community.users)}-user "
            f"community (tenant {community.tenant}) at {args.rate:,.0f} events/s"
        )
        _publish(
            settings,
            community.events(args.events, start_at=start_at, rate_per_s=args.rate),
            args,
            console,
        )
        console.print("4. waiting for the workers and the sink to catch up ...")
        started = time.monotonic()
        pipeline.wait_quiet(timeout_s=300)
        console.print(f"   caught up {time.monotonic() - started:.1f} s after the last publish")
        _show(
            settings,
            community.tenant,
            max(community.popularity, key=lambda u: community.popularity[u]),
            console,
        )
    finally:
        pipeline.stop()
    console.rule()
    console.print("The services keep running. Look further with:")
    console.print(
        f"  curl '{settings.clickhouse_url}/?query=SHOW+TABLES+FROM+{settings.clickhouse_database}'"
    )
    console.print("  .venv/bin/hubbub worker & .venv/bin/hubbub sink &   # process new events")
    console.print("  .venv/bin/hubbub dlq list                           # refused records")
    console.print("  .venv/bin/hubbub infra down                         # stop the services")
    console.print(f"demo: {args.events:,} events published and projected into ClickHouse")
    return 0


def _publish(
    settings: Settings, events: Iterable[Event], args: argparse.Namespace, console: Console
) -> None:
    interval = 1.0 / args.rate
    with (
        Publisher(settings) as publisher,
        Progress(
            TextColumn("   publishing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task("publish", total=args.events)
        next_at = time.monotonic()
        for i, event in enumerate(events):
            publisher.publish(event)
            next_at += interval
            if i % 50 == 49:
                progress.advance(task, 50)
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        progress.update(task, completed=args.events)


def _show(settings: Settings, tenant: str, star: str, console: Console) -> None:
    ch = ClickHouse(settings)
    try:
        db = f"`{settings.clickhouse_database}`"
        counts = {
            name: ch.rows(
                f"SELECT count() FROM {db}.{name} FINAL WHERE tenant = {{tenant:String}}",
                parameters={"tenant": tenant},
            )[0][0]
            for name in (
                "events",
                "feed_items",
                "notification_groups",
                "trend_contributions",
                "content_state",
            )
        }
        console.print(
            f"5. ClickHouse now holds for {tenant}: "
            + ", ".join(f"{n:,} {name}" for name, n in counts.items())
        )
        spam = ch.rows(
            f"SELECT count() FROM {db}.content_state FINAL WHERE tenant = {{tenant:String}} "
            "AND spam = 1",
            parameters={"tenant": tenant},
        )[0][0]
        console.print(f"   moderation: {spam} posts and comments hidden as spam")
        page = feed_page(ch, tenant=tenant, viewer=star, limit=5)
        console.print(f"\n[bold]Home feed of {star}[/] (the most followed account), newest first:")
        for item in page.items:
            console.print(f"   {item.author:>10}  {item.kind:<8} {item.activity_id}")
        unread, unseen = unread_counts(ch, tenant=tenant, recipient=star)
        console.print(f"\n[bold]Notifications of {star}[/] ({unread} unread, {unseen} unseen):")
        for note in notifications(ch, tenant=tenant, recipient=star, limit=5):
            console.print(f"   {'*' if note.unread else ' '} {note.text}")
        now_ms = int(time.time() * 1000)
        console.print(
            "\n[bold]Trending hashtags[/] (distinct people in the last minute vs the 10 before):"
        )
        for trend in trending(
            ch,
            tenant=tenant,
            now_ms=now_ms,
            window_ms=60_000,
            baseline_windows=10,
            k=5,
            min_actors=2,
        ):
            console.print(
                f"   #{trend.key:<16} score {trend.score:7.1f}  "
                f"({trend.current} people now, baseline {trend.baseline:.1f})"
            )
    finally:
        ch.close()

"""``hubbub bench``: figures, not assertions. Prints a table and writes ``bench-results.json``.

Part 1 (producer): events per second encoded and published through the library (acks=all,
idempotent) against raw kafka-python sending the same pre-encoded bytes with the same producer
settings, measured alternately in the same run (median of several rounds), and the ratio; plus the
encode rate per event type. Later parts (pipeline throughput and latency) register themselves in
``BENCHES`` from their own modules.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hubbub.bench_pipeline import add_arguments, bench_latency, bench_throughput
from infra.kafka import (
    delete_topics,
    ensure_topics,
    event_topic_specs,
    make_producer,
    topic_name,
)
from infra.launchers import services
from infra.settings import Settings
from producers.publisher import Publisher
from schemas.codec import encode, record_headers
from schemas.events import CommentPosted, Event, stable_event_id
from schemas.examples import example_events

Bench = Callable[[Settings, argparse.Namespace, Console], dict[str, Any]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="run the benchmarks and print figures (make bench)")
    p.add_argument("--events", type=int, default=50_000, help="events per publish round")
    p.add_argument("--rounds", type=int, default=3, help="rounds per contender (median taken)")
    p.add_argument("--out", type=Path, default=Path("bench-results.json"))
    p.add_argument(
        "--only", choices=sorted(BENCHES), action="append", help="run only these parts (repeatable)"
    )
    add_arguments(p)
    p.set_defaults(handler=run)


def _comment_events(n: int, tenant: str) -> list[Event]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        CommentPosted(
            event_id=stable_event_id("bench", tenant, str(i)),
            occurred_at=t0 + timedelta(seconds=i),
            tenant=tenant,
            actor=f"user{i % 997}",
            post_id=f"p{i % 211}",
            comment_id=f"c{i}",
            body="A benchmark comment of ordinary length, with a mention of @user7 and a #tag.",
        )
        for i in range(n)
    ]


def bench_encode(settings: Settings, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """fastavro single-object encode rate per event type (events per second, median of 5)."""
    rates: dict[str, float] = {}
    for event in example_events():
        if event.event_type in rates:
            continue
        n = 20_000
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                encode(event)
            samples.append(n / (time.perf_counter() - start))
        rates[event.event_type] = round(statistics.median(samples))
    table = Table(title="encode rate (single-object Avro, events/s, median of 5)")
    table.add_column("event type")
    table.add_column("events/s", justify="right")
    for name, rate in rates.items():
        table.add_row(name, f"{rate:,.0f}")
    console.print(table)
    return {"encode_events_per_s": rates}


def bench_publish(settings: Settings, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Library publish (encode + send + acks=all) vs raw kafka-python sending pre-encoded bytes."""
    run_settings = replace(settings, topic_prefix=f"bench-{int(time.time())}")
    ensure_topics(run_settings, event_topic_specs())
    events = _comment_events(args.events, "bench")
    topic = topic_name(run_settings, "content")
    pre = [
        (e.key().encode(), encode(e), record_headers(e), int(e.occurred_at.timestamp() * 1000))
        for e in events
    ]
    # Both contenders' inputs are held in memory for the whole run, which a real publisher does
    # not do; frozen, the collector stops walking them (the library allocates more per event, so
    # it was charged more of that walking).
    gc.freeze()

    def library() -> float:
        with Publisher(run_settings) as publisher:
            start = time.perf_counter()
            for event in events:
                publisher.publish(event)
            publisher.flush()
            return len(events) / (time.perf_counter() - start)

    def raw() -> float:
        producer = make_producer(run_settings)
        try:
            start = time.perf_counter()
            for key, value, headers, ts in pre:
                producer.send(topic, value=value, key=key, headers=headers, timestamp_ms=ts)
            producer.flush()
            return len(pre) / (time.perf_counter() - start)
        finally:
            producer.close()

    lib_rates, raw_rates = [], []
    try:
        raw()  # warm-up: connections, metadata, JIT-free but page cache and broker log segments
        for _ in range(args.rounds):
            raw_rates.append(raw())
            lib_rates.append(library())
    finally:
        gc.unfreeze()
        if not args.keep_runs:
            delete_topics(run_settings, f"{run_settings.topic_prefix}.")
    lib, base = statistics.median(lib_rates), statistics.median(raw_rates)
    ratio = lib / base
    table = Table(title=f"publish {args.events:,} events, acks=all, median of {args.rounds}")
    table.add_column("contender")
    table.add_column("events/s", justify="right")
    table.add_row("raw kafka-python, pre-encoded bytes", f"{base:,.0f}")
    table.add_row("hubbub Publisher (encode + publish)", f"{lib:,.0f}")
    table.add_row("ratio library / raw (target >= 0.80)", f"{ratio:.2f}")
    console.print(table)
    return {
        "publish": {
            "events": args.events,
            "rounds": args.rounds,
            "library_events_per_s": round(lib),
            "raw_events_per_s": round(base),
            "library_rounds": [round(r) for r in lib_rates],
            "raw_rounds": [round(r) for r in raw_rates],
            "ratio": round(ratio, 3),
            "target_ratio": 0.8,
            "meets_target": ratio >= 0.8,
        }
    }


BENCHES: dict[str, Bench] = {
    "encode": bench_encode,
    "publish": bench_publish,
    "throughput": bench_throughput,
    "latency": bench_latency,
}


def run(args: argparse.Namespace, settings: Settings) -> int:
    console = Console()
    console.print(f"starting or reusing the local services in {settings.state_dir} ...")
    services.up(settings, progress=lambda m: console.print(f"  {m}"))
    from hubbub.cmd_infra import apply_schema

    apply_schema(settings)
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
    }
    for name, bench in BENCHES.items():
        if args.only and name not in args.only:
            continue
        results.update(bench(settings, args, console))
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"bench: wrote {args.out}")
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0

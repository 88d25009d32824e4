"""``hubbub infra up | down | status | migrate``: the local services and their schema."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from infra.clickhouse import ClickHouse
from infra.kafka import ensure_topics, event_topic_specs
from infra.launchers import services
from infra.launchers.common import ServicesStatus
from infra.migrations import migrate
from infra.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    infra = sub.add_parser("infra", help="local Kafka and ClickHouse, topics and migrations")
    actions = infra.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "up", help="start Kafka and ClickHouse in the background (idempotent)"
    ).set_defaults(handler=run_up)
    actions.add_parser("down", help="stop them (data stays in the state folder)").set_defaults(
        handler=run_down
    )
    actions.add_parser("status", help="show whether each service runs and answers").set_defaults(
        handler=run_status
    )
    actions.add_parser(
        "migrate", help="create the topics and apply ClickHouse migrations"
    ).set_defaults(handler=run_migrate)


def _print_status(report: ServicesStatus, console: Console) -> None:
    table = Table(title="hubbub services")
    for column in ("service", "state", "pid", "address", "log"):
        table.add_column(column)
    for s in report.services:
        state = "healthy" if s.healthy else ("running" if s.running else "stopped")
        if s.detail:
            state += f" ({s.detail})"
        table.add_row(s.name, state, str(s.pid or "-"), s.address, str(s.log_path))
    console.print(table)


def run_up(args: argparse.Namespace, settings: Settings) -> int:
    console = Console(stderr=True)
    report = services.up(settings, progress=lambda m: console.print(f"  {m}"))
    _print_status(report, Console())
    return 0 if report.healthy else 1


def run_down(args: argparse.Namespace, settings: Settings) -> int:
    services.down(settings)
    print(f"stopped the services of {settings.state_dir} (data kept)")
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    report = services.status(settings)
    _print_status(report, Console())
    return 0 if report.healthy else 3


def apply_schema(settings: Settings) -> tuple[list[str], list[str]]:
    """Create missing topics and apply pending migrations; returns (topics created, migrations)."""
    from hubbub import topology

    created = ensure_topics(settings, [*event_topic_specs(), *topology.derived_topic_specs()])
    ch = ClickHouse(settings)  # the connection is not bound to the database it creates
    try:
        applied = migrate(ch)
    finally:
        ch.close()
    return created, applied


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    created, applied = apply_schema(settings)
    print(
        f"topics: {len(created)} created ({', '.join(created) or 'all existed'}); "
        f"migrations: {len(applied)} applied ({', '.join(applied) or 'all applied before'})",
        file=sys.stdout,
    )
    return 0

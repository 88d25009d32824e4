"""``hubbub``: the one command line entry point. Thin: it parses, builds Settings, and dispatches."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from infra.settings import Settings
from schemas.errors import HubbubError

Handler = Callable[[argparse.Namespace, Settings], int]


def build_parser() -> argparse.ArgumentParser:
    from hubbub import cmd_infra, cmd_produce

    parser = argparse.ArgumentParser(
        prog="hubbub",
        description="Event-sourced activity streams and notifications on Kafka and ClickHouse.",
    )
    parser.add_argument("--state-dir", type=Path, help="local services' folder (HUBBUB_STATE_DIR)")
    parser.add_argument("--kafka", help="Kafka bootstrap HOST:PORT (HUBBUB_KAFKA_BOOTSTRAP)")
    parser.add_argument("--clickhouse", help="ClickHouse HTTP URL (HUBBUB_CLICKHOUSE_URL)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (cmd_infra, cmd_produce):
        module.register(sub)
    _register_optional(sub)
    return parser


def _register_optional(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Subcommands of later floors (workers, demo, bench) register themselves if present."""
    import importlib

    for name in ("hubbub.cmd_streams", "hubbub.cmd_demo", "hubbub.cmd_bench"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides: dict[str, object] = {}
    if args.state_dir is not None:
        overrides["state_dir"] = args.state_dir
    if args.kafka:
        overrides["kafka_bootstrap"] = args.kafka
    if args.clickhouse:
        overrides["clickhouse_url"] = args.clickhouse
    return settings.with_overrides(**overrides) if overrides else settings


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args)
        handler: Handler = args.handler
        return handler(args, settings)
    except HubbubError as exc:
        print(f"hubbub: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hubbub: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

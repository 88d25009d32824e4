"""Versioned, idempotent ClickHouse DDL migrations.

Migrations are the files ``infra/migrations/NNNN_name.sql``, applied in order. Each statement is
separated by a line holding only ``;``, and every statement is written to be re-runnable
(``IF NOT EXISTS``). Applied versions are recorded in ``{db}.schema_migrations``; a version already
recorded is skipped, so running ``hubbub infra migrate`` twice changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.clickhouse import ClickHouse

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def load_migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read the migration files in version order; a misnamed file is an error, not skipped."""
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise ValueError(f"{path}: migration files are named NNNN_snake_name.sql")
        parts = re.split(r"^;\s*$", path.read_text(encoding="utf-8"), flags=re.M)
        statements = tuple(s.strip() for s in parts if s.strip())
        found.append(Migration(int(m.group(1)), m.group(2), statements))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {folder}")
    return found


def migrate(ch: ClickHouse, *, migrations: list[Migration] | None = None) -> list[str]:
    """Create the database and apply what is not applied yet; return the names applied now."""
    db = ch.database
    ch.command(f"CREATE DATABASE IF NOT EXISTS `{db}`")
    ch.command(
        f"CREATE TABLE IF NOT EXISTS `{db}`.schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC')) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = {int(r[0]) for r in ch.rows(f"SELECT version FROM `{db}`.schema_migrations FINAL")}
    applied: list[str] = []
    for mig in migrations if migrations is not None else load_migrations():
        if mig.version in done:
            continue
        for statement in mig.statements:
            ch.command(statement.replace("{db}", f"`{db}`"))
        ch.insert(
            "schema_migrations",
            [(mig.version, mig.name, datetime.now(UTC))],
            columns=("version", "name", "applied_at"),
        )
        applied.append(f"{mig.version:04d}_{mig.name}")
    return applied

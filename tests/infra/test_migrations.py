"""Migrations and topic creation on the real ClickHouse and Kafka: idempotent, versioned."""

from __future__ import annotations

import pytest

from hubbub.cmd_infra import apply_schema
from infra.clickhouse import ClickHouse
from infra.migrations import load_migrations
from infra.settings import Settings

pytestmark = pytest.mark.integration


def test_migrate_twice_is_harmless(settings: Settings) -> None:
    created, applied = apply_schema(settings)
    assert applied == [f"{m.version:04d}_{m.name}" for m in load_migrations()]
    assert f"{settings.topic_prefix}.content" in created
    ch = ClickHouse(settings)
    tables_before = ch.rows(
        "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} "
        "ORDER BY name",
        parameters={"db": settings.clickhouse_database},
    )
    ch.insert(
        "events",
        [
            (
                "t",
                "PostDeleted",
                _now(),
                "00000000-0000-4000-8000-000000000001",
                "ana",
                "p1",
                "x",
                0,
                0,
                "{}",
            )
        ],
        columns=(
            "tenant",
            "event_type",
            "occurred_at",
            "event_id",
            "actor",
            "object_id",
            "topic",
            "partition",
            "offset",
            "payload",
        ),
    )

    created_again, applied_again = apply_schema(settings)
    assert created_again == [] and applied_again == []
    assert (
        ch.rows(
            "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} "
            "ORDER BY name",
            parameters={"db": settings.clickhouse_database},
        )
        == tables_before
    )
    assert ch.rows(f"SELECT count() FROM `{settings.clickhouse_database}`.events") == [(1,)]
    versions = ch.rows(
        f"SELECT version FROM `{settings.clickhouse_database}`.schema_migrations FINAL "
        "ORDER BY version"
    )
    assert [v for (v,) in versions] == [m.version for m in load_migrations()]
    ch.close()


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)

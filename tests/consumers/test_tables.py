"""Migration 0002 against the real server: the tables the sink writes, exactly as it writes them."""

from __future__ import annotations

import pytest

from consumers.rows import DERIVED_TABLES, EVENTS, READ_MODELS
from infra.clickhouse import ClickHouse
from infra.migrations import load_migrations, migrate

pytestmark = pytest.mark.integration


# Columns the server fills itself (DEFAULT), which the sink never inserts.
SERVER_FILLED = {name: ["loaded_at"] for name in READ_MODELS}


def test_every_table_has_the_columns_and_types_the_sink_inserts(ch: ClickHouse) -> None:
    for table in (*DERIVED_TABLES, EVENTS):
        described = ch.rows(f"DESCRIBE TABLE `{ch.database}`.{table.name}")
        filled = SERVER_FILLED.get(table.name, [])
        assert [(r[0], r[1]) for r in described if r[0] not in filled] == list(
            zip(table.column_names, table.column_types, strict=True)
        ), table.name
        assert [r[3] for r in described if r[0] in filled] == ["now64(3)"] * len(filled)


def test_engines_and_sorting_keys_are_the_contract(ch: ClickHouse) -> None:
    found = ch.rows(
        "SELECT name, engine_full, sorting_key FROM system.tables "
        "WHERE database = {db:String} AND name != 'schema_migrations' ORDER BY name",
        parameters={"db": ch.database},
    )
    assert [
        (name, engine.split(" ORDER BY")[0].split(" PARTITION BY")[0], key)
        for name, engine, key in found
    ] == [
        ("author_state", "ReplacingMergeTree(version)", "tenant, author"),
        ("content_state", "ReplacingMergeTree(version)", "tenant, object_id"),
        ("events", "ReplacingMergeTree", "tenant, event_type, occurred_at, event_id"),
        ("feed_fanout", "`Null`", ""),
        ("feed_fanout_to_items", "", ""),
        ("feed_items", "ReplacingMergeTree(version, is_deleted)", "tenant, owner, activity_id"),
        ("follows_state", "ReplacingMergeTree(version, is_deleted)", "tenant, follower, followee"),
        ("inbox_state", "ReplacingMergeTree(version)", "tenant, user"),
        (
            "notification_groups",
            "ReplacingMergeTree(version, is_deleted)",
            "tenant, recipient, kind, object_kind, object_id",
        ),
        (
            "trend_contributions",
            "ReplacingMergeTree(version, is_deleted)",
            "tenant, dimension, dim_value, metric, source_id",
        ),
    ]


def test_migrating_again_changes_nothing_and_every_statement_reruns(ch: ClickHouse) -> None:
    assert migrate(ch) == []
    by_name = {m.name: m for m in load_migrations()}
    assert by_name["read_models"].version == 2 and len(by_name["read_models"].statements) == 7
    assert by_name["feed_fanout"].version == 4 and len(by_name["feed_fanout"].statements) == 2
    for name in ("read_models", "feed_fanout"):  # IF NOT EXISTS: a half-applied run can resume
        for statement in by_name[name].statements:
            ch.command(statement.replace("{db}", f"`{ch.database}`"))
    assert ch.rows(
        f"SELECT version, name FROM `{ch.database}`.schema_migrations FINAL ORDER BY version"
    ) == [
        (1, "raw_events"),
        (2, "read_models"),
        (3, "loaded_at"),
        (4, "feed_fanout"),
        (5, "loaded_at_everywhere"),
    ]

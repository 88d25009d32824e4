"""The read models as plain values, to compare two runs of the pipeline."""

from __future__ import annotations

from typing import Any

from infra.clickhouse import ClickHouse

# Table -> columns that identify the content of a row (versions excluded: equal content matters).
READ_MODELS: dict[str, str] = {
    "feed_items": "tenant, owner, activity_id, kind, author, post_id, created_at",
    "notification_groups": "tenant, recipient, kind, object_kind, object_id, post_id, "
    "actor_count, latest_actors, first_at, last_at, excerpt",
    "trend_contributions": "tenant, dimension, dim_value, metric, source_id, actor, counted_at",
    "content_state": "tenant, post_id, object_id, kind, author, title, body, deleted, spam, "
    "machine_verdict, person_verdict",
    "follows_state": "tenant, follower, followee",
    "inbox_state": "tenant, user, read_up_to_at, seen_up_to_at",
    "events": "tenant, event_type, event_id",
}
_DELETABLE = {"feed_items", "notification_groups", "trend_contributions", "follows_state"}


def snapshot(ch: ClickHouse) -> dict[str, list[tuple[Any, ...]]]:
    """Every live row of every read model, sorted, as ClickHouse answers with FINAL."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table, columns in READ_MODELS.items():
        where = "WHERE is_deleted = 0" if table in _DELETABLE else ""
        rows = ch.rows(
            f"SELECT {columns} FROM `{ch.database}`.{table} FINAL {where} ORDER BY {columns}"
        )
        out[table] = sorted(
            tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in rows
        )
    return out

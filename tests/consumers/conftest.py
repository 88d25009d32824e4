"""Fixtures of the consumer tests: a migrated ClickHouse database and a row inserter."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from consumers.rows import DERIVED_TABLES
from infra.clickhouse import ClickHouse
from infra.migrations import migrate
from infra.settings import Settings

TABLES = {t.read_model: t for t in DERIVED_TABLES}  # by the table a test reads


@pytest.fixture
def ch(settings: Settings) -> Iterator[ClickHouse]:
    """A connection to this test's own database, with every migration applied."""
    client = ClickHouse(settings)
    migrate(client)
    yield client
    client.close()


def put(ch: ClickHouse, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert JSON-shaped rows (as the derived topics carry them), one insert per call, so
    every call leaves its own part: reads see unmerged parts, as they do in production.
    Feed rows (one owner each here) go in as the sink loads them, through feed_fanout."""
    spec = TABLES[table]
    if spec.lands_in:
        rows = [{**r, "owners": [r["owner"]]} for r in rows]
    ch.insert(
        spec.name,
        [spec.row(r) for r in rows],
        columns=spec.column_names,
        column_types=spec.column_types,
    )

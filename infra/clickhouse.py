"""The one way into ClickHouse: a small client over clickhouse-connect that speaks Hubbub errors.

Connection problems (refused, reset, timed out, server shutting down) become ``SinkUnavailable``
(retriable: a sink pauses and retries); a query ClickHouse rejects becomes ``HubbubError`` with the
server's message (not retriable: the SQL or the data is wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from infra.settings import Settings
from schemas.errors import HubbubError, SinkUnavailable

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _translate(exc: BaseException, *, where: str) -> HubbubError:
    text = str(exc)
    if isinstance(exc, OperationalError | ConnectionError | TimeoutError | OSError) or (
        "Connection refused" in text or "timed out" in text.lower()
    ):
        return SinkUnavailable(f"ClickHouse unreachable while {where}: {text[:300]}")
    return HubbubError(f"ClickHouse refused {where}: {text[:500]}")


class ClickHouse:
    """A connection to one ClickHouse database. Cheap to keep; not shared across threads."""

    def __init__(
        self, settings: Settings, *, database: str | None = None, connect_timeout_s: float = 5.0
    ) -> None:
        self.settings = settings
        self.database = database or settings.clickhouse_database
        try:
            self._client: Client = clickhouse_connect.get_client(
                host=settings.clickhouse_host,
                port=settings.clickhouse_http_port,
                username=settings.clickhouse_user,
                password=settings.clickhouse_password,
                connect_timeout=connect_timeout_s,
                send_receive_timeout=60,
                autogenerate_session_id=False,
                # Inserts are lz4-compressed by default: worth it over a network, pure cost
                # (client and server CPU) on this machine's loopback.
                compress=settings.clickhouse_host not in _LOOPBACK,
            )
        except (ClickHouseError, OSError) as exc:
            raise _translate(exc, where=f"connecting to {settings.clickhouse_url}") from exc

    def command(
        self,
        sql: str,
        *,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Any:
        """Run a statement that returns no rows (DDL, KILL, SYSTEM, INSERT ... SELECT);
        ``parameters`` fill server-side ``{name:Type}`` placeholders."""
        try:
            return self._client.command(sql, parameters=parameters, settings=settings)
        except (ClickHouseError, OSError) as exc:
            raise _translate(exc, where=f"running {sql.strip().splitlines()[0][:80]!r}") from exc

    def rows(
        self,
        sql: str,
        *,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        try:
            result = self._client.query(sql, parameters=parameters, settings=settings)
        except (ClickHouseError, OSError) as exc:
            raise _translate(exc, where=f"querying {sql.strip().splitlines()[0][:80]!r}") from exc
        return [tuple(r) for r in result.result_rows]

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        *,
        columns: Sequence[str],
        column_types: Sequence[str] | None = None,
        dedup_token: str | None = None,
    ) -> None:
        """Insert rows into ``database.table``; with ``dedup_token`` a retried block is dropped.

        ``column_types`` (ClickHouse type names, one per column) saves the round trip in which
        the client would otherwise ask the server for the table's column types on every insert;
        they must match the table, or the server refuses the block (``HubbubError``).
        """
        settings: dict[str, Any] = {}
        if dedup_token:
            settings["insert_deduplication_token"] = dedup_token
        try:
            self._client.insert(
                table,
                list(rows),
                column_names=list(columns),
                database=self.database,
                column_type_names=list(column_types) if column_types is not None else None,
                settings=settings or None,
            )
        except (ClickHouseError, OSError) as exc:
            raise _translate(exc, where=f"inserting {len(rows)} rows into {table}") from exc

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except Exception:
            return False

    def close(self) -> None:
        self._client.close()

"""Run an embedded ClickHouse (chdb) as a real HTTP + native-protocol server until told to stop.

Started by the launcher as ``python clickhouse_server.py DATA_DIR`` (by file path, so nothing but
chdb is imported) with its working directory holding ``config.xml`` (listen address and ports).

chdb serves connections only while a query runs, and a process may run only one query, so this
runs one statement list: open the listeners, then a query that sleeps for years. The launcher
stops it cleanly by killing that query over HTTP; the process then exits on its own.
"""

from __future__ import annotations

import sys

SERVE_FOREVER = (
    "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
    "SELECT sleepEachRow(1) FROM numbers(100000000) SETTINGS max_block_size=1"
)
# The text the launcher's KILL QUERY matches on; keep the two in step.
QUERY_MARK = "sleepEachRow"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: clickhouse_server.py DATA_DIR", file=sys.stderr)
        return 2
    # The raw binding, called once: a second query in the same process fails ("EventNotifier
    # is initialized twice"), so everything the server needs happens in this one call.
    from chdb import _chdb

    # "TabSeparated" matters: the output format of this call becomes the HTTP default, and
    # clickhouse-connect's version handshake expects tab-separated answers.
    # (chdb's bundled stubs omit query(), hence the ignore.)
    result = _chdb.query(SERVE_FOREVER, "TabSeparated", path=argv[0])  # type: ignore[attr-defined]
    # chdb reports errors on the result (and prints them); a killed serving query is the normal
    # way out, anything else is a failure the launcher shows from the log.
    message = str(result.error_message()) if result.has_error() else ""
    if message and "QUERY_WAS_CANCELLED" not in message:
        print(f"clickhouse: serving query failed: {message}", file=sys.stderr)
        return 1
    print("clickhouse: serving query stopped; exiting", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

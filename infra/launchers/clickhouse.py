"""The local ClickHouse server: chdb (embedded ClickHouse) serving HTTP and the native protocol.

Files under the state folder: ``clickhouse/config.xml`` (rewritten on every start),
``clickhouse/data/`` (databases and tables, kept across restarts), ``clickhouse/clickhouse.log``
and ``clickhouse.pid``. The server process runs ``clickhouse_server.py`` from this package.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

from infra.launchers import clickhouse_server
from infra.launchers.common import (
    Port,
    Progress,
    ServiceLayout,
    accepts_connections,
    notify,
    spawn,
)
from infra.settings import Settings

STOP_GRACE_S = 10.0  # the serving query notices a kill within about a second
_SERVER_SCRIPT = Path(clickhouse_server.__file__).resolve()


def layout(settings: Settings) -> ServiceLayout:
    home = settings.state_dir.resolve() / "clickhouse"
    return ServiceLayout(
        name="clickhouse",
        home=home,
        pid_path=home.parent / "clickhouse.pid",
        log_path=home / "clickhouse.log",
        marker=str(home / "data"),
        ports=(
            Port(
                number=settings.clickhouse_http_port,
                purpose="ClickHouse HTTP interface",
                setting="HUBBUB_CLICKHOUSE_URL",
            ),
            Port(
                number=settings.clickhouse_native_port,
                purpose="ClickHouse native protocol",
                setting="HUBBUB_CLICKHOUSE_NATIVE_PORT",
            ),
        ),
        address=f"http://127.0.0.1:{settings.clickhouse_http_port}",
    )


def config_xml(settings: Settings) -> str:
    """Server config: loopback only; short keep-alive so a stop is not held up by idle clients."""
    return (
        "<!-- Written by 'hubbub infra up' on every start; edits here are overwritten. -->\n"
        "<clickhouse>\n"
        "  <listen_host>127.0.0.1</listen_host>\n"
        f"  <http_port>{settings.clickhouse_http_port}</http_port>\n"
        f"  <tcp_port>{settings.clickhouse_native_port}</tcp_port>\n"
        "  <keep_alive_timeout>2</keep_alive_timeout>\n"
        "</clickhouse>\n"
    )


def start(settings: Settings, *, progress: Progress | None = None) -> int:
    """Write the config and launch the server; return its pid without waiting for it to answer."""
    here = layout(settings)
    data = here.home / "data"
    data.mkdir(parents=True, exist_ok=True)
    # chdb reads config.xml from its working directory.
    (here.home / "config.xml").write_text(config_xml(settings), encoding="utf-8")
    notify(progress, f"clickhouse: starting server on {here.address}")
    return spawn(here, [sys.executable, str(_SERVER_SCRIPT), str(data)], cwd=here.home)


def request_stop(settings: Settings) -> None:
    """Kill the serving query over HTTP, after which the server exits by itself.

    Best effort: if the server does not answer, the caller falls back to signals.
    """
    query = (
        f"KILL QUERY WHERE query LIKE '%{clickhouse_server.QUERY_MARK}%' "
        "AND query NOT LIKE '%KILL QUERY%' SYNC"
    )
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL built from settings
        _base_url(settings) + "/", data=query.encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5.0) as response:  # noqa: S310
            response.read()
    except (OSError, urllib.error.URLError):
        return


def probe(settings: Settings, *, timeout_s: float = 1.0) -> bool:
    """Whether ClickHouse answers ``/ping`` over HTTP and accepts native connections.

    Never raises.
    """
    url = _base_url(settings) + "/ping"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310
            if response.read().strip() != b"Ok.":
                return False
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return accepts_connections(
        settings.clickhouse_host, settings.clickhouse_native_port, timeout_s=timeout_s
    )


def _base_url(settings: Settings) -> str:
    return f"http://{settings.clickhouse_host}:{settings.clickhouse_http_port}"

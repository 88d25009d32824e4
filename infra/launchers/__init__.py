"""Local service launchers: a real Kafka 4 broker (KRaft, one node) and a real ClickHouse server,
run as background processes without Docker.

``up``, ``down`` and ``status`` serve ``hubbub infra``; ``start_ephemeral`` serves test fixtures.
One job per module: ``common`` (processes, ports, pid files, logs), ``kafka``, ``clickhouse``
(plus ``clickhouse_server``, the script its process runs) and ``services`` (both at once).
"""

from infra.launchers.common import Progress, ServicesStatus, ServiceStatus
from infra.launchers.services import default_jar_cache, down, start_ephemeral, status, up

__all__ = [
    "Progress",
    "ServiceStatus",
    "ServicesStatus",
    "default_jar_cache",
    "down",
    "start_ephemeral",
    "status",
    "up",
]

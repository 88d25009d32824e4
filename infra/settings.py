"""Settings: one frozen object, built once at the entry point from the environment and flags.

Nothing else in Hubbub reads the environment. Every module that needs an address, a timeout or a
folder takes a ``Settings`` (or the few values it needs) as an argument.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from schemas.errors import ConfigError

# Environment variable -> (Settings field, converter). The README's configuration table lists these.
_ENV: dict[str, str] = {
    "HUBBUB_KAFKA_BOOTSTRAP": "kafka_bootstrap",
    "HUBBUB_KAFKA_CONTROLLER_PORT": "kafka_controller_port",
    "HUBBUB_CLICKHOUSE_URL": "clickhouse_url",
    "HUBBUB_CLICKHOUSE_NATIVE_PORT": "clickhouse_native_port",
    "HUBBUB_CLICKHOUSE_DATABASE": "clickhouse_database",
    "HUBBUB_CLICKHOUSE_USER": "clickhouse_user",
    "HUBBUB_CLICKHOUSE_PASSWORD": "clickhouse_password",
    "HUBBUB_STATE_DIR": "state_dir",
    "HUBBUB_TOPIC_PREFIX": "topic_prefix",
    "HUBBUB_PARTITIONS": "partitions",
    "HUBBUB_PUBLISH_TIMEOUT_S": "publish_timeout_s",
    "HUBBUB_HEALTH_TIMEOUT_S": "health_timeout_s",
}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where the services are and how patient to be with them.

    Defaults are the local services that ``hubbub infra up`` starts.
    """

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    clickhouse_url: str = "http://127.0.0.1:8123"
    clickhouse_native_port: int = 9000
    clickhouse_database: str = "hubbub"
    clickhouse_user: str = "default"
    clickhouse_password: str = field(default="", repr=False)
    state_dir: Path = Path(".hubbub")
    topic_prefix: str = "hubbub"
    partitions: int = 6
    publish_timeout_s: float = 30.0
    health_timeout_s: float = 90.0

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ConfigError(f"HUBBUB_PARTITIONS must be at least 1, got {self.partitions}")
        if self.publish_timeout_s <= 0:
            raise ConfigError("HUBBUB_PUBLISH_TIMEOUT_S must be positive")
        _host_port(self.kafka_bootstrap.split(",")[0], "HUBBUB_KAFKA_BOOTSTRAP")
        url = urlsplit(self.clickhouse_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(
                f"HUBBUB_CLICKHOUSE_URL must look like http://HOST:PORT, got {self.clickhouse_url!r}"
            )

    @property
    def kafka_host(self) -> str:
        return _host_port(self.kafka_bootstrap.split(",")[0], "HUBBUB_KAFKA_BOOTSTRAP")[0]

    @property
    def kafka_port(self) -> int:
        return _host_port(self.kafka_bootstrap.split(",")[0], "HUBBUB_KAFKA_BOOTSTRAP")[1]

    @property
    def clickhouse_host(self) -> str:
        return urlsplit(self.clickhouse_url).hostname or "127.0.0.1"

    @property
    def clickhouse_http_port(self) -> int:
        url = urlsplit(self.clickhouse_url)
        return url.port or (443 if url.scheme == "https" else 8123)

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (flags given on the command line)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The ``HUBBUB_*`` variables that rebuild these settings in a child process."""
        return {var: str(getattr(self, name)) for var, name in _ENV.items()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``HUBBUB_*`` variables; a malformed value names its variable."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        defaults = cls()
        for var, name in _ENV.items():
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            default = getattr(defaults, name)
            kind = Path if isinstance(default, Path) else type(default)
            try:
                values[name] = kind(raw)
            except ValueError as exc:
                raise ConfigError(f"{var}={raw!r} is not a valid {kind.__name__}") from exc
        return cls(**values)  # type: ignore[arg-type]


def _host_port(address: str, var: str) -> tuple[str, int]:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"{var} must be HOST:PORT, got {address!r}")
    return host, int(port)

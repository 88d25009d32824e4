"""The one fixture layer for services.

Order of preference for a Kafka bootstrap address and a ClickHouse server:
1. an existing cluster, when ``HUBBUB_KAFKA_BOOTSTRAP`` and ``HUBBUB_CLICKHOUSE_URL`` are set;
2. testcontainers, when a Docker engine answers;
3. the local launchers (the real broker from Maven Central jars, the real ClickHouse from chdb-core),
   started once per test session on free ports in their own temporary state folder, so a running
   demo on the default ports is never disturbed.

Each test that asks for ``settings`` gets unique topic names (its own topic prefix) and its own
ClickHouse database, so tests never see each other's data.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def service_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Base settings pointing at a running Kafka and ClickHouse for the whole session."""
    env = os.environ
    if env.get("HUBBUB_KAFKA_BOOTSTRAP") and env.get("HUBBUB_CLICKHOUSE_URL"):
        yield Settings.from_env()
        return
    if _docker_answers():
        from testcontainers.clickhouse import ClickHouseContainer
        from testcontainers.kafka import KafkaContainer

        with (
            KafkaContainer().with_kraft() as kafka,
            ClickHouseContainer("clickhouse/clickhouse-server:25.8") as ch,
        ):
            url = f"http://{ch.get_container_host_ip()}:{ch.get_exposed_port(8123)}"
            yield Settings(
                kafka_bootstrap=kafka.get_bootstrap_server(),
                clickhouse_url=url,
                clickhouse_user=ch.username,
                clickhouse_password=ch.password,
            )
        return
    from infra.launchers import services

    state = tmp_path_factory.mktemp("services")
    settings = services.start_ephemeral(state)
    try:
        yield settings
    finally:
        services.down(settings)


@pytest.fixture
def settings(service_settings: Settings, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Per-test settings: its own topic prefix and its own ClickHouse database (dropped after)."""
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40].strip("_")
    unique = f"t_{slug}_{uuid.uuid4().hex[:8]}"
    per_test = service_settings.with_overrides(
        topic_prefix=unique.replace("_", "-"),
        clickhouse_database=unique,
        partitions=3,
    )
    yield per_test
    try:
        from infra.clickhouse import ClickHouse

        ch = ClickHouse(per_test, database="default")
        ch.command(f"DROP DATABASE IF EXISTS `{unique}`")
        ch.close()
    except Exception:  # the service may be gone already; the session teardown removes everything
        pass


@pytest.fixture(scope="session")
def reference_thread() -> str:
    path = SHARED_DATA / "reference-thread.txt"
    assert path.is_file(), f"reference thread missing at {path} (shared/ must sit beside the repo)"
    return path.read_text(encoding="utf-8")

"""The local service launchers, against the real processes they start.

One start per module (on free ports, in a temporary state folder) serves the integration tests;
they run in file order and the last one stops everything. The tests at the bottom start nothing.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaTimeoutError

from infra.launchers import ServicesStatus, down, start_ephemeral, status, up
from infra.launchers import kafka as kafka_launcher
from infra.launchers.clickhouse import config_xml
from infra.launchers.common import pick_free_ports, pid_alive, port_is_free
from infra.settings import Settings
from schemas.errors import InfraError


def _ports(settings: Settings) -> list[int]:
    return [
        settings.kafka_port,
        settings.kafka_controller_port,
        settings.clickhouse_http_port,
        settings.clickhouse_native_port,
    ]


def _cluster_id(settings: Settings) -> str:
    meta = settings.state_dir / "kafka" / "data" / "meta.properties"
    lines = meta.read_text(encoding="utf-8").splitlines()
    return next(line.split("=", 1)[1] for line in lines if line.startswith("cluster.id="))


def _clickhouse(settings: Settings) -> Client:
    return clickhouse_connect.get_client(
        host="127.0.0.1", port=settings.clickhouse_http_port, username="default", password=""
    )


def _read_all(settings: Settings, topic: str, *, expected: int) -> list[tuple[bytes, bytes]]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    got: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + 30  # a bound on a hang, not an assertion about speed
    while len(got) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=1000).values():
            got.extend((r.key, r.value) for r in records)
    consumer.close()
    return got


def _create_topic(settings: Settings, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()


def _produce(settings: Settings, topic: str, key: bytes, value: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    producer.send(topic, key=key, value=value).get(timeout=30)
    producer.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = start_ephemeral(tmp_path_factory.mktemp("launchers"))
    yield settings
    down(settings)


@pytest.mark.integration
def test_status_reports_both_services_running_and_healthy(running: Settings) -> None:
    report = status(running)
    state = running.state_dir.resolve()
    assert report.healthy
    assert report.kafka.running and report.clickhouse.running
    assert report.kafka.address == f"127.0.0.1:{running.kafka_port}"
    assert report.clickhouse.address == f"http://127.0.0.1:{running.clickhouse_http_port}"
    assert report.kafka.log_path == state / "kafka" / "kafka.log"
    assert report.clickhouse.log_path == state / "clickhouse" / "clickhouse.log"
    assert (report.kafka.detail, report.clickhouse.detail) == ("", "")
    assert (state / "kafka.pid").read_text().strip() == str(report.kafka.pid)
    assert (state / "clickhouse.pid").read_text().strip() == str(report.clickhouse.pid)


@pytest.mark.integration
def test_up_again_leaves_the_running_processes_alone(running: Settings) -> None:
    before = status(running)
    messages: list[str] = []
    after = up(running, progress=messages.append)
    assert (after.kafka.pid, after.clickhouse.pid) == (before.kafka.pid, before.clickhouse.pid)
    assert [m.split(":")[0] for m in messages] == ["clickhouse", "kafka"]
    assert all("already running" in m for m in messages)


@pytest.mark.integration
def test_clickhouse_connect_creates_inserts_and_selects(running: Settings) -> None:
    database = f"t_launchers_{uuid.uuid4().hex[:8]}"
    client = _clickhouse(running)
    client.command(f"CREATE DATABASE {database}")
    client.command(
        f"CREATE TABLE {database}.items (id UInt32, name String) ENGINE = MergeTree ORDER BY id"
    )
    client.insert(f"{database}.items", [[2, "b"], [1, "a"]], column_names=["id", "name"])
    rows = client.query(f"SELECT id, name FROM {database}.items ORDER BY id").result_rows
    client.command(f"DROP DATABASE {database}")
    client.close()
    assert rows == [(1, "a"), (2, "b")]


@pytest.mark.integration
def test_kafka_python_creates_a_topic_and_round_trips_a_record(running: Settings) -> None:
    topic = f"t-launchers-{uuid.uuid4().hex[:8]}"
    _create_topic(running, topic)
    _produce(running, topic, b"tenant/post-1", b"hello")
    assert _read_all(running, topic, expected=1) == [(b"tenant/post-1", b"hello")]


@pytest.mark.integration
def test_the_broker_does_not_create_topics_implicitly(running: Settings) -> None:
    topic = f"t-launchers-missing-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=running.kafka_bootstrap, max_block_ms=3000)
    with pytest.raises(KafkaTimeoutError):
        producer.send(topic, value=b"lost")
    producer.close()
    admin = KafkaAdminClient(bootstrap_servers=running.kafka_bootstrap)
    topics = admin.list_topics()
    admin.close()
    assert topic not in topics


@pytest.mark.integration
def test_restart_keeps_data_and_does_not_reformat_kafka(running: Settings) -> None:
    cluster_id = _cluster_id(running)
    database = f"t_restart_{uuid.uuid4().hex[:8]}"
    client = _clickhouse(running)
    client.command(f"CREATE DATABASE {database}")
    client.command(f"CREATE TABLE {database}.kept (id UInt32) ENGINE = MergeTree ORDER BY id")
    client.insert(f"{database}.kept", [[7]], column_names=["id"])
    client.close()
    topic = f"t-restart-{uuid.uuid4().hex[:8]}"
    _create_topic(running, topic)
    _produce(running, topic, b"k", b"kept")

    down(running)
    messages: list[str] = []
    report = up(running, progress=messages.append)

    assert report.healthy
    assert not any("formatting" in m for m in messages)
    assert _cluster_id(running) == cluster_id
    client = _clickhouse(running)
    assert client.query(f"SELECT id FROM {database}.kept").result_rows == [(7,)]
    client.command(f"DROP DATABASE {database}")
    client.close()
    assert _read_all(running, topic, expected=1) == [(b"k", b"kept")]


@pytest.mark.integration
def test_down_stops_both_frees_the_ports_and_is_idempotent(running: Settings) -> None:
    before = status(running)
    pids = [before.kafka.pid, before.clickhouse.pid]
    assert None not in pids

    down(running)

    after = status(running)
    assert not after.kafka.running and not after.clickhouse.running
    assert not after.kafka.healthy and not after.clickhouse.healthy
    assert (after.kafka.detail, after.clickhouse.detail) == ("not running", "not running")
    assert [pid_alive(pid) for pid in pids if pid is not None] == [False, False]
    assert [port_is_free(port) for port in _ports(running)] == [True] * 4
    assert not (running.state_dir / "kafka.pid").exists()
    assert not (running.state_dir / "clickhouse.pid").exists()
    down(running)  # nothing left to stop: no error


@pytest.mark.integration
@pytest.mark.parametrize(
    ("role", "setting"),
    [
        ("kafka", "HUBBUB_KAFKA_BOOTSTRAP"),
        ("controller", "HUBBUB_KAFKA_CONTROLLER_PORT"),
        ("http", "HUBBUB_CLICKHOUSE_URL"),
        ("native", "HUBBUB_CLICKHOUSE_NATIVE_PORT"),
    ],
)
def test_a_taken_port_is_named_with_its_setting_and_nothing_starts(
    tmp_path: Path, role: str, setting: str
) -> None:
    ports = dict(zip(["kafka", "controller", "http", "native"], pick_free_ports(4), strict=True))
    settings = Settings(
        kafka_bootstrap=f"127.0.0.1:{ports['kafka']}",
        kafka_controller_port=ports["controller"],
        clickhouse_url=f"http://127.0.0.1:{ports['http']}",
        clickhouse_native_port=ports["native"],
        state_dir=tmp_path,
    )
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[role]))
        squatter.listen()
        with pytest.raises(InfraError) as caught:
            up(settings)
    message = str(caught.value)
    assert f"port {ports[role]} " in message
    assert setting in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["infra.lock"]  # no service was set up


@pytest.mark.integration
def test_a_stale_pid_file_is_reported_and_removed_by_down(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    settings = _unused_settings(tmp_path)
    (tmp_path / "kafka.pid").write_text(f"{gone.pid}\n")

    report = status(settings)

    assert report.kafka.detail == f"stale pid file (process {gone.pid} is gone)"
    assert not report.kafka.running
    down(settings)
    assert not (tmp_path / "kafka.pid").exists()


@pytest.mark.integration
def test_a_pid_file_naming_another_program_is_never_signalled(tmp_path: Path) -> None:
    # The test process itself is alive but is not a ClickHouse of this state folder.
    settings = _unused_settings(tmp_path)
    (tmp_path / "clickhouse.pid").write_text(f"{os.getpid()}\n")

    report: ServicesStatus = status(settings)

    assert not report.clickhouse.running
    assert report.clickhouse.pid is None
    assert report.clickhouse.detail.startswith("stale pid file (pid ")
    down(settings)  # would kill this very process if it trusted the pid file
    assert not (tmp_path / "clickhouse.pid").exists()


def _unused_settings(state_dir: Path) -> Settings:
    kafka_port, controller, http, native = pick_free_ports(4)
    return Settings(
        kafka_bootstrap=f"127.0.0.1:{kafka_port}",
        kafka_controller_port=controller,
        clickhouse_url=f"http://127.0.0.1:{http}",
        clickhouse_native_port=native,
        state_dir=state_dir,
    )


# Pure checks: no process, no socket.


def test_server_properties_bind_loopback_and_keep_topics_explicit(tmp_path: Path) -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:19092", kafka_controller_port=19093)
    text = kafka_launcher.server_properties(settings, data_dir=tmp_path / "data")
    entries = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert entries["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert entries["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert entries["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert entries["log.dirs"] == str(tmp_path / "data")
    assert entries["auto.create.topics.enable"] == "false"
    assert entries["log.retention.ms"] == "-1"
    assert entries["num.partitions"] == str(settings.partitions)


def test_clickhouse_config_listens_on_loopback_at_the_configured_ports() -> None:
    settings = Settings(clickhouse_url="http://127.0.0.1:18123", clickhouse_native_port=19000)
    text = config_xml(settings)
    assert "<listen_host>127.0.0.1</listen_host>" in text
    assert "<http_port>18123</http_port>" in text
    assert "<tcp_port>19000</tcp_port>" in text


def test_cluster_ids_are_kafka_shaped() -> None:
    for _ in range(200):
        cluster_id = kafka_launcher.new_cluster_id()
        assert len(cluster_id) == 22
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_a_remote_address_is_refused_before_anything_starts(tmp_path: Path) -> None:
    settings = Settings(kafka_bootstrap="kafka.example.com:9092", state_dir=tmp_path)
    with pytest.raises(InfraError, match="HUBBUB_KAFKA_BOOTSTRAP points Kafka at 'kafka.example"):
        up(settings)
    assert list(tmp_path.iterdir()) == []


def test_two_services_on_one_port_are_refused(tmp_path: Path) -> None:
    settings = Settings(
        kafka_bootstrap="127.0.0.1:9092", kafka_controller_port=9092, state_dir=tmp_path
    )
    with pytest.raises(InfraError, match="port 9092 is configured twice"):
        up(settings)


def test_missing_java_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InfraError, match=r"Java 17\+ is needed .* install a JRE"):
        kafka_launcher.check_prerequisites(tmp_path)

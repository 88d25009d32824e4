"""Start, stop and inspect the local Kafka broker and ClickHouse server together.

These are the functions behind ``hubbub infra up|down|status`` and the test fixtures. Both
services run as background processes owned by a state folder (``settings.state_dir``); any
number of state folders can run side by side on different ports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from infra.launchers import clickhouse, kafka
from infra.launchers.common import (
    Progress,
    ServiceLayout,
    ServicesStatus,
    ServiceStatus,
    clear_stale_pid,
    notify,
    owned_pid,
    pick_free_ports,
    pid_file_state,
    require_distinct_ports,
    require_free_ports,
    require_local,
    state_lock,
    stop_process,
    wait_until_healthy,
)
from infra.settings import Settings
from schemas.errors import InfraError


def default_jar_cache() -> Path:
    """Where Kafka jars are kept for every state folder: ``~/.cache/hubbub``."""
    return Path.home() / ".cache" / "hubbub"


def up(
    settings: Settings,
    *,
    progress: Progress | None = None,
    jar_cache: Path | None = None,
) -> ServicesStatus:
    """Make sure Kafka and ClickHouse for ``settings.state_dir`` are running and healthy.

    Idempotent: a service already running from this state folder is left alone (same pid);
    a stale pid file is cleaned up and the service started. ClickHouse is launched first and
    starts while Kafka's jars are checked, its storage formatted (first use only) and its JVM
    started. Each service gets ``settings.health_timeout_s`` to answer.

    Raises ``InfraError`` before anything starts when an address is not local, two ports clash,
    a port is held by another process, or Java/Maven is missing; and afterwards when a service
    exits or does not answer in time (the message carries the last lines of its log; the failed
    service is stopped, the other is left as it is and a second ``up`` adopts it).
    """
    ch, kf = clickhouse.layout(settings), kafka.layout(settings)
    require_local(settings.kafka_host, service="Kafka", setting="HUBBUB_KAFKA_BOOTSTRAP")
    require_local(settings.clickhouse_host, service="ClickHouse", setting="HUBBUB_CLICKHOUSE_URL")
    require_distinct_ports([*kf.ports, *ch.ports])
    cache = default_jar_cache() if jar_cache is None else jar_cache
    with state_lock(settings.state_dir):
        return _up_locked(settings, ch, kf, cache=cache, progress=progress)


def _up_locked(
    settings: Settings,
    ch: ServiceLayout,
    kf: ServiceLayout,
    *,
    cache: Path,
    progress: Progress | None,
) -> ServicesStatus:
    # Decide everything before starting anything, so a refusal leaves nothing half-started.
    pending: list[ServiceLayout] = []
    for here in (ch, kf):
        if owned_pid(here) is not None:
            continue
        if clear_stale_pid(here):
            notify(progress, f"{here.name}: removed a stale pid file")
        require_free_ports(here)
        pending.append(here)
    if kf in pending:
        kafka.check_prerequisites(cache)

    launched: dict[str, tuple[int, float]] = {}  # name -> (pid, monotonic launch time)
    if ch in pending:
        launched[ch.name] = (clickhouse.start(settings, progress=progress), time.monotonic())
    if kf in pending:
        launched[kf.name] = (
            kafka.start(settings, jar_cache=cache, progress=progress),
            time.monotonic(),
        )

    probes: dict[str, Callable[[], bool]] = {
        ch.name: lambda: clickhouse.probe(settings),
        kf.name: lambda: kafka.probe(settings),
    }
    for here in (ch, kf):
        pid = owned_pid(here)
        if pid is None:  # died between the checks above and now
            raise InfraError(
                f"{here.name} is not running although it was started; see {here.log_path}"
            )
        begun = launched.get(here.name, (pid, time.monotonic()))[1]
        remaining = max(settings.health_timeout_s - (time.monotonic() - begun), 0.0)
        wait_until_healthy(here, pid, probes[here.name], timeout_s=remaining)
        verb = "started" if here.name in launched else "already running"
        notify(
            progress,
            f"{here.name}: {verb}, healthy at {here.address} (pid {pid}, "
            f"{time.monotonic() - begun:.1f} s)",
        )
    return status(settings)


def down(settings: Settings) -> None:
    """Stop both services of ``settings.state_dir``; doing nothing when they are not running.

    Kafka gets a controlled shutdown (SIGTERM, up to 30 s) and ClickHouse a clean stop (its
    serving query is killed, up to 10 s); either is then sent SIGTERM and SIGKILL. Data stays.
    Stale pid files are removed. Raises ``InfraError`` only if a process survives SIGKILL.
    """
    if not settings.state_dir.is_dir():
        return  # nothing was ever started from here
    with state_lock(settings.state_dir):
        _down_locked(settings)


def _down_locked(settings: Settings) -> None:
    ch, kf = clickhouse.layout(settings), kafka.layout(settings)
    kafka_pid, ch_pid = owned_pid(kf), owned_pid(ch)
    # Ask both first, then wait: the two shutdowns overlap.
    if kafka_pid is not None:
        kafka.request_stop(kafka_pid)
    if ch_pid is not None:
        clickhouse.request_stop(settings)
    errors: list[str] = []
    for here, pid, grace_s in (
        (kf, kafka_pid, kafka.STOP_GRACE_S),
        (ch, ch_pid, clickhouse.STOP_GRACE_S),
    ):
        if pid is not None:
            try:
                stop_process(pid, grace_s=grace_s, name=here.name)
            except InfraError as exc:
                errors.append(str(exc))
                continue
        here.pid_path.unlink(missing_ok=True)
    if errors:
        raise InfraError("; ".join(errors))


def status(settings: Settings) -> ServicesStatus:
    """Report both services of ``settings.state_dir`` without changing anything. Never raises
    for a service that is down; that is what the report is for."""
    return ServicesStatus(
        kafka=_service_status(kafka.layout(settings), kafka.probe(settings)),
        clickhouse=_service_status(clickhouse.layout(settings), clickhouse.probe(settings)),
    )


def start_ephemeral(
    state_dir: Path,
    *,
    base: Settings | None = None,
    progress: Progress | None = None,
    jar_cache: Path | None = None,
) -> Settings:
    """Start both services under ``state_dir`` on four free loopback ports; return their settings.

    For test fixtures: the default ports (and any demo running on them) are never touched. The
    returned settings are ``base`` (default ``Settings()``) with the addresses and state folder
    replaced; pass them to ``down`` when done. On failure everything started is stopped again
    and ``InfraError`` is raised.
    """
    kafka_port, controller_port, http_port, native_port = pick_free_ports(4)
    settings = (base or Settings()).with_overrides(
        kafka_bootstrap=f"127.0.0.1:{kafka_port}",
        kafka_controller_port=controller_port,
        clickhouse_url=f"http://127.0.0.1:{http_port}",
        clickhouse_native_port=native_port,
        state_dir=state_dir,
    )
    try:
        up(settings, progress=progress, jar_cache=jar_cache)
    except BaseException:
        with suppress(InfraError):  # the start-up error is the one worth showing
            down(settings)
        raise
    return settings


def _service_status(here: ServiceLayout, healthy: bool) -> ServiceStatus:
    pid = owned_pid(here)
    if pid is not None:
        detail = "" if healthy else "running but not answering (starting, or stuck: see the log)"
    elif healthy:
        detail = "answering, but not started from this state folder (docker compose, or another)"
    else:
        detail = pid_file_state(here) or "not running"
    return ServiceStatus(
        name=here.name,
        running=pid is not None,
        pid=pid,
        address=here.address,
        healthy=healthy,
        log_path=here.log_path,
        detail=detail,
    )

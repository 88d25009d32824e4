"""Process plumbing shared by the service launchers: pid files, ports, logs, start-up waits, stops.

Nothing here knows about Kafka or ClickHouse; ``kafka.py`` and ``clickhouse.py`` describe their
service with a ``ServiceLayout`` and a health probe, and ``services.py`` drives them through these
functions.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from schemas.errors import InfraError

Progress = Callable[[str], None]
"""Receives one short human-readable line per step (the CLI shows them; tests may collect them)."""

LOCAL_HOSTS = ("127.0.0.1", "localhost")
# How often start-up and shutdown waits look again; short enough that a 0.5 s start is not padded.
_POLL_S = 0.1


@dataclass(frozen=True, kw_only=True)
class ServiceStatus:
    """A snapshot of one local service.

    ``running`` means a process this state folder started is alive; ``healthy`` means the address
    answers like the service should, whoever runs it (``detail`` says when that is not us).
    """

    name: str
    running: bool
    pid: int | None
    address: str
    healthy: bool
    log_path: Path
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class ServicesStatus:
    """Both local services, as ``up`` left them or ``status`` found them."""

    kafka: ServiceStatus
    clickhouse: ServiceStatus

    @property
    def services(self) -> tuple[ServiceStatus, ServiceStatus]:
        return (self.kafka, self.clickhouse)

    @property
    def healthy(self) -> bool:
        """True when both services answer."""
        return all(s.healthy for s in self.services)


@dataclass(frozen=True, kw_only=True)
class Port:
    """A port a service binds, and the setting that moves it (named in port-taken errors)."""

    number: int
    purpose: str
    setting: str


@dataclass(frozen=True, kw_only=True)
class ServiceLayout:
    """Where one service keeps its files under the state folder and how to recognise its process.

    ``marker`` is an absolute path that is one argument of the process we started (its config
    file or data folder); a pid file whose process lacks it is stale (the pid was reused).
    """

    name: str
    home: Path
    pid_path: Path
    log_path: Path
    marker: str
    ports: tuple[Port, ...]
    address: str


def notify(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def require_local(host: str, *, service: str, setting: str) -> None:
    """Refuse to manage a service whose configured address is not this machine's loopback."""
    if host not in LOCAL_HOSTS:
        raise InfraError(
            f"{setting} points {service} at {host!r}, which is not this machine: the launcher "
            "only starts local services on 127.0.0.1. Use that service as it is (no need for "
            f"'infra up'), or set {setting} to a 127.0.0.1 address."
        )


def require_distinct_ports(ports: Sequence[Port]) -> None:
    seen: dict[int, Port] = {}
    for port in ports:
        if port.number in seen:
            other = seen[port.number]
            raise InfraError(
                f"port {port.number} is configured twice: for the {other.purpose} "
                f"({other.setting}) and the {port.purpose} ({port.setting}); give each its own port"
            )
        seen[port.number] = port


def require_free_ports(layout: ServiceLayout) -> None:
    """Raise ``InfraError`` naming the port and its setting when something else holds one."""
    for port in layout.ports:
        if not port_is_free(port.number):
            raise InfraError(
                f"cannot start {layout.name}: port {port.number} on 127.0.0.1 ({port.purpose}) is "
                f"already in use by another process. Stop that process, or pick another port with "
                f"{port.setting}. (If it is a {layout.name} you started yourself, e.g. with "
                "'docker compose -f infra/compose.yaml up', Hubbub can use it as it is.)"
            )


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` right now.

    SO_REUSEADDR mirrors what Kafka and ClickHouse set, so ports left in TIME_WAIT by a service
    that just stopped count as free, as they are for the services themselves.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def pick_free_ports(count: int) -> list[int]:
    """``count`` distinct ports the kernel calls free on 127.0.0.1 (held until all are chosen)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def accepts_connections(host: str, port: int, *, timeout_s: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def owned_pid(layout: ServiceLayout) -> int | None:
    """The pid in the service's pid file if that process is alive and is the one we started."""
    pid = _read_pid(layout.pid_path)
    if pid is None or not pid_alive(pid):
        return None
    return pid if _has_marker(pid, layout.marker) else None


@contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """Hold the state folder's lock: two ``up``/``down`` calls on one folder take turns.

    The second caller waits, then finds the services the first one started.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "infra.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clear_stale_pid(layout: ServiceLayout) -> bool:
    """Remove a pid file that names no live process of ours; True when one was removed."""
    if layout.pid_path.exists() and owned_pid(layout) is None:
        layout.pid_path.unlink(missing_ok=True)
        return True
    return False


def pid_file_state(layout: ServiceLayout) -> str:
    """'' when there is no pid file or it names our live process, else why it is stale."""
    pid = _read_pid(layout.pid_path)
    if pid is None:
        return "stale pid file (unreadable)" if layout.pid_path.exists() else ""
    if not pid_alive(pid):
        return f"stale pid file (process {pid} is gone)"
    if not _has_marker(pid, layout.marker):
        return f"stale pid file (pid {pid} now belongs to another program)"
    return ""


def spawn(layout: ServiceLayout, argv: Sequence[str], *, cwd: Path) -> int:
    """Start ``argv`` in its own session with output appended to the service log; write the pid.

    The process outlives the caller (a new session is not hit by the terminal's Ctrl-C).
    """
    with open_log(layout) as log:
        process = subprocess.Popen(  # noqa: S603 - argv is built by the launchers, not user text
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    layout.pid_path.write_text(f"{process.pid}\n", encoding="ascii")
    # The Popen object is dropped on purpose: the service must outlive this call. pid_alive()
    # reaps it if it dies while we are still its parent.
    return process.pid


def open_log(layout: ServiceLayout, *, action: str = "starting") -> BinaryIO:
    """Open the service log for appending, after a line marking what happens next."""
    layout.log_path.parent.mkdir(parents=True, exist_ok=True)
    log = layout.log_path.open("ab")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    log.write(f"\n--- hubbub infra: {layout.name} {action} at {stamp} ---\n".encode())
    log.flush()
    return log


def log_tail(path: Path, *, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file, indented for an error message ('' if none)."""
    try:
        text = path.read_bytes()[-64_000:].decode("utf-8", errors="replace")
    except OSError:
        return ""
    tail = text.splitlines()[-lines:]
    return "\n".join("    " + line for line in tail)


def wait_until_healthy(
    layout: ServiceLayout, pid: int, probe: Callable[[], bool], *, timeout_s: float
) -> float:
    """Poll ``probe`` until it answers True; return the seconds waited.

    Raises ``InfraError`` with the log's last lines if the process exits first or ``timeout_s``
    passes (the process is then stopped, so a half-started service is not left behind).
    """
    started = time.monotonic()
    while True:
        if probe():
            return time.monotonic() - started
        if not pid_alive(pid):
            layout.pid_path.unlink(missing_ok=True)
            raise InfraError(
                f"{layout.name} (pid {pid}) exited during start-up; see {layout.log_path}. "
                f"Last log lines:\n{log_tail(layout.log_path)}"
            )
        if time.monotonic() - started > timeout_s:
            tail = log_tail(layout.log_path)  # before stopping, which adds its own lines
            send_signal(pid, signal.SIGTERM)
            stop_process(pid, grace_s=10.0, name=layout.name)
            layout.pid_path.unlink(missing_ok=True)
            raise InfraError(
                f"{layout.name} did not become healthy at {layout.address} within "
                f"{timeout_s:.1f} s (raise HUBBUB_HEALTH_TIMEOUT_S if the machine is just slow); "
                f"it was stopped. See {layout.log_path}. Last log lines:\n{tail}"
            )
        time.sleep(_POLL_S)


def send_signal(pid: int, signum: int) -> None:
    """Signal the process and its session's group (the services run as session leaders)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        return


def wait_for_exit(pid: int, *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def stop_process(pid: int, *, grace_s: float, name: str) -> None:
    """Wait ``grace_s`` for an exit already asked for, then SIGTERM, then SIGKILL.

    Raises ``InfraError`` only if the process survives SIGKILL (another user's process, say).
    """
    if wait_for_exit(pid, timeout_s=grace_s):
        return
    send_signal(pid, signal.SIGTERM)
    if wait_for_exit(pid, timeout_s=5.0):
        return
    send_signal(pid, signal.SIGKILL)
    if not wait_for_exit(pid, timeout_s=5.0):
        raise InfraError(f"{name} (pid {pid}) did not exit even after SIGKILL; stop it by hand")


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process; reaps it if it is our exited child."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass  # not our child: ask the kernel below
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _proc(pid: int, name: str) -> bytes | None:
    try:
        return (Path("/proc") / str(pid) / name).read_bytes()
    except OSError:
        return None


def _has_marker(pid: int, marker: str) -> bool:
    cmdline = _proc(pid, "cmdline")
    if cmdline is None:
        # Without /proc (macOS) trust the pid file; with it, an unreadable entry means gone.
        return not Path("/proc").is_dir()
    return os.fsencode(marker) in cmdline.split(b"\0")


def _is_zombie(pid: int) -> bool:
    stat = _proc(pid, "stat")
    if stat is None:
        return False
    # Field 3 is the state; the command name in field 2 may contain spaces, hence the rpartition.
    return stat.rpartition(b")")[2].split()[:1] == [b"Z"]

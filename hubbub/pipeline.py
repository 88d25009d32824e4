"""The running pipeline as child processes: `hubbub worker`(s) and `hubbub sink`.

Used by `hubbub demo`, `hubbub bench` and the end-to-end tests. The children get their settings
through HUBBUB_* variables, so they behave exactly as when an operator starts them, and a test can
kill one with SIGKILL. ``wait_quiet`` watches the consumer groups' lag until everything published
so far has been processed and loaded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hubbub.cmd_infra import apply_schema
from infra.kafka import EVENT_TOPICS, LagProbe, group_members, topic_name
from infra.launchers.common import pick_free_ports
from infra.settings import Settings
from schemas.errors import HubbubError, ServiceUnavailable
from streams.rows import ACTIVITY_TOPIC, DERIVED_TOPICS

REPO = Path(__file__).resolve().parents[1]


class PipelineError(HubbubError):
    """A pipeline process died, or the pipeline did not catch up in time."""


class Pipeline:
    """Workers and a sink over ``settings``; ``wait_quiet`` blocks until every record is in."""

    def __init__(
        self,
        settings: Settings,
        workdir: Path,
        *,
        worker_args: tuple[str, ...] = (),
        sink_group: str | None = None,
        app_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.workdir = workdir.resolve()
        self.worker_args = worker_args
        self.app_id = app_id or f"{settings.topic_prefix}-streams"
        self.sink_group = sink_group or f"{settings.topic_prefix}-sink"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.probe = LagProbe(settings)  # polled several times a second: kept open
        apply_schema(settings)

    def _spawn(self, name: str, args: list[str]) -> None:
        env = {**os.environ, **self.settings.to_env(), "HUBBUB_STATE_DIR": str(self.workdir)}
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            # --state-dir also puts the folder on the command line, where operators (and CI's
            # cleanup) can see which pipeline a process belongs to.
            [sys.executable, "-m", "hubbub.cli", "--state-dir", str(self.workdir), *args],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_worker(self, name: str = "worker") -> None:
        (port,) = pick_free_ports(1)
        self._spawn(
            name, ["worker", "--web-port", str(port), "--app-id", self.app_id, *self.worker_args]
        )

    def start_sink(self) -> None:
        self._spawn("sink", ["sink", "--group", self.sink_group])

    def start(self, *, workers: int = 1, join_timeout_s: float = 90.0) -> Pipeline:
        """Start ``workers`` stream workers (one consumer group: they share the partitions)
        and one sink; return once every worker is a member of a stable group.

        Waiting for the group matters: a worker that joins while the others are busy forces a
        rebalance mid-stream, which Faust handles badly (``streams.gapwatch``).
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        for n in range(workers):
            self.start_worker("worker" if n == 0 else f"worker-{n + 1}")
        self.start_sink()
        self.wait_joined(workers, timeout_s=join_timeout_s)
        return self

    def wait_joined(self, workers: int, *, timeout_s: float = 90.0) -> None:
        """Until the workers' group is stable with ``workers`` members."""
        deadline = time.monotonic() + timeout_s
        found: tuple[str, int] = ("unknown", 0)
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                found = group_members(self.settings, self.app_id)
            except ServiceUnavailable:  # the coordinator is still starting
                pass
            if found == ("Stable", workers):
                return
            time.sleep(0.5)
        raise PipelineError(
            f"{workers} worker(s) not all in a stable group {self.app_id} after {timeout_s} s "
            f"(state {found[0]}, {found[1]} member(s))\nworker: {self.log_tail('worker')}"
        )

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise PipelineError(f"{name} exited with {proc.returncode}: {self.log_tail(name)}")

    def _worker_sources(self) -> list[str]:
        return [topic_name(self.settings, t) for t in (*EVENT_TOPICS, ACTIVITY_TOPIC)]

    def lags(self) -> tuple[int, int]:
        """Records not yet committed by (the stream workers, the sink)."""
        s = self.settings
        derived = [topic_name(s, t) for t in (*DERIVED_TOPICS, *EVENT_TOPICS)]
        return (
            self.probe.lag(self.app_id, self._worker_sources()),
            self.probe.lag(self.sink_group, derived),
        )

    def _worker_lags(self) -> str:
        try:
            lags = self.probe.partition_lags(self.app_id, self._worker_sources())
        except ServiceUnavailable as exc:
            return f"per partition unavailable: {exc}"
        return ", ".join(f"{tp} {lag}" for tp, lag in sorted(lags.items())) or "none left"

    def lag(self) -> int:
        return sum(self.lags())

    def restart_workers(self) -> None:
        """Replace every stream worker with a fresh process (SIGKILL, then start)."""
        for name in [n for n in self.procs if n.startswith("worker")]:
            self.kill(name)
            self.start_worker(name)

    def wait_quiet(
        self,
        *,
        timeout_s: float = 180.0,
        settle_s: float = 3.0,
        stall_s: float = 45.0,
        min_progress: int = 500,
        max_replacements: int = 3,
    ) -> None:
        """Until both groups have committed everything, twice ``settle_s`` apart.

        Watchdog: if the workers' lag stays above zero and falls by less than ``min_progress``
        records over ``stall_s``, they are replaced by fresh processes (at most
        ``max_replacements`` times), naming the lagging partitions on stderr. Workers restarted
        after a SIGKILL used to crawl at a few events per second (Faust's gap filling, now off:
        see ``streams.partitions``); the watchdog stays as a safety net for tests, the demo and
        the bench. Taking over is safe because every batch is idempotent.
        """
        deadline = time.monotonic() + timeout_s
        quiet_since: float | None = None
        window: list[tuple[float, int]] = []  # (when, worker lag) samples over the last stall_s
        replaced = 0
        while True:
            self._check_alive()
            try:
                lags: tuple[int, int] | None = self.lags()
            except ServiceUnavailable:  # the group's coordinator is still starting
                lags = None
            now = time.monotonic()
            if lags is not None:
                window = [(t, lag) for t, lag in window if now - t <= stall_s] + [(now, lags[0])]
                oldest_t, oldest_lag = window[0]
                crawling = (
                    lags[0] > 0
                    and now - oldest_t >= stall_s * 0.95
                    and oldest_lag - lags[0] < min_progress
                )
                if crawling and replaced < max_replacements:
                    print(
                        f"pipeline: workers' lag went from {oldest_lag} to {lags[0]} in "
                        f"{now - oldest_t:.0f} s ({self._worker_lags()}); replacing them",
                        file=sys.stderr,
                    )
                    self.restart_workers()
                    replaced += 1
                    window = []
            if lags == (0, 0):
                quiet_since = quiet_since or now
                if now - quiet_since >= settle_s:
                    return
            else:
                quiet_since = None
            if now > deadline:
                raise PipelineError(
                    f"pipeline not quiet after {timeout_s} s (lag of workers, sink: {lags})\n"
                    f"worker: {self.log_tail('worker')}"
                )
            time.sleep(0.5)

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs.clear()
        self.probe.close()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

"""``hubbub bench``'s pipeline part on the real services: a small burst, figures only (no timing
is asserted; targets are checked by reading ``make bench``), and nothing left behind."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from rich.console import Console

from hubbub.bench_pipeline import bench_throughput
from infra.clickhouse import ClickHouse
from infra.kafka import admin
from infra.settings import Settings

pytestmark = pytest.mark.integration


def test_a_small_burst_reports_every_stage_and_drops_what_it_made(
    settings: Settings, tmp_path: Path
) -> None:
    local = settings.with_overrides(state_dir=tmp_path)
    args = argparse.Namespace(pipeline_events=1500, pipeline_rounds=2, workers=1, keep_runs=False)
    out = io.StringIO()
    result = bench_throughput(local, args, Console(file=out, width=120))["throughput"]
    assert result["events"] == 1500 and result["median_of"] == 2
    assert len(result["rounds"]) == 2
    assert result["end_to_end_events_per_s"] > 0 and result["feed_rows"] > 0
    assert result["last_row_visible_s"] <= result["sink_caught_up_s"] + 0.5
    printed = out.getvalue()
    assert "burst 2 of 2" in printed and "last row visible in ClickHouse" in printed
    with admin(local) as client:
        assert not [t for t in client.list_topics() if t.startswith("bench-tput-")]
    ch = ClickHouse(local)
    try:
        left = ch.rows("SELECT name FROM system.databases WHERE name LIKE 'bench_tput_%'")
    finally:
        ch.close()
    assert left == []
    assert not list((tmp_path / "bench").glob("*"))

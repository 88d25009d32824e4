"""The ``hubbub`` command line against the real broker: produce and import."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hubbub.cli import main
from infra.clickhouse import ClickHouse
from infra.kafka import ensure_topics, event_topic_specs, make_consumer, topic_name
from infra.settings import Settings
from schemas.codec import decode, to_json
from schemas.examples import example_events
from tests.conftest import SHARED_DATA

THREAD_ARGS = [
    "import",
    "thread",
    str(SHARED_DATA / "reference-thread.txt"),
    "--tenant",
    "emc-blog",
    "--post-id",
    "big-conversation",
    "--post-author",
    "Chuck Hollis",
    "--published-at",
    "2009-02-23T09:00:00-05:00",
    "--timezone",
    "America/New_York",
    "--first-comment-starts",
    "To your first question:",
]


def _use(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in settings.to_env().items():
        monkeypatch.setenv(var, value)


def _content_ids(settings: Settings) -> list[str]:
    consumer = make_consumer(settings, [topic_name(settings, "content")], consumer_timeout_ms=3000)
    try:
        return [decode(r.value).event_id for r in consumer]
    finally:
        consumer.close()


def test_import_thread_dry_run_prints_the_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*THREAD_ARGS, "--dry-run"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["type"] for line in lines] == ["PostPublished"] + ["CommentPosted"] * 9
    assert lines[0]["actor"] == "chuck-hollis"


def test_import_without_where_the_post_ends_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        a for a in THREAD_ARGS if a not in ("--first-comment-starts", "To your first question:")
    ]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert "--first-comment-starts" in capsys.readouterr().err


@pytest.mark.integration
def test_import_twice_publishes_the_same_event_ids(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use(settings, monkeypatch)
    ensure_topics(settings, event_topic_specs())
    assert main(THREAD_ARGS) == 0
    assert main(THREAD_ARGS) == 0
    assert "1 post and 9 comments" in capsys.readouterr().out
    ids = _content_ids(settings)
    assert len(ids) == 20 and len(set(ids)) == 10  # twice the same ten facts


@pytest.mark.integration
def test_produce_reports_bad_lines_and_publishes_the_rest(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _use(settings, monkeypatch)
    ensure_topics(settings, event_topic_specs())
    events = [e for e in example_events() if e.topic == "content"][:4]
    lines = [json.dumps(to_json(e)) for e in events]
    lines.insert(2, '{"type": "CommentPosted", "tenant": "acme-blog"}')
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["produce", str(path)]) == 1
    captured = capsys.readouterr()
    assert f"{path}:3: rejected:" in captured.err
    assert "4 published, 1 rejected, 0 unsent" in captured.out
    assert _content_ids(settings) == [e.event_id for e in events]


@pytest.mark.integration
def test_demo_runs_the_whole_pipeline_and_shows_what_to_look_at(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use(settings, monkeypatch)
    for run in (1, 2):  # a second run is a community of its own, with trends of its own
        assert main(["demo", "--events", "900", "--rate", "3000"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "ClickHouse now holds for demo-" in out, run
        assert "Notifications of " in out and "started following you" in out, run
        trends = out.split("Trending hashtags", 1)[1]
        assert "people now, baseline 0.0" in trends, run
        assert "demo: 900 events published and projected into ClickHouse" in out
        time.sleep(1.1)  # tenants are named by the second
    # Both runs were projected, each into its own tenant: the community's ids repeat with the
    # seed, so a second run into the first one's tenant would have been dropped as duplicates.
    ch = ClickHouse(settings)
    try:
        per_tenant = ch.rows(
            f"SELECT tenant, count() FROM `{settings.clickhouse_database}`.trend_contributions "
            "FINAL WHERE is_deleted = 0 GROUP BY tenant ORDER BY tenant"
        )
    finally:
        ch.close()
    assert len(per_tenant) == 2 and all(n > 100 for _, n in per_tenant), per_tenant

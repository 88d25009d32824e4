"""The reference thread end to end: importer -> Kafka -> workers -> ClickHouse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hubbub.pipeline import Pipeline
from infra.clickhouse import ClickHouse
from infra.settings import Settings
from producers.importers.thread import parse_thread, thread_events
from producers.publisher import Publisher
from schemas.events import CommentPosted, Followed

pytestmark = pytest.mark.integration

TENANT, POST = "emc-blog", "big-conversation"


@pytest.fixture
def pipeline(settings: Settings, tmp_path: Path) -> Iterator[Pipeline]:
    pipe = Pipeline(settings, tmp_path / "pipeline").start()
    yield pipe
    pipe.stop()


def _rows(ch: ClickHouse, sql: str) -> list[tuple]:
    return ch.rows(sql.replace("{db}", f"`{ch.database}`"))


def test_reference_thread_end_to_end(
    reference_thread: str, settings: Settings, pipeline: Pipeline
) -> None:
    parsed = parse_thread(
        reference_thread, zone="America/New_York", first_comment_starts="To your first question:"
    )
    published_at = datetime(2009, 2, 23, 14, 0, tzinfo=UTC)
    events = thread_events(
        parsed,
        tenant=TENANT,
        post_id=POST,
        post_author="Chuck Hollis",
        post_published_at=published_at,
    )
    author = events[0].actor
    follow = Followed(
        tenant=TENANT,
        actor="a-reader",
        followee=author,
        occurred_at=published_at - timedelta(days=1),
    )
    with Publisher(settings) as publisher:
        publisher.publish(follow)
        publisher.publish_many(events)
        publisher.publish_many(events)  # a second import: same ids, nothing may double
    pipeline.wait_quiet()

    comments = [e for e in events if isinstance(e, CommentPosted)]
    assert len(comments) == 9
    spam_ids = {c.comment_id for c in comments[-2:]}  # the two marketing comments close the thread
    ch = ClickHouse(settings)

    flagged = _rows(
        ch,
        "SELECT object_id, spam, machine_verdict FROM {db}.content_state FINAL "
        "WHERE kind = 'comment' ORDER BY object_id",
    )
    assert {oid for oid, spam, _ in flagged if spam} == spam_ids
    assert {oid for oid, _, verdict in flagged if verdict == "spam"} == spam_ids
    assert len(flagged) == 9

    genuine_others = {c.actor for c in comments if c.comment_id not in spam_ids} - {author}
    groups = _rows(
        ch,
        "SELECT kind, object_id, actor_count, latest_actors FROM "
        "{db}.notification_groups FINAL WHERE recipient = "
        f"'{author}' AND is_deleted = 0",
    )
    comment_groups = [g for g in groups if g[0] == "comment"]
    assert len(comment_groups) == 1
    kind, object_id, actor_count, latest = comment_groups[0]
    assert object_id == POST and actor_count == len(genuine_others)
    newest_first = sorted(
        {
            c.actor: c.occurred_at
            for c in comments
            if c.comment_id not in spam_ids and c.actor != author
        }.items(),
        key=lambda kv: (kv[1], kv[0]),
        reverse=True,
    )
    assert list(latest) == [a for a, _ in newest_first[:3]]

    comment_count = _rows(
        ch,
        "SELECT count() FROM {db}.trend_contributions FINAL WHERE dimension = 'post' "
        f"AND dim_value = '{POST}' AND metric = 'comment' AND is_deleted = 0",
    )
    assert comment_count == [(7,)]

    feed = _rows(
        ch,
        "SELECT activity_id FROM {db}.feed_items FINAL WHERE owner = 'a-reader' AND is_deleted = 0",
    )
    assert feed == [(f"post/{POST}",)]
    raw = _rows(ch, "SELECT count(), uniqExact(event_id) FROM {db}.events FINAL")
    assert raw == [(10 + 2 + 1, 10 + 2 + 1)]  # 10 imported, 2 machine verdicts, 1 follow
    ch.close()

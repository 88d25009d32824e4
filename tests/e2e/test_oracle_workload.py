"""A randomized workload through the real pipeline equals a plain-Python oracle (tests/oracle.py).

The generator mixes follows and unfollows, posts, comments, replies, mentions, reactions, edits,
deletes, spam, a moderator's verdict flips and exact duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from consumers.inbox import unread_counts
from consumers.queries import feed_page
from hubbub.pipeline import Pipeline
from infra.clickhouse import ClickHouse
from infra.settings import Settings
from producers.generator import Community
from producers.publisher import Publisher
from streams.domain import spam
from tests.oracle import Expected, expect

pytestmark = pytest.mark.integration

TENANT = "e2e"


def _machine_flags(text: str, title: str) -> bool:
    return spam.is_spam(spam.score(text, title=title))


@pytest.fixture(scope="module")
def world(
    service_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Expected]]:
    """One workload through one pipeline, shared by the comparisons below."""
    settings = service_settings.with_overrides(
        topic_prefix="oracle-e2e", clickhouse_database="oracle_e2e", partitions=3
    )
    events = list(
        Community("oracle", tenant=TENANT, users=80).events(
            5000, start_at=datetime(2026, 6, 1, 8, 0, tzinfo=UTC), rate_per_s=25
        )
    )
    pipeline = Pipeline(settings, tmp_path_factory.mktemp("oracle") / "pipeline")
    with Publisher(settings) as publisher:
        publisher.publish_many(events)
    pipeline.start()
    try:
        pipeline.wait_quiet(timeout_s=300)
    finally:
        pipeline.stop()
    yield settings, expect(events, machine_flags=_machine_flags)
    ch = ClickHouse(settings)
    ch.command("DROP DATABASE IF EXISTS oracle_e2e")
    ch.close()


@pytest.fixture
def ch(world: tuple[Settings, Expected]) -> Iterator[ClickHouse]:
    client = ClickHouse(world[0])
    yield client
    client.close()


def test_notification_groups_equal_the_oracle(
    world: tuple[Settings, Expected], ch: ClickHouse
) -> None:
    expected = world[1]
    got = {
        (r[0], r[1], r[2], r[3], r[4]): (r[5], r[6], tuple(r[7]), r[8], r[9], r[10])
        for r in ch.rows(
            "SELECT tenant, recipient, kind, object_kind, object_id, post_id, actor_count, "
            "latest_actors, toUnixTimestamp64Milli(first_at), toUnixTimestamp64Milli(last_at), "
            "excerpt FROM oracle_e2e.notification_groups FINAL WHERE is_deleted = 0"
        )
    }
    want = {
        key: (g.post_id, g.actor_count, g.latest_actors, g.first_ms, g.last_ms, g.excerpt)
        for key, g in expected.groups.items()
    }
    assert len(want) > 100
    assert got == want


def test_unread_and_unseen_counts_equal_the_oracle(
    world: tuple[Settings, Expected], ch: ClickHouse
) -> None:
    expected = world[1]
    users = sorted({key[1] for key in expected.groups})
    got = {u: unread_counts(ch, tenant=TENANT, recipient=u) for u in users}
    want = {u: (expected.unread_count(TENANT, u), expected.unseen_count(TENANT, u)) for u in users}
    assert any(unread != unseen for unread, unseen in want.values())  # marks did something
    assert got == want


def test_trend_totals_equal_the_oracle(world: tuple[Settings, Expected], ch: ClickHouse) -> None:
    got = {
        (r[0], r[1], r[2], r[3]): (r[4], frozenset(r[5]))
        for r in ch.rows(
            "SELECT tenant, dimension, dim_value, metric, count(), groupUniqArray(actor) "
            "FROM oracle_e2e.trend_contributions FINAL WHERE is_deleted = 0 "
            "GROUP BY tenant, dimension, dim_value, metric"
        )
    }
    assert got == world[1].trend_totals()


def test_moderation_state_equals_the_oracle(
    world: tuple[Settings, Expected], ch: ClickHouse
) -> None:
    expected = world[1]
    got = {
        (r[0], r[1], r[2]): (bool(r[3]), bool(r[4]))
        for r in ch.rows(
            "SELECT tenant, post_id, object_id, deleted, spam FROM oracle_e2e.content_state FINAL"
        )
    }
    want = {key: (o.deleted, o.spam) for key, o in expected.objects.items() if o.published}
    assert sum(spam for _, spam in want.values()) > 5
    assert got == want


def test_home_feeds_equal_the_oracle(world: tuple[Settings, Expected], ch: ClickHouse) -> None:
    expected = world[1]
    viewers = sorted({owner for (_, owner) in expected.feed_rows})
    assert len(viewers) > 50
    for viewer in viewers:
        seen: list[str] = []
        before_ms, before_id = None, None
        while True:
            page = feed_page(
                ch,
                tenant=TENANT,
                viewer=viewer,
                limit=100,
                before_ms=before_ms,
                before_id=before_id,
            )
            seen += [item.activity_id for item in page.items]
            if page.next_before_ms is None:
                break
            before_ms, before_id = page.next_before_ms, page.next_before_id
        assert seen == expected.home_feed(TENANT, viewer, only_followed=True), viewer

-- Feed rows arrive one per activity with the owners whose feeds it enters (topic "feed-items",
-- field "owners"): a post fans out to every follower with the same values, so the derived topic
-- carries one row per activity instead of one per follower. The sink inserts them here, into a
-- table that stores nothing, and this view expands each into one feed_items row per owner, in
-- order (ARRAY JOIN keeps the order of the array, so "equal versions keep the row inserted
-- last" holds as before). loaded_at takes its default at that insert.
CREATE TABLE IF NOT EXISTS {db}.feed_fanout
(
    tenant       LowCardinality(String),
    owners       Array(String),
    activity_id  String,
    kind         LowCardinality(String),
    author       String,
    post_id      String,
    created_at   DateTime64(3, 'UTC'),
    version      UInt64,
    is_deleted   UInt8
)
ENGINE = Null
;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.feed_fanout_to_items TO {db}.feed_items
AS SELECT tenant, owner, activity_id, kind, author, post_id, created_at, version, is_deleted
FROM {db}.feed_fanout
ARRAY JOIN owners AS owner

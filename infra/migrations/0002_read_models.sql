-- The read models: one table per derived topic (topic "feed-items" -> table feed_items), loaded by
-- consumers/sink.py. Every row carries the version of its source key, so redelivery and replay
-- collapse into one row per sorting key (ReplacingMergeTree keeps the highest version; equal
-- versions keep the row inserted last). Tables whose rows can disappear also take is_deleted:
-- reads with FINAL drop a key whose surviving row is a deletion.
--
-- Times arrive as epoch milliseconds (`x_ms` in the JSON) and are stored as DateTime64(3, 'UTC')
-- named `x_at` (`at_ms` -> `counted_at`); consumers/rows.py holds the mapping and column types.
--
-- No table is partitioned: ReplacingMergeTree only collapses rows within a partition, and every
-- time column here can change for a key (a delete carries created 0, a re-added reaction moves),
-- so a time partition would let two versions of a key survive side by side.
--
-- Sorting keys are the dedup keys of the contract; each starts with what a read ranges over:
-- a feed page is one range of (tenant, owner), an inbox one range of (tenant, recipient), a trend
-- one range of (tenant, dimension, dim_value). Tables read by point lookups (content_state by
-- object id, the small state tables) use smaller granules so a lookup reads fewer rows.
CREATE TABLE IF NOT EXISTS {db}.feed_items
(
    tenant       LowCardinality(String),
    owner        String,
    activity_id  String,
    kind         LowCardinality(String),
    author       String,
    post_id      String,
    created_at   DateTime64(3, 'UTC'),
    version      UInt64,
    is_deleted   UInt8
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (tenant, owner, activity_id)
SETTINGS index_granularity = 2048
;
CREATE TABLE IF NOT EXISTS {db}.notification_groups
(
    tenant         LowCardinality(String),
    recipient      String,
    kind           LowCardinality(String),
    object_kind    LowCardinality(String),
    object_id      String,
    post_id        String,
    actor_count    UInt32,
    latest_actors  Array(String),
    first_at       DateTime64(3, 'UTC'),
    last_at        DateTime64(3, 'UTC'),
    excerpt        String,
    version        UInt64,
    is_deleted     UInt8
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (tenant, recipient, kind, object_kind, object_id)
SETTINGS index_granularity = 2048
;
CREATE TABLE IF NOT EXISTS {db}.trend_contributions
(
    tenant       LowCardinality(String),
    dimension    LowCardinality(String),
    dim_value    String,
    metric       LowCardinality(String),
    source_id    String,
    actor        String,
    counted_at   DateTime64(3, 'UTC'),
    version      UInt64,
    is_deleted   UInt8,
    -- trending scans a tenant's whole dimension for a time range: skip granules outside it
    INDEX counted_at_minmax counted_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (tenant, dimension, dim_value, metric, source_id)
;
CREATE TABLE IF NOT EXISTS {db}.content_state
(
    tenant           LowCardinality(String),
    post_id          String,
    object_id        String,
    kind             LowCardinality(String),
    author           String,
    title            String,
    body             String CODEC(ZSTD(3)),
    in_reply_to      String,
    created_at       DateTime64(3, 'UTC'),
    edited_at        DateTime64(3, 'UTC'),
    deleted          UInt8,
    spam             UInt8,
    machine_verdict  LowCardinality(String),
    person_verdict   LowCardinality(String),
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, object_id)
SETTINGS index_granularity = 1024
;
CREATE TABLE IF NOT EXISTS {db}.inbox_state
(
    tenant         LowCardinality(String),
    user           String,
    read_up_to_at  DateTime64(3, 'UTC'),
    seen_up_to_at  DateTime64(3, 'UTC'),
    group_reads    Map(String, DateTime64(3, 'UTC')),
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, user)
SETTINGS index_granularity = 1024
;
CREATE TABLE IF NOT EXISTS {db}.follows_state
(
    tenant     LowCardinality(String),
    follower   String,
    followee   String,
    since_at   DateTime64(3, 'UTC'),
    version    UInt64,
    is_deleted UInt8
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (tenant, follower, followee)
SETTINGS index_granularity = 1024
;
CREATE TABLE IF NOT EXISTS {db}.author_state
(
    tenant          LowCardinality(String),
    author          String,
    read_fanout     UInt8,
    follower_count  UInt64,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, author)
SETTINGS index_granularity = 1024

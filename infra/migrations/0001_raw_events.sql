-- Every event of the log, decoded, for audit and analytics. ReplacingMergeTree on the event id
-- (inside the sorting key) makes a redelivered or replayed event collapse into one row.
CREATE TABLE IF NOT EXISTS {db}.events
(
    tenant        LowCardinality(String),
    event_type    LowCardinality(String),
    occurred_at   DateTime64(3, 'UTC'),
    event_id      UUID,
    actor         String,
    object_id     String,
    topic         LowCardinality(String),
    partition     UInt16,
    offset        UInt64,
    payload       String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, event_type, occurred_at, event_id)

-- When each feed row was loaded: end-to-end latency (publish -> queryable) and sink lag are
-- measured from it. Filled by the server at insert time.
ALTER TABLE {db}.feed_items ADD COLUMN IF NOT EXISTS loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
;
ALTER TABLE {db}.notification_groups ADD COLUMN IF NOT EXISTS loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)

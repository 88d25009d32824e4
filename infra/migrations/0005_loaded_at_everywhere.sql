-- When each row of every other table was loaded (0003 covered feed_items and
-- notification_groups): the benchmark times "published until visible in ClickHouse" by the last
-- row loaded, and an operator can see how far behind the sink is on any table. Filled by the
-- server at insert time; the sink never sends it.
ALTER TABLE {db}.trend_contributions ADD COLUMN IF NOT EXISTS loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
;
ALTER TABLE {db}.content_state ADD COLUMN IF NOT EXISTS loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
;
ALTER TABLE {db}.inbox_state ADD COLUMN IF NOT EXISTS loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
;
ALTER TABLE {db}.follows_state ADD COLUMN IF NOT EXISTS loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
;
ALTER TABLE {db}.author_state ADD COLUMN IF NOT EXISTS loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
;
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)

-- The service's counters (SPEC §3.2 `shadowd/stats`), kept in the database so `shadowctl stats`
-- can show them without a broker. shadowd upserts one row per counter every stats_interval_s:
-- `name` is the counter's key in the stats payload (a nested counter joined with '.', e.g.
-- `rejected_by_code.400`), `value` a number, `updated_at` the ISO-8601 UTC time of that sample.
-- Counters are cumulative since shadowd started, like the payload.
CREATE TABLE service_stats (
    name       TEXT PRIMARY KEY,
    value      NUMERIC NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;

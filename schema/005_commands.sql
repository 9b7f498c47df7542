-- The tariff workflow (SPEC §8, §10): commands published to meters, and each meter's schedule.
-- Public columns are ISO-8601 UTC text; the instants the service computes with are Unix seconds.

-- One row per command. status moves once, pending → confirmed | failed; attempts counts the
-- publications so far. While pending, next_attempt_at is when the next attempt is sent, or, after
-- the last one allowed, when the command fails for want of an answer.
CREATE TABLE meter_commands (
    id              TEXT PRIMARY KEY, -- the id published to the meter (UUID)
    meter_id        TEXT NOT NULL REFERENCES meter_registry (id),
    command         TEXT NOT NULL,    -- 'tariffs_future_write'
    args            TEXT NOT NULL,    -- JSON: the tariff object sent
    status          TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'confirmed', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    version         INTEGER NOT NULL, -- the shadow version whose desired tariff it carries
    next_attempt_at INTEGER,          -- NULL once the command has ended
    last_attempt_at INTEGER,
    result          TEXT CHECK (result IS NULL OR result IN ('ok', 'error')), -- the meter's answer
    result_message  TEXT,
    reason          TEXT              -- why it failed: error, no answer, superseded, cancelled
);
-- The service's once-a-second question "what is due?" reads only this small index.
CREATE INDEX meter_commands_due ON meter_commands (next_attempt_at) WHERE status = 'pending';
CREATE INDEX meter_commands_by_meter ON meter_commands (meter_id, status);

-- A row per meter with a desired future tariff: `pushed` when it was set outside the service
-- (shadowctl tariff push) and the service has yet to act; `scheduled` once it has, due_at then
-- being the next instant to look again (a passive meter's activation, the overdue check).
CREATE TABLE meter_tariff_schedule (
    meter_id TEXT PRIMARY KEY REFERENCES meter_registry (id),
    stage    TEXT NOT NULL CHECK (stage IN ('pushed', 'scheduled')),
    due_at   INTEGER -- NULL: nothing due
) WITHOUT ROWID;
CREATE INDEX meter_tariff_schedule_due ON meter_tariff_schedule (due_at) WHERE due_at IS NOT NULL;

-- Meter history (SPEC §5, §6, §9, §10). Tables keep the meter's own integer units (energy Wh or
-- mWh, money 1e-5 £) so sums never drift; the public names are views showing kWh and £. Every
-- history table is keyed on its natural key, so a redelivered message adds nothing.

-- Cumulative register reads and the interval engine's state per read. flow is the register's
-- import or export series (after direction_reversed); ts is Unix seconds.
CREATE TABLE register_reads (
    register_id TEXT NOT NULL REFERENCES meter_registers (register_id),
    flow        TEXT NOT NULL CHECK (flow IN ('import', 'export')),
    ts          INTEGER NOT NULL,
    wh          INTEGER NOT NULL CHECK (wh >= 0),
    estimated   INTEGER NOT NULL DEFAULT 0 CHECK (estimated IN (0, 1)),
    baseline_wh INTEGER NOT NULL,
    quality     TEXT NOT NULL,
    interval_wh INTEGER CHECK (interval_wh IS NULL OR interval_wh >= 0), -- NULL: first read
    PRIMARY KEY (register_id, flow, ts)
) WITHOUT ROWID;

CREATE VIEW register_import AS
SELECT register_id, strftime('%Y-%m-%dT%H:%M:%SZ', ts, 'unixepoch') AS timestamp,
       wh / 1000.0 AS import_cumulative, interval_wh / 1000.0 AS import_interval
FROM register_reads WHERE flow = 'import';

CREATE VIEW register_export AS
SELECT register_id, strftime('%Y-%m-%dT%H:%M:%SZ', ts, 'unixepoch') AS timestamp,
       wh / 1000.0 AS export_cumulative, interval_wh / 1000.0 AS export_interval
FROM register_reads WHERE flow = 'export';

-- Half-hourly energy per register and flow, in mWh (1e-6 kWh).
CREATE TABLE register_periods (
    register_id TEXT NOT NULL,
    flow        TEXT NOT NULL CHECK (flow IN ('import', 'export')),
    start       INTEGER NOT NULL,
    mwh         INTEGER NOT NULL CHECK (mwh >= 0),
    quality     TEXT NOT NULL,
    complete    INTEGER NOT NULL CHECK (complete IN (0, 1)),
    revision    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (register_id, flow, start)
) WITHOUT ROWID;

-- Quality of a period over both flows: the worst, in the order the interval engine uses.
CREATE VIEW register_interval_hh AS
SELECT register_id, strftime('%Y-%m-%dT%H:%M:%SZ', start, 'unixepoch') AS timestamp,
       MAX(CASE flow WHEN 'import' THEN mwh END) / 1000000.0 AS import_kwh,
       MAX(CASE flow WHEN 'export' THEN mwh END) / 1000000.0 AS export_kwh,
       CASE MAX(CASE quality WHEN 'reset' THEN 5 WHEN 'rollover' THEN 4 WHEN 'negative' THEN 3
                             WHEN 'estimated' THEN 2 WHEN 'actual' THEN 1 ELSE 0 END)
           WHEN 5 THEN 'reset' WHEN 4 THEN 'rollover' WHEN 3 THEN 'negative'
           WHEN 2 THEN 'estimated' WHEN 1 THEN 'actual' ELSE 'missing' END AS quality,
       MAX(revision) AS revision, MIN(complete) AS complete
FROM register_periods GROUP BY register_id, start;

-- Circuit aggregates, kept incrementally; energy in mWh.
CREATE TABLE circuit_hh (
    circuit_id TEXT NOT NULL,
    start      INTEGER NOT NULL,
    import_mwh INTEGER NOT NULL,
    export_mwh INTEGER NOT NULL,
    registers  INTEGER NOT NULL,
    estimated  INTEGER NOT NULL,
    complete   INTEGER NOT NULL CHECK (complete IN (0, 1)),
    revision   INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (circuit_id, start)
) WITHOUT ROWID;

CREATE VIEW circuit_interval_hh AS
SELECT circuit_id, strftime('%Y-%m-%dT%H:%M:%SZ', start, 'unixepoch') AS timestamp,
       import_mwh / 1000000.0 AS import_kwh, export_mwh / 1000000.0 AS export_kwh,
       registers, estimated, complete, revision
FROM circuit_hh;

CREATE TABLE circuit_daily (
    circuit_id TEXT NOT NULL,
    day        TEXT NOT NULL, -- YYYY-MM-DD, local to aggregate_timezone
    import_mwh INTEGER NOT NULL,
    export_mwh INTEGER NOT NULL,
    hh_count   INTEGER NOT NULL,
    complete   INTEGER NOT NULL CHECK (complete IN (0, 1)),
    revision   INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (circuit_id, day)
) WITHOUT ROWID;

CREATE VIEW circuit_interval_daily AS
SELECT circuit_id, day, import_mwh / 1000000.0 AS total_import_kwh,
       export_mwh / 1000000.0 AS total_export_kwh, hh_count, complete, revision
FROM circuit_daily;

CREATE TABLE circuit_monthly (
    circuit_id    TEXT NOT NULL,
    month         TEXT NOT NULL, -- YYYY-MM, local to aggregate_timezone
    import_mwh    INTEGER NOT NULL,
    export_mwh    INTEGER NOT NULL,
    days_in_month INTEGER NOT NULL,
    complete      INTEGER NOT NULL CHECK (complete IN (0, 1)),
    revision      INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (circuit_id, month)
) WITHOUT ROWID;

CREATE VIEW circuit_interval_monthly AS
SELECT circuit_id, month, import_mwh / 1000000.0 AS total_import_kwh,
       export_mwh / 1000000.0 AS total_export_kwh, days_in_month, complete, revision
FROM circuit_monthly;

-- Prepayment balance, in 1e-5 £ (the meter's own scale).
CREATE TABLE meter_prepay_balance_data (
    meter_id            TEXT NOT NULL,
    timestamp           TEXT NOT NULL,
    balance_e5          INTEGER,
    emergency_credit_e5 INTEGER,
    PRIMARY KEY (meter_id, timestamp)
) WITHOUT ROWID;

CREATE VIEW meter_prepay_balance AS
SELECT meter_id, timestamp, balance_e5 / 100000.0 AS balance,
       emergency_credit_e5 / 100000.0 AS emergency_credit
FROM meter_prepay_balance_data;

CREATE TABLE meter_csq (
    meter_id  TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    csq       INTEGER CHECK (csq BETWEEN 0 AND 31),
    PRIMARY KEY (meter_id, timestamp)
) WITHOUT ROWID;

CREATE TABLE meter_voltage (
    meter_id  TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    voltage   REAL NOT NULL,
    PRIMARY KEY (meter_id, timestamp)
) WITHOUT ROWID;

CREATE TABLE meter_3p_voltage (
    meter_id   TEXT NOT NULL,
    timestamp  TEXT NOT NULL,
    voltage_l1 REAL,
    voltage_l2 REAL,
    voltage_l3 REAL,
    PRIMARY KEY (meter_id, timestamp)
) WITHOUT ROWID;

CREATE TABLE meter_health_history (
    meter_id  TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    health    TEXT NOT NULL CHECK (health IN ('healthy', 'unhealthy')),
    reason    TEXT,
    PRIMARY KEY (meter_id, timestamp)
) WITHOUT ROWID;

-- The meter's own events (source 'meter', de-duplicated on meter, time and code) and the
-- service's events (source 'service', de-duplicated on the whole row so a redelivery adds none).
CREATE TABLE meter_event_log (
    meter_id   TEXT NOT NULL,
    timestamp  TEXT NOT NULL,
    event_type TEXT NOT NULL,
    details    TEXT,
    source     TEXT NOT NULL CHECK (source IN ('meter', 'service'))
);
CREATE UNIQUE INDEX meter_event_log_meter ON meter_event_log (meter_id, timestamp, event_type)
    WHERE source = 'meter';
CREATE UNIQUE INDEX meter_event_log_service
    ON meter_event_log (meter_id, timestamp, event_type, details) WHERE source = 'service';
CREATE INDEX meter_event_log_by_time ON meter_event_log (meter_id, timestamp);

CREATE TABLE meter_tariff_history (
    meter_id  TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('active', 'future')),
    tariff    TEXT NOT NULL,
    PRIMARY KEY (meter_id, timestamp, kind)
) WITHOUT ROWID;

-- The service's view of each meter's liveness and alert states, so each alert is raised once
-- per crossing and the views need no configuration.
CREATE TABLE meter_state (
    meter_id       TEXT PRIMARY KEY REFERENCES meter_registry (id),
    last_seen      INTEGER,           -- Unix seconds of the last message received
    online         INTEGER NOT NULL DEFAULT 1 CHECK (online IN (0, 1)),
    last_online    INTEGER,           -- last_seen when the meter went offline
    low_balance    INTEGER NOT NULL DEFAULT 0 CHECK (low_balance IN (0, 1)),
    clock_drift    INTEGER NOT NULL DEFAULT 0 CHECK (clock_drift IN (0, 1)),
    future_activation_at INTEGER      -- instant of the desired future tariff (SPEC §8)
) WITHOUT ROWID;

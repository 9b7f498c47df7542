-- Registry and topology (SPEC §7, §10): ESCO → site → property → service head → meter →
-- register → circuit. Ids are UUID text, stable across imports; natural keys are UNIQUE so an
-- import is an idempotent upsert. References hold the referenced row's id.
CREATE TABLE escos (
    id         TEXT PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    name       TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE sites_new (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    esco        TEXT REFERENCES escos (id),
    location    TEXT,
    capacity_kw REAL
);

CREATE TABLE properties (
    id      TEXT PRIMARY KEY,
    plot    TEXT NOT NULL UNIQUE,
    site    TEXT REFERENCES sites_new (id),
    address TEXT,
    type    TEXT
);

CREATE TABLE feeder_registry (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    substation  TEXT,
    rating_amps REAL
);

CREATE TABLE service_head_registry (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    phase            INTEGER CHECK (phase IN (1, 3)),
    type             TEXT,
    feeder           TEXT REFERENCES feeder_registry (id),
    fuse_rating_amps REAL
);

CREATE TABLE properties_service_head (
    property     TEXT NOT NULL REFERENCES properties (id),
    service_head TEXT NOT NULL REFERENCES service_head_registry (id),
    PRIMARY KEY (property, service_head)
);

CREATE TABLE meter_registry (
    id                                  TEXT PRIMARY KEY,
    serial                              TEXT NOT NULL UNIQUE,
    name                                TEXT,
    ip_address                          TEXT,
    hardware                            TEXT,
    mode                                TEXT NOT NULL DEFAULT 'active' CHECK (mode IN ('active', 'passive')),
    esco                                TEXT REFERENCES escos (id),
    single_meter_app                    INTEGER NOT NULL DEFAULT 0 CHECK (single_meter_app IN (0, 1)),
    daylight_savings_correction_enabled INTEGER NOT NULL DEFAULT 0
        CHECK (daylight_savings_correction_enabled IN (0, 1)),
    created_at                          TEXT NOT NULL,
    updated_at                          TEXT NOT NULL
);

-- A meter belongs to at most one service head.
CREATE TABLE service_head_meter (
    service_head TEXT NOT NULL REFERENCES service_head_registry (id),
    meter        TEXT NOT NULL UNIQUE REFERENCES meter_registry (id),
    PRIMARY KEY (service_head, meter)
);

CREATE TABLE meter_registers (
    register_id        TEXT PRIMARY KEY,
    meter_id           TEXT NOT NULL REFERENCES meter_registry (id),
    element            TEXT NOT NULL CHECK (element IN ('A', 'B', 'SINGLE')),
    status             TEXT NOT NULL DEFAULT 'active',
    direction_reversed INTEGER NOT NULL DEFAULT 0 CHECK (direction_reversed IN (0, 1)),
    rollover_kwh       REAL CHECK (rollover_kwh IS NULL OR rollover_kwh > 0),
    created_at         TEXT NOT NULL,
    UNIQUE (meter_id, element)
);

CREATE TABLE circuits (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL CHECK (type IN ('power', 'heat', 'solar')),
    site        TEXT REFERENCES sites_new (id),
    name        TEXT NOT NULL UNIQUE,
    rating_amps REAL
);

-- A register counts toward a circuit for periods start_time <= period < end_time (open when NULL).
CREATE TABLE circuit_register (
    circuit    TEXT NOT NULL REFERENCES circuits (id),
    register   TEXT NOT NULL REFERENCES meter_registers (register_id),
    start_time TEXT NOT NULL,
    end_time   TEXT CHECK (end_time IS NULL OR end_time > start_time),
    PRIMARY KEY (circuit, register, start_time)
);
CREATE INDEX circuit_register_by_register ON circuit_register (register);

-- Shadow documents (SPEC §4, §10): one row per meter serial.
-- `document` is the stored form {"state":…,"metadata":…,"version":N,"timestamp":T}; a soft delete
-- keeps the row and its version with deleted = 1 so a re-created shadow continues the count.
CREATE TABLE shadow_documents (
    serial     TEXT PRIMARY KEY,
    document   TEXT NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 0),
    deleted    INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    updated_at TEXT NOT NULL
);

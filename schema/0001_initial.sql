-- 0001_initial.sql - espfab traceability schema, version 1.
--
-- Applied by src/store/store.c inside one transaction, which then records
-- the version in schema_version.  Never edit a migration that has shipped:
-- add 0002_<what>.sql instead.
--
-- The record is append-only.  Triggers refuse to delete anything and refuse
-- to change an attempt (or its regions) once its outcome is no longer
-- 'running'; a run can only be changed until it has ended.

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    station         TEXT NOT NULL DEFAULT '',
    line            TEXT NOT NULL DEFAULT '',
    operator        TEXT NOT NULL DEFAULT '',
    lot             TEXT NOT NULL DEFAULT '',
    profile_name    TEXT NOT NULL DEFAULT '',
    profile_sha256  TEXT NOT NULL DEFAULT '',
    mode            TEXT NOT NULL DEFAULT '',
    host            TEXT NOT NULL DEFAULT '',
    pid             INTEGER NOT NULL DEFAULT 0,
    started_at      TEXT NOT NULL,            -- ISO-8601 UTC
    start_ms        INTEGER NOT NULL,         -- unix epoch milliseconds
    ended_at        TEXT,
    end_ms          INTEGER
);

CREATE TABLE attempts (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER REFERENCES runs(id),
    station         TEXT NOT NULL DEFAULT '',
    line            TEXT NOT NULL DEFAULT '',
    slot            TEXT NOT NULL DEFAULT '',
    port            TEXT NOT NULL DEFAULT '',
    operator        TEXT NOT NULL DEFAULT '',
    lot             TEXT NOT NULL DEFAULT '',
    profile_name    TEXT NOT NULL DEFAULT '',
    profile_sha256  TEXT NOT NULL DEFAULT '',
    chip            TEXT NOT NULL DEFAULT '',   -- "ESP32-S3"
    rev_full        INTEGER,                    -- major*100+minor, NULL unknown
    mac             TEXT NOT NULL DEFAULT '',   -- "24:6f:28:00:00:03"
    chip_id         TEXT NOT NULL DEFAULT '',
    has_secinfo     INTEGER NOT NULL DEFAULT 0,
    secinfo_flags   INTEGER NOT NULL DEFAULT 0,
    flash_jedec     INTEGER NOT NULL DEFAULT 0,
    flash_size      INTEGER NOT NULL DEFAULT 0, -- bytes
    xtal_mhz        INTEGER NOT NULL DEFAULT 0,
    loader          TEXT NOT NULL DEFAULT '',   -- "ROM" / "stub"
    baud            INTEGER NOT NULL DEFAULT 0,
    started_at      TEXT NOT NULL,
    start_ms        INTEGER NOT NULL,
    ended_at        TEXT,
    end_ms          INTEGER,
    ms_connect      INTEGER NOT NULL DEFAULT 0, -- one column per espfab_phase_t
    ms_identify     INTEGER NOT NULL DEFAULT 0,
    ms_stub         INTEGER NOT NULL DEFAULT 0,
    ms_baud         INTEGER NOT NULL DEFAULT 0,
    ms_erase        INTEGER NOT NULL DEFAULT 0,
    ms_write        INTEGER NOT NULL DEFAULT 0,
    ms_verify       INTEGER NOT NULL DEFAULT 0,
    ms_reset        INTEGER NOT NULL DEFAULT 0,
    bytes_sent      INTEGER NOT NULL DEFAULT 0,
    bytes_received  INTEGER NOT NULL DEFAULT 0,
    outcome         TEXT NOT NULL DEFAULT 'running'
                    CHECK (outcome IN ('running', 'pass', 'fail', 'interrupted')),
    error_code      INTEGER NOT NULL DEFAULT 0, -- positive stable number (docs/errors.md)
    error_name      TEXT NOT NULL DEFAULT '',   -- "PORT_BUSY"
    rom_status      INTEGER,                    -- NULL: no ROM/stub reply involved
    rom_error       INTEGER,
    stub_error      INTEGER NOT NULL DEFAULT 0, -- 1: rom_error is a stub code
    sys_errno       INTEGER NOT NULL DEFAULT 0,
    retries         INTEGER NOT NULL DEFAULT 0,
    detail          TEXT NOT NULL DEFAULT '',
    message         TEXT NOT NULL DEFAULT ''
);

CREATE INDEX attempts_mac ON attempts(mac);
CREATE INDEX attempts_lot ON attempts(lot, start_ms);
CREATE INDEX attempts_start ON attempts(start_ms);
CREATE INDEX attempts_outcome ON attempts(outcome);
CREATE INDEX attempts_run ON attempts(run_id);

CREATE TABLE attempt_regions (
    attempt_id      INTEGER NOT NULL REFERENCES attempts(id),
    idx             INTEGER NOT NULL,           -- order within the attempt
    flash_offset    INTEGER NOT NULL,
    file            TEXT NOT NULL DEFAULT '',
    sha256          TEXT NOT NULL DEFAULT '',   -- image bytes intended
    md5_expected    TEXT NOT NULL DEFAULT '',
    md5_device      TEXT NOT NULL DEFAULT '',   -- '' when not read
    size            INTEGER NOT NULL DEFAULT 0,
    wire_size       INTEGER NOT NULL DEFAULT 0,
    compressed      INTEGER NOT NULL DEFAULT 0,
    written         INTEGER NOT NULL DEFAULT 0,
    verified        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (attempt_id, idx)
);

-- Append-only record.
CREATE TRIGGER runs_no_delete BEFORE DELETE ON runs
BEGIN
    SELECT RAISE(ABORT, 'espfab: runs are never deleted');
END;

CREATE TRIGGER runs_no_rewrite BEFORE UPDATE ON runs
WHEN OLD.end_ms IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'espfab: an ended run is never rewritten');
END;

CREATE TRIGGER attempts_no_delete BEFORE DELETE ON attempts
BEGIN
    SELECT RAISE(ABORT, 'espfab: attempts are never deleted');
END;

CREATE TRIGGER attempts_no_rewrite BEFORE UPDATE ON attempts
WHEN OLD.outcome <> 'running'
BEGIN
    SELECT RAISE(ABORT, 'espfab: a completed attempt is never rewritten');
END;

CREATE TRIGGER attempts_begin_running BEFORE INSERT ON attempts
WHEN NEW.outcome <> 'running'
BEGIN
    SELECT RAISE(ABORT, 'espfab: an attempt starts as running');
END;

CREATE TRIGGER regions_no_delete BEFORE DELETE ON attempt_regions
BEGIN
    SELECT RAISE(ABORT, 'espfab: attempt regions are never deleted');
END;

CREATE TRIGGER regions_no_rewrite BEFORE UPDATE ON attempt_regions
WHEN (SELECT outcome FROM attempts WHERE id = OLD.attempt_id) <> 'running'
BEGIN
    SELECT RAISE(ABORT, 'espfab: regions of a completed attempt are never rewritten');
END;

CREATE TRIGGER regions_no_late_insert BEFORE INSERT ON attempt_regions
WHEN (SELECT outcome FROM attempts WHERE id = NEW.attempt_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'espfab: regions can only be added to a running attempt');
END;

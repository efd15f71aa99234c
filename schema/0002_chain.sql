-- 0002_chain.sql - espfab traceability schema, version 2: tamper evidence
-- and owner locks.  docs/record.md describes the chain.
--
-- Applied by src/store/store.c inside one transaction; in that same
-- transaction the store then chains every attempt 0001 had already
-- completed, in id order (src/store/chain.c, chain_backfill), and records
-- that it did in maintenance.  No shipped row is rewritten: runs only gain
-- columns that stay NULL for the runs that ended before.
--
-- attempt_chain: one row per completed attempt, in completion order.
-- sha256 = SHA-256(canonical encoding of seq, prev_sha256, the attempt row
-- and its regions); prev_sha256 is the sha256 of the row seq-1 (64 zeros
-- for the first).  AUTOINCREMENT: a deleted last link leaves its seq unused.

CREATE TABLE attempt_chain (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt_id      INTEGER NOT NULL,
    prev_sha256     TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    origin          TEXT NOT NULL DEFAULT 'finish', -- finish / recovery / migration / close-stale
    chained_at      TEXT NOT NULL
);

CREATE INDEX attempt_chain_attempt ON attempt_chain(attempt_id);

-- The chain head when a run ended (NULL for runs ended before version 2),
-- and the owner lock its station held while alive: byte <run id> of the file
-- named owner_lock beside the database (NULL: a run of an older espfab).
ALTER TABLE runs ADD COLUMN chain_seq INTEGER;
ALTER TABLE runs ADD COLUMN chain_head TEXT;
ALTER TABLE runs ADD COLUMN owner_lock TEXT;

-- Maintenance done on the record itself (trigger repair, stale rows closed,
-- the chain started by this migration).
CREATE TABLE maintenance (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              TEXT NOT NULL,
    at_ms           INTEGER NOT NULL,
    host            TEXT NOT NULL DEFAULT '',
    pid             INTEGER NOT NULL DEFAULT 0,
    action          TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT ''
);

CREATE TRIGGER chain_no_delete BEFORE DELETE ON attempt_chain
BEGIN
    SELECT RAISE(ABORT, 'espfab: the attempt chain is never deleted');
END;

CREATE TRIGGER chain_no_rewrite BEFORE UPDATE ON attempt_chain
BEGIN
    SELECT RAISE(ABORT, 'espfab: the attempt chain is never rewritten');
END;

CREATE TRIGGER maintenance_no_delete BEFORE DELETE ON maintenance
BEGIN
    SELECT RAISE(ABORT, 'espfab: maintenance events are never deleted');
END;

CREATE TRIGGER maintenance_no_rewrite BEFORE UPDATE ON maintenance
BEGIN
    SELECT RAISE(ABORT, 'espfab: maintenance events are never rewritten');
END;

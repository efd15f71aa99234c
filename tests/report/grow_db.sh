#!/usr/bin/env bash
# grow_db.sh - grows a database that tests/report/fill_db wrote (one shift)
# to N attempts with sqlite3, in one transaction: copy k of the shift gets
# ids shifted by k x (attempts of the shift), MACs with k in their first
# three bytes (distinct boards), times shifted by k x 6 h, lot
# "<lot>-<k/20>" and line "line <k%4+1>"; its regions and chain links are
# copied too.  Every copy is inserted as running and completed afterwards,
# as the schema's append-only triggers demand.  Used by the scale test
# (tests/report/scale.sh) and the benchmark (bench/report.sh).
#   grow_db.sh DB N
set -euo pipefail
db=$1 n=$2
command -v sqlite3 >/dev/null || { echo "grow_db.sh: sqlite3 (the command line shell) is needed" >&2; exit 2; }
q() { sqlite3 "$db" "$1"; }
per=$(q "SELECT max(id) FROM attempts")
[ "$(q "SELECT count(*) FROM attempts")" = "$per" ] || { echo "grow_db.sh: $db is not one fill_db shift" >&2; exit 2; }
keep="NOT IN ('id', 'outcome', 'mac', 'start_ms', 'end_ms', 'lot', 'line')"
cols=$(q "SELECT group_concat(name, ', ') FROM pragma_table_info('attempts') WHERE name $keep")
acols=$(q "SELECT group_concat('a.' || name, ', ') FROM pragma_table_info('attempts') WHERE name $keep")
upd=$(q "SELECT group_concat(name || ' = o.' || name, ', ') FROM pragma_table_info('attempts')
         WHERE name IN ('outcome', 'ended_at', 'error_code', 'error_name', 'rom_status', 'rom_error',
                        'stub_error', 'sys_errno', 'retries', 'detail', 'message')")
sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-65536;
.bail on
BEGIN;
CREATE TEMP TABLE ks(k INTEGER PRIMARY KEY);
WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < ($n - 1) / $per)
INSERT INTO ks SELECT k FROM c;
INSERT INTO attempts (id, outcome, mac, start_ms, end_ms, lot, line, $cols)
SELECT a.id + ks.k * $per, 'running',
       CASE WHEN a.mac = '' THEN '' ELSE printf('%02x:%02x:%02x', (ks.k >> 16) & 255, (ks.k >> 8) & 255,
                                               ks.k & 255) || substr(a.mac, 9) END,
       a.start_ms + ks.k * 21600000, a.end_ms + ks.k * 21600000, a.lot || '-' || (ks.k / 20),
       'line ' || (ks.k % 4 + 1), $acols
FROM attempts a, ks WHERE a.id <= $per AND a.id + ks.k * $per <= $n;
INSERT INTO attempt_regions
SELECT r.attempt_id + ks.k * $per, r.idx, r.flash_offset, r.file, r.sha256, r.md5_expected, r.md5_device,
       r.size, r.wire_size, r.compressed, r.written, r.verified
FROM attempt_regions r, ks WHERE r.attempt_id <= $per AND r.attempt_id + ks.k * $per <= $n;
UPDATE attempts SET $upd FROM attempts o
WHERE attempts.id > $per AND o.id = (attempts.id - 1) % $per + 1 AND o.outcome <> 'running';
INSERT INTO attempt_chain (attempt_id, prev_sha256, sha256, origin, chained_at)
SELECT c.attempt_id + ks.k * $per, c.prev_sha256, c.sha256, c.origin, c.chained_at
FROM attempt_chain c, ks WHERE c.attempt_id <= $per AND c.attempt_id + ks.k * $per <= $n ORDER BY 1;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL

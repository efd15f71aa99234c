#!/usr/bin/env bash
# storage.sh - issue 16 items 10, 12, 3 (migration) and 5: `report` and
# `db check` read a database on read-only storage (mode 0444 in a 0555
# folder, run as an unprivileged user when we are root); a reader meeting a
# database being created waits for it; `run` refuses a database that fails its
# integrity check; a schema-1 database is read as it is read-only and chained
# in id order when opened read-write; an attempt interrupted before its MAC
# was read is closed history for `db check`.
. "$(dirname "$0")/../lib.sh"
require_tools ESPFAB FIXTURE MKIMAGE
require_cmd sqlite3 "sqlite3 (the CLI)"
SCHEMA=$(cd "$(dirname "$0")/../../schema" && pwd)
AS=()
if [ "$(id -u)" = 0 ]; then
    require_cmd setpriv "setpriv (util-linux), to read as an unprivileged user"
    AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
run() { # run WANT DESCRIPTION -- command...
    local want=$1 what=$2; shift 3
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    [ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "$what: exit $rc, wanted $want"; return 1; }
}
has() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$3: '$2' not in it"; return 1; }; }
hasnt() { ! grep -qiF -- "$2" "$1" || { cat "$1" >&2; fail "$3: '$2' in it"; return 1; }; }

# --- item 10: read-only storage ---
mkdir "$T/ro"
"$FIXTURE" clean "$T/ro/x.db" || die "fixture"
"$FIXTURE" crash "$T/ro/crash.db" 2>/dev/null
cp "$T/ro/crash.db" "$T/ro/nolog.db"; cp "$T/ro/crash.db-wal" "$T/ro/nolog.db-wal"
chmod 444 "$T"/ro/*; chmod 555 "$T/ro"
at_exit 'chmod 755 "$T/ro"'
run 0 "db check on read-only storage" -- "${AS[@]}" "$ESPFAB" db check --db "$T/ro/x.db" &&
    has "$T/out" "2 in 1 runs: 1 pass, 1 fail" "read-only db check" &&
    hasnt "$T/err" "readonly" "read-only db check" && pass "db check reads a 0444 database in a 0555 folder"
run 0 "report on read-only storage" -- "${AS[@]}" "$ESPFAB" report --db "$T/ro/x.db" --format csv &&
    [ "$(wc -l < "$T/out")" = 3 ] && hasnt "$T/err" "no such file" "read-only report" &&
    pass "report reads it too (header + 2 rows)"
run 1 "db check of a crashed database on read-only storage" -- "${AS[@]}" "$ESPFAB" db check --db "$T/ro/crash.db" &&
    has "$T/out" "0 interrupted, 2 open" "crash counts (from its log)" &&
    pass "a crashed database with its -wal and -shm is read on read-only storage, its log included"
run 2 "a log that cannot be read" -- "${AS[@]}" "$ESPFAB" report --db "$T/ro/nolog.db" --format csv &&
    has "$T/err" "write-ahead log ($T/ro/nolog.db-wal)" "the log is named" &&
    has "$T/err" "copy the database and its -wal file to a writable folder" "what to do" &&
    pass "a -wal that cannot be indexed on read-only storage: said so, with the way out (no rows silently dropped)"
run 2 "repairs need write access" -- "${AS[@]}" "$ESPFAB" db check --db "$T/ro/x.db" --repair-triggers &&
    has "$T/err" "is read-only: repairs need write access" "repair refused" && pass "repairs on read-only storage are refused clearly"

# --- item 12: a reader racing the database's creation ---
: > "$T/new.db"
"$ESPFAB" report --db "$T/new.db" --format csv > "$T/race.out" 2> "$T/race.err" &
rp=$!
sleep 0.5
"$FIXTURE" clean "$T/new.db" || die "fixture"
wait $rp; rc=$?
if [ $rc = 0 ] && ! grep -q "older than" "$T/race.err"; then
    pass "a report started while the database was being created waits for its schema"
else
    cat "$T/race.err" >&2; fail "report racing creation: exit $rc"
fi
: > "$T/empty.db"
run 2 "an empty file" -- "$ESPFAB" report --db "$T/empty.db" --format csv &&
    has "$T/err" "no espfab schema yet" "empty file" && hasnt "$T/err" "older than" "empty file" &&
    pass "an empty file: 'no espfab schema yet', not 'schema version 0 is older than 1'"

# --- item 12: run refuses a database that fails its integrity check ---
"$FIXTURE" clean "$T/bad.db" || die "fixture"
page=$(sqlite3 "$T/bad.db" "select rootpage from sqlite_master where name='attempts_mac'")
printf '\x0d\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff' |
    dd of="$T/bad.db" bs=1 seek=$(( (page - 1) * 4096 )) conv=notrunc status=none
before=$(sha256sum "$T/bad.db" | cut -d' ' -f1)
"$MKIMAGE" --chip esp32 --kind merged --size 64k --seed 1 -o "$T/fw.bin" >/dev/null
printf '[profile]\nname = p\nchip = esp32\n[image firmware]\nfile = fw.bin\noffset = 0x1000\n' > "$T/p.ini"
printf '[station]\nid = st\ndatabase = %s\n\n[slot A]\nport = tcp://127.0.0.1:9\nprofile = p.ini\n' "$T/bad.db" > "$T/st.ini"
"$ESPFAB" run --station "$T/st.ini" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc != 0 ] && grep -q "fails its integrity check" "$T/err" && grep -q "nothing is written into it" "$T/err" &&
   [ "$(sha256sum "$T/bad.db" | cut -d' ' -f1)" = "$before" ] &&
   [ "$(sqlite3 "$T/bad.db" "select count(*) from runs" 2>/dev/null)" = 1 ]; then
    pass "run refuses a database failing its integrity check (exit $rc), the file untouched"
else
    cat "$T/out" "$T/err" >&2; fail "run on a damaged database: exit $rc"
fi

# --- item 3: a schema-1 database (an older espfab's) ---
sqlite3 "$T/v1.db" < "$SCHEMA/0001_initial.sql" || die "0001"
sqlite3 "$T/v1.db" "PRAGMA journal_mode=WAL;
  CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
  INSERT INTO schema_version VALUES (1, '0001_initial.sql', '2026-01-01T00:00:00.000Z');
  INSERT INTO runs(station, host, pid, started_at, start_ms) VALUES ('old', 'h', 1, '2026-01-01T00:00:00.000Z', 1767225600000);
  INSERT INTO attempts(run_id, slot, mac, started_at, start_ms) VALUES (1, 'A', '24:6f:28:00:00:01', '2026-01-01T00:00:01.000Z', 1767225601000);
  INSERT INTO attempts(run_id, slot, mac, started_at, start_ms) VALUES (1, 'B', '24:6f:28:00:00:02', '2026-01-01T00:00:02.000Z', 1767225602000);
  UPDATE attempts SET outcome='pass', end_ms=start_ms+5000 WHERE id=2;
  UPDATE attempts SET outcome='fail', end_ms=start_ms+5000, error_code=400 WHERE id=1;
  UPDATE runs SET end_ms=1767225700000, ended_at='2026-01-01T00:01:40.000Z';" >/dev/null || die "v1 rows"
mkdir "$T/ro1"; cp "$T/v1.db" "$T/ro1/v1.db"; chmod 444 "$T/ro1/v1.db"; chmod 555 "$T/ro1"
at_exit 'chmod 755 "$T/ro1"'
run 0 "a schema-1 database read-only" -- "${AS[@]}" "$ESPFAB" report --db "$T/ro1/v1.db" --format csv &&
    [ "$(wc -l < "$T/out")" = 3 ] && pass "report reads a schema-1 database on read-only storage as it is"
run 0 "db check of a schema-1 database read-only" -- "${AS[@]}" "$ESPFAB" db check --db "$T/ro1/v1.db" &&
    has "$T/out" "chain        not started: schema version 1" "v1 chain line" && pass "db check says the chain has not started"
run 0 "db check upgrades a writable schema-1 database" -- "$ESPFAB" db check --db "$T/v1.db" &&
    has "$T/out" "schema version 3" "upgraded" && has "$T/out" "chain        2 links, head 2 (attempt #2)" "chained" &&
    [ "$(sqlite3 "$T/v1.db" "select group_concat(attempt_id || ':' || origin) from (select * from attempt_chain order by seq)")" = "1:migration,2:migration" ] &&
    [ "$(sqlite3 "$T/v1.db" "select count(*) from maintenance where action='chain-start' and detail like '%2 attempts completed before schema version 2 chained in id order%'")" = 1 ] &&
    [ "$(sqlite3 "$T/v1.db" "select count(*) from runs where chain_head is null and owner_lock is null")" = 1 ] &&
    pass "the upgrade chains the 2 completed rows in id order, recorded; the old run is not rewritten"

# --- item 5: interrupted before the MAC was read: closed history ---
"$FIXTURE" clean "$T/nomac.db" || die "fixture"
sqlite3 "$T/nomac.db" "INSERT INTO attempts(run_id, slot, started_at, start_ms) VALUES (1, 'S7', '2026-01-01T00:00:00.000Z', 1767225600000);" || die "insert"
"$FIXTURE" clean "$T/nomac.db" || die "fixture recovery"   # the next open closes it as interrupted
[ "$(sqlite3 "$T/nomac.db" "select outcome from attempts where slot='S7'")" = interrupted ] || fail "S7 should be interrupted"
run 0 "db check with an attempt interrupted before its MAC" -- "$ESPFAB" db check --db "$T/nomac.db" &&
    has "$T/out" "1 interrupted before the board was identified (no MAC): closed history" "unidentified line" &&
    has "$T/out" "ok" "verdict" && pass "an attempt interrupted before its MAC was read is closed history: db check ok"
finish

#!/usr/bin/env bash
# tamper.sh - issue 16 item 3: a record changed with the sqlite3 CLI outside
# espfab is caught by `espfab db check` (exit 1, naming the row): triggers
# dropped and left dropped, a fail turned into a pass with matching MD5s, the
# last row deleted and its id reused, a fake row inserted running then updated
# to pass.  `db check --repair-triggers` puts the triggers back and records it.
# Every database here is made by a real `espfab run` against espsim.
. "$(dirname "$0")/../station/lib.sh"
set +e
start_sim esp32:3 --fault 1:md5-stuck
slots=()
for i in 0 1 2; do make_profile esp32; slots+=("S$i|${TCP[$i]}|esp32"); done
write_station station.ini "${slots[@]}"
"$ESPFAB" run --station "$T/station.ini" --log text > "$T/run.out" 2>&1
[ "$(q "select count(*) from attempts where outcome='pass'")" = 2 ] || { cat "$T/run.out"; die "2 boards should pass"; }
[ "$(q "select error_name from attempts where slot='S1'")" = MD5_MISMATCH ] || die "S1 should fail its MD5"
BASE=$T/base.db
sqlite3 "$DB" ".backup '$BASE'"

check() { # check DB -> $T/out $T/err, $rc
    "$ESPFAB" db check --db "$1" >"$T/out" 2>"$T/err"; rc=$?
}
has() { grep -qF -- "$1" "$T/out" || { cat "$T/out" "$T/err" >&2; die "$2: '$1' not in the db check output"; }; }
hasnt() { ! grep -qF -- "$1" "$T/out" || { cat "$T/out" >&2; die "$2: '$1' in the db check output"; }; }

check "$BASE"
[ $rc = 0 ] || { cat "$T/out" "$T/err"; die "the untouched record should check ok (exit $rc)"; }
has "chain        3 links" "every completed attempt is chained"
[ "$(q "select count(*) from runs where chain_seq = 3 and length(chain_head) = 64")" = 1 ] ||
    die "the run's end should store the chain head"
pass "an untouched record checks ok: 3 links, the head stored with the run's end"

# 1. triggers dropped, a fail turned into a pass with matching MD5s, triggers left dropped
cp "$BASE" "$T/a.db"
fid=$(sqlite3 "$T/a.db" "select id from attempts where slot='S1'")
sqlite3 "$T/a.db" "DROP TRIGGER attempts_no_rewrite; DROP TRIGGER regions_no_rewrite;
  UPDATE attempts SET outcome='pass', error_code=0, error_name='', detail='', message='' WHERE id=$fid;
  UPDATE attempt_regions SET md5_device=md5_expected, verified=1 WHERE attempt_id=$fid;" || die "sqlite3"
check "$T/a.db"
[ $rc = 1 ] || { cat "$T/out"; die "a fail turned into a pass: db check exit $rc, wanted 1"; }
has "first changed row: attempt #$fid does not match its chain link" "the changed row is named"
has "trigger attempts_no_rewrite is missing" "dropped trigger named"
has "trigger regions_no_rewrite is missing" "dropped trigger named (regions)"
has "PROBLEMS" "verdict"
pass "fail turned into a pass with matching MD5s, triggers dropped: attempt #$fid and both triggers named"

"$ESPFAB" db check --db "$T/a.db" --repair-triggers >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 1 ] || { cat "$T/out" "$T/err"; die "repair-triggers: exit $rc (the changed row is still a problem)"; }
has "repair       2 triggers put back" "repair count"
hasnt "is missing" "triggers back"
[ "$(sqlite3 "$T/a.db" "select count(*) from maintenance where action='repair-triggers' and detail like '%attempts_no_rewrite (missing)%'")" = 1 ] ||
    die "the repair should be recorded in maintenance"
sqlite3 "$T/a.db" "UPDATE attempts SET message='x' WHERE id=$fid" 2>/dev/null &&
    die "the repaired trigger should refuse rewriting a completed attempt"
pass "--repair-triggers put both back (they refuse rewrites again), recorded in maintenance"

# a trigger replaced by a harmless one of the same name
cp "$BASE" "$T/a2.db"
sqlite3 "$T/a2.db" "DROP TRIGGER attempts_no_delete; CREATE TRIGGER attempts_no_delete BEFORE DELETE ON attempts WHEN 0 BEGIN SELECT 1; END;"
check "$T/a2.db"
[ $rc = 1 ] || die "altered trigger: exit $rc"
has "trigger attempts_no_delete is not the one espfab created" "altered trigger named"
pass "a trigger replaced under the same name is named"

# 2. the last row deleted, its id reused by the next espfab run
cp "$BASE" "$T/b.db"
last=$(sqlite3 "$T/b.db" "select max(id) from attempts")
link=$(sqlite3 "$T/b.db" "select seq from attempt_chain where attempt_id=$last")
sqlite3 "$T/b.db" "DROP TRIGGER attempts_no_delete; DROP TRIGGER regions_no_delete;
  DELETE FROM attempt_regions WHERE attempt_id=$last; DELETE FROM attempts WHERE id=$last;" || die "sqlite3"
check "$T/b.db"
[ $rc = 1 ] || die "deleted last row: exit $rc"
has "attempt #$last (chain link $link) is gone: deleted" "deleted row named"
sed "s|^database = .*|database = $T/b.db|" "$T/station.ini" > "$T/b.ini"
sim_cmd unplug 0; sim_cmd unplug 1; sim_cmd unplug 2; sim_cmd plug 0
sleep 0.3
"$ESPFAB" run --station "$T/b.ini" --log text > "$T/run_b.out" 2>&1
[ "$(sqlite3 "$T/b.db" "select count(*) from attempts where id=$last")" = 1 ] ||
    { cat "$T/run_b.out"; die "the next run should have reused id $last"; }
check "$T/b.db"
[ $rc = 1 ] || die "reused id: exit $rc"
has "attempt id #$last is chained 2 times" "reused id named"
has "attempt #$last does not match its chain link $link" "the old link no longer matches"
pass "the last row deleted and its id $last reused by the next run: named twice over"

# 2b. the newest completed row deleted with its link: the gap in the chain shows
cp "$BASE" "$T/b2.db"
hid=$(sqlite3 "$T/b2.db" "select attempt_id from attempt_chain where seq=3")
sqlite3 "$T/b2.db" "DROP TRIGGER attempts_no_delete; DROP TRIGGER regions_no_delete; DROP TRIGGER chain_no_delete;
  DELETE FROM attempt_regions WHERE attempt_id=$hid; DELETE FROM attempts WHERE id=$hid;
  DELETE FROM attempt_chain WHERE attempt_id=$hid;" || die "sqlite3"
check "$T/b2.db"
[ $rc = 1 ] || die "deleted row and link: exit $rc"
has "chain links 3..3, the newest, are missing (deleted)" "chain gap named"
has "run #1 ended with chain head 3" "the run's recorded head no longer in the chain"
pass "the row and its link deleted: the gap and the run's stale head are named"

# 2c. a row deleted in the middle: the id gap shows even without the chain
cp "$BASE" "$T/b3.db"
sqlite3 "$T/b3.db" "DROP TRIGGER attempts_no_delete; DROP TRIGGER regions_no_delete;
  DELETE FROM attempt_regions WHERE attempt_id=$fid; DELETE FROM attempts WHERE id=$fid;"
check "$T/b3.db"
[ $rc = 1 ] || die "deleted middle row: exit $rc"
has "attempt ids skip #$fid..#$fid: rows deleted" "id gap named"
pass "a deleted middle row: the id gap is named"

# 3. a fake row inserted as running, then updated to pass (triggers intact)
cp "$BASE" "$T/c.db"
sqlite3 "$T/c.db" "INSERT INTO attempts(run_id, station, slot, mac, chip, started_at, start_ms)
  VALUES (1, 'test-station', 'S9', '24:6f:28:99:99:99', 'ESP32', '2026-12-01T00:00:00.000Z', 1764547200000);
  UPDATE attempts SET outcome='pass', end_ms=1764547201000, ended_at='2026-12-01T00:00:01.000Z'
  WHERE id=(SELECT max(id) FROM attempts);" || die "sqlite3"
fake=$(sqlite3 "$T/c.db" "select max(id) from attempts")
check "$T/c.db"
[ $rc = 1 ] || { cat "$T/out"; die "fake row: exit $rc"; }
has "attempt #$fake is completed (pass) but was never chained: it was completed outside espfab" "fake row named"
pass "a fake row inserted running then updated to pass: attempt #$fake named"

# the chain head is in every report format
head=$(sqlite3 "$BASE" "select sha256 from attempt_chain order by seq desc limit 1")
for fmt in csv json html; do
    "$ESPFAB" report --db "$BASE" --format $fmt -o "$T/r.$fmt" 2>"$T/rep.err" || die "report $fmt"
    grep -q "$head" "$T/r.$fmt" || die "the $fmt report should carry the chain head $head"
    grep -q "chain head 3.*$head" "$T/rep.err" || { cat "$T/rep.err"; die "report $fmt: summary line"; }
done
pass "the chain head is printed in the CSV, JSON and HTML reports and in the report's summary line"
finish

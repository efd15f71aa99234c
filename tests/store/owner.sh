#!/usr/bin/env bash
# owner.sh - issue 16 item 4: a station killed with -9 whose run row then
# names another host and a live pid (a renamed PC, a pid reused after a power
# loss) still recovers: its owner lock is free.  `db check --close-stale`
# closes such rows (recorded), never a live station's, never a completed row.
. "$(dirname "$0")/../station/lib.sh"
set +e
start_sim esp32:3 --fault 0:slow-flash=60 --fault 1:slow-flash=60 --fault 2:slow-flash=60
slots=()
for i in 0 1 2; do make_profile esp32; slots+=("S$i|${TCP[$i]}|esp32"); done
write_station station.ini "${slots[@]}"

# run_until_open N: starts `espfab run` in the background ($pid) and waits
# until N attempts are open with their MAC read.
run_until_open() {
    "$ESPFAB" run --station "$T/station.ini" --log text > "$T/run.out" 2>&1 &
    pid=$!
    for _ in $(seq 300); do
        [ "$(q "select count(*) from attempts where outcome='running' and mac <> ''" 2>/dev/null || echo 0)" = "$1" ] && return 0
        sleep 0.1
    done
    cat "$T/run.out"; die "never saw $1 open attempts"
}

run_until_open 3
# a live station's rows are not stale: --close-stale leaves them alone
"$ESPFAB" db check --db "$DB" --close-stale > "$T/out" 2>&1
grep -q "close-stale  0 open attempts" "$T/out" || { cat "$T/out"; die "a live station's rows were closed"; }
[ "$(q "select count(*) from attempts where outcome='running'")" = 3 ] || die "live rows touched"
pass "--close-stale leaves a live station's open attempts alone (its owner lock is held)"

kill -9 $pid; wait $pid 2>/dev/null
# the PC was renamed and the pid reused: the run names another host and a live process
q "UPDATE runs SET host='renamed-pc', pid=$$ WHERE end_ms IS NULL"
[ "$(q "select owner_lock from runs where end_ms is null")" = espfab.db.owners ] || die "the run should name its owner lock"
sqlite3 "$DB" ".backup '$T/copy.db'"
"$ESPFAB" db check --db "$DB" > "$T/out" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "3 open" "$T/out" || { cat "$T/out"; die "db check should list 3 open attempts (exit $rc)"; }
"$ESPFAB" db check --db "$DB" --close-stale > "$T/out" 2>&1
grep -q "close-stale  3 open attempts of stations that are gone closed as interrupted" "$T/out" ||
    { cat "$T/out"; die "--close-stale should close the 3 rows of the killed station"; }
grep -q "0 interrupted, 0 open" "$T/out" && die "counts"
grep -q "3 interrupted, 0 open" "$T/out" || { cat "$T/out"; die "3 interrupted expected"; }
[ "$(q "select count(*) from attempts where outcome='interrupted' and error_name='INTERRUPTED' and detail like 'closed by espfab db check --close-stale%'")" = 3 ] ||
    die "the rows should say why they were closed"
[ "$(q "select count(*) from runs where end_ms is null")" = 0 ] || die "the run should be ended"
[ "$(q "select count(*) from maintenance where action='close-stale'")" = 1 ] || die "close-stale should be recorded"
grep -q "does not match\|never chained" "$T/out" && { cat "$T/out"; die "closed rows must be chained"; }
pass "killed with -9, host renamed, pid reused: --close-stale closed the 3 rows (interrupted, chained, recorded)"

# the next run on such a database recovers them by itself
sed "s|^database = .*|database = $T/copy.db|" "$T/station.ini" > "$T/copy.ini"
sim_cmd unplug 0; sim_cmd unplug 1; sim_cmd unplug 2
sleep 0.3
"$ESPFAB" run --station "$T/copy.ini" --log text > "$T/run2.out" 2>&1
grep -q "3 attempt(s) left open by an earlier crash were marked interrupted" "$T/run2.out" ||
    { cat "$T/run2.out"; die "the next run should recover the renamed host's rows"; }
[ "$(sqlite3 "$T/copy.db" "select count(*) from attempts where outcome='running'")" = 0 ] || die "rows still open"
pass "the next espfab run recovers them too (owner lock free, whatever host and pid say)"
finish

#!/usr/bin/env bash
# kill -9 of espfab mid-run: the database passes integrity_check, the next
# start marks the in-flight attempts interrupted, no passed attempt is lost.
. "$(dirname "$0")/lib.sh"
# Board 0 fast (passes), boards 1-3 slow (still writing when espfab is killed).
start_sim esp32:4 --fault 1:slow-flash=40 --fault 2:slow-flash=40 --fault 3:slow-flash=40
station_all K
"$ESPFAB" run --station "$T/station.ini" --log json > "$T/run.out" 2>&1 &
pid=$!
for _ in $(seq 300); do
    [ "$(q "select count(*) from attempts where outcome='pass'" 2>/dev/null || echo 0)" = 1 ] &&
    [ "$(q "select count(*) from attempts where outcome='running' and ms_connect >= 0" 2>/dev/null || echo 0)" = 3 ] && break
    sleep 0.1
done
[ "$(q "select count(*) from attempts where outcome='pass'")" = 1 ] || fail "board 0 did not pass before the kill"
kill -9 $pid
wait $pid 2>/dev/null || true
[ "$(q "pragma integrity_check")" = ok ] || fail "integrity after kill -9"
[ "$(q "select count(*) from attempts where outcome='running'")" = 3 ] || fail "3 attempts should be open after the crash"
# next start: db check (never recovers) reports them, then a run marks them interrupted
set +e; "$ESPFAB" db check --db "$T/espfab.db" > "$T/check.out" 2>&1; rc=$?; set -e
[ $rc = 1 ] || { cat "$T/check.out"; fail "db check should report the open attempts (exit 1, got $rc)"; }
sim_cmd unplug 0; sim_cmd unplug 1; sim_cmd unplug 2; sim_cmd unplug 3
sleep 0.3
set +e
"$ESPFAB" run --station "$T/station.ini" --log text > "$T/run2.out" 2>&1
set -e
grep -q "3 attempt(s) left open by an earlier crash were marked interrupted" "$T/run2.out" || { cat "$T/run2.out"; fail "recovery note"; }
[ "$(q "select count(*) from attempts where outcome='interrupted' and error_name='INTERRUPTED'")" = 3 ] || fail "interrupted count"
[ "$(q "select count(*) from attempts where outcome='pass'")" = 1 ] || fail "the passed attempt was lost"
[ "$(q "pragma integrity_check")" = ok ] || fail "integrity after recovery"
pass "crash: integrity ok, 3 interrupted, passed attempt kept"
echo "1 passed, 0 failed"

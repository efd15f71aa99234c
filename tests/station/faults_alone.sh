#!/usr/bin/env bash
# Boards that fail (unplugged mid-write, silent) fail alone; the others pass.
. "$(dirname "$0")/lib.sh"
start_sim esp32:6 --fault 1:unplug=60000 --fault 4:silent
station_all S
run_station
[ $rc = 1 ] || { cat "$T/run.out"; fail "espfab run should exit 1 when a board fails (got $rc)"; }
grep -q "6 board(s): 4 passed, 2 failed" "$T/run.out" || { cat "$T/run.out"; fail "summary"; }
# the silent board failed before its MAC was read: an unidentified unit, said apart
grep -q "1 of the failed or interrupted board(s) ended before their MAC was read" "$T/run.out" ||
    { cat "$T/run.out"; fail "summary: the unidentified unit is not shown apart"; }
dump_sim
for i in 0 2 3 5; do expect_flash "$i" esp32; done
for i in 0 2 3 5; do
    [ "$(q "select outcome from attempts where slot='S$i'")" = pass ] || fail "slot S$i should pass"
done
[ "$(q "select outcome from attempts where slot='S1'")" = fail ] || fail "S1 should fail"
[ "$(q "select outcome from attempts where slot='S4'")" = fail ] || fail "S4 should fail"
name1=$(q "select error_name from attempts where slot='S1'")
case $name1 in PORT_VANISHED|PORT_CLOSED|TIMEOUT) ;; *) fail "S1 error $name1 (want the board vanishing)";; esac
[ "$(q "select error_name from attempts where slot='S4'")" = NO_SERIAL_DATA ] || fail "S4 error"
grep "S4" "$T/run.out" | grep -q "no serial data" || fail "S4 message"
pass "faulted boards failed alone with their causes; the other 4 passed"
echo "1 passed, 0 failed"

#!/usr/bin/env bash
# Continuous mode with a board on its own USB port: after the reset into the
# application the port goes away and the SAME board comes back (espsim
# 'replug'). The slot must not flash it a second time: the session stops before
# any write, the row says ALREADY_PASSED, and the counts keep one pass. A new
# board at that position is then flashed as usual.
. "$(dirname "$0")/lib.sh"
start_sim esp32c3:1 --verbose
sim_cmd unplug 0
make_profile esp32c3
write_station station.ini "J0|${TCP[0]}|esp32c3"
"$ESPFAB" run --station "$T/station.ini" --continuous --max-boards 2 --log json > "$T/run.out" 2>&1 &
pid=$!
wait_rows() { # SQL-WHERE COUNT
    for _ in $(seq 200); do
        [ "$(q "select count(*) from attempts where $1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.1
    done
    q "select slot, outcome, error_name, mac, message from attempts" >&2
    fail "expected $2 rows where $1"
}
sim_cmd plug 0
wait_rows "outcome='pass'" 1
mac1=$(q "select mac from attempts where outcome='pass'")
writes1=$(grep -c "board 0 .*op=0x1[01] " "$T/sim.trace" || true)
# the chip resets into its application: its USB port leaves and comes back
sleep 0.3
sim_cmd unplug 0
sleep 0.6
sim_cmd replug 0
wait_rows "error_name='ALREADY_PASSED'" 1
row=$(q "select outcome, mac, error_code from attempts where error_name='ALREADY_PASSED'")
[ "$row" = "interrupted|$mac1|703" ] || fail "the came-back row is '$row', want 'interrupted|$mac1|703'"
writes2=$(grep -c "board 0 .*op=0x1[01] " "$T/sim.trace" || true)
[ "$writes1" = "$writes2" ] || fail "the board that came back was written to again ($writes1 -> $writes2 FLASH_DEFL commands)"
pass "the board that passed and came back is recorded ALREADY_PASSED ($mac1), nothing written"
grep -q "passed here .* s ago and is back on the port" "$T/run.out" || fail "no note about the board coming back"
# the operator swaps in a new board: flashed
sleep 0.3
sim_cmd unplug 0
sleep 0.6
sim_cmd plug 0
wait_rows "outcome='pass'" 2
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill $pid; fail "espfab run did not stop after --max-boards 2"; }
wait $pid || fail "run exit status $? (the came-back board is not a failure)"
[ "$(q "select count(*) from attempts")" = 3 ] || fail "want 3 rows (pass, came back, pass)"
[ "$(q "select count(distinct mac) from attempts where outcome='pass'")" = 2 ] || fail "2 distinct boards should pass"
n=$(grep -c '"event":"board"' "$T/run.out")
[ "$n" = 2 ] || fail "want 2 JSON board events (the came-back board is a note), got $n"
# the came-back row is no problem for the line: db check is clean, and the
# report counts no failure
"$ESPFAB" db check --db "$T/espfab.db" > "$T/check.out" 2>&1 || fail "db check: $(cat "$T/check.out")"
"$ESPFAB" report --db "$T/espfab.db" --format html -o "$T/r.html" 2>"$T/report.err" || fail "report: $(cat "$T/report.err")"
grep -q "No failed or interrupted attempts" "$T/r.html" || fail "the report lists the came-back row as a failure"
pass "continuous: a board coming back is not flashed twice; the next board is"
echo "1 passed, 0 failed"

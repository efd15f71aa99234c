#!/usr/bin/env bash
# Continuous (jig) mode: a slot waits for a board, flashes it, waits for its
# removal and starts over.  Two positions, three boards each.
. "$(dirname "$0")/lib.sh"
start_sim esp32c3:2
sim_cmd unplug 0; sim_cmd unplug 1
make_profile esp32c3
write_station station.ini "J0|${TCP[0]}|esp32c3" "J1|${TCP[1]}|esp32c3"
"$ESPFAB" run --station "$T/station.ini" --continuous --max-boards 6 --log json > "$T/run.out" 2>&1 &
pid=$!
wait_passes() { for _ in $(seq 200); do [ "$(q "select count(*) from attempts where outcome='pass'" 2>/dev/null || echo 0)" -ge "$1" ] && return 0; sleep 0.1; done; fail "expected $1 passes"; }
for round in 1 2 3; do
    sim_cmd plug 0; sim_cmd plug 1
    wait_passes $((round * 2))
    sleep 0.3
    sim_cmd unplug 0; sim_cmd unplug 1
    sleep 0.6
done
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill $pid; fail "espfab run did not stop after --max-boards 6"; }
wait $pid || fail "continuous run exit status"
read_boards
[ "$(q "select count(*) from attempts")" = 6 ] || { q "select slot,outcome,mac,message from attempts"; fail "want exactly 6 attempts (no attempt while a slot was empty)"; }
[ "$(q "select count(distinct mac) from attempts where outcome='pass'")" = 6 ] || fail "6 distinct boards should pass"
grep -q '"event":"board"' "$T/run.out" || fail "JSON board events"
pass "continuous: 6 boards over 3 insert/remove cycles, one attempt each"
echo "1 passed, 0 failed"

#!/usr/bin/env bash
# Ctrl-C: the first interrupt takes no new boards and lets in-flight boards
# finish (they pass and are recorded); a second one aborts and records the
# in-flight boards as interrupted.  Nothing recorded is lost either way.
. "$(dirname "$0")/lib.sh"
start_sim esp32:4 --fault '*:slow-flash=6'
make_profile esp32
write_station station.ini "A|${TCP[0]}|esp32" "B|${TCP[1]}|esp32"
write_station station2.ini "C|${TCP[2]}|esp32" "D|${TCP[3]}|esp32"
running() { q "select count(*) from attempts where outcome='running' and slot in ($1)" 2>/dev/null || echo 0; }

# 1. one interrupt mid-write: drain
"$ESPFAB" run --station "$T/station.ini" --log text > "$T/run1.out" 2>&1 &
pid=$!
for _ in $(seq 100); do [ "$(running "'A','B'")" = 2 ] && break; sleep 0.1; done
sleep 0.5
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
grep -q "taking no new boards" "$T/run1.out" || { cat "$T/run1.out"; fail "no drain note"; }
[ $rc = 0 ] || { cat "$T/run1.out"; fail "drained run should pass (rc $rc)"; }
[ "$(q "select count(*) from attempts where outcome='pass' and slot in ('A','B')")" = 2 ] || fail "in-flight boards should finish and pass"
pass "first interrupt: in-flight boards finished and passed"

# 2. two interrupts: abort, in-flight boards recorded interrupted
"$ESPFAB" run --station "$T/station2.ini" --log text > "$T/run2.out" 2>&1 &
pid=$!
for _ in $(seq 100); do [ "$(running "'C','D'")" = 2 ] && break; sleep 0.1; done
sleep 0.5
kill -INT $pid; sleep 0.2; kill -INT $pid
set +e; wait $pid; rc=$?; set -e
[ $rc = 1 ] || { cat "$T/run2.out"; fail "aborted run should exit 1 (rc $rc)"; }
grep -q "second interrupt" "$T/run2.out" || fail "no abort note"
[ "$(q "select count(*) from attempts where outcome='interrupted' and slot in ('C','D')")" = 2 ] || {
    q "select slot, outcome, error_name, message from attempts"; fail "aborted boards should be recorded interrupted"; }
[ "$(q "select count(*) from attempts where outcome='running'")" = 0 ] || fail "an attempt was left open"
[ "$(q "select count(*) from attempts where outcome='pass'")" = 2 ] || fail "earlier passes lost"
pass "second interrupt: in-flight boards recorded interrupted, nothing lost"
echo "1 passed, 0 failed"

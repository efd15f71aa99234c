#!/usr/bin/env bash
# noise.sh - line noise (bits flipped in the board's replies) and dropped
# bytes at a chosen rate: safe commands are retried, a bounded number of
# times; past that: LINK_UNRELIABLE "lower the baud or change the cable/hub",
# counting what was retried.  The other boards pass.
. "$(dirname "$0")/lib.sh"
# 0: noise 5 %, 3: drop 5 % (both hopeless); 4: noise 0.3 % (survivable)
start_sim esp32:5 --fault 0:noise=0.05 --fault 3:drop=0.05 --fault 4:noise=0.003
profile p esp32
fw=$(image esp32)

flash_expect "noisy line" 1 LINK_UNRELIABLE "${TCP[0]}|corrupted|lower the baud" \
    -- --port "${TCP[0]}" 0x1000 "$fw"
flash_expect "bytes dropped" 1 LINK_UNRELIABLE "${TCP[3]}|lower the baud" \
    -- --port "${TCP[3]}" 0x1000 "$fw"

# A little noise is survived: replies read again, the MAC read until two reads
# agree (a flipped bit must not be recorded as the board's MAC).
if "$ESPFAB" flash --port "${TCP[4]}" 0x1000 "$fw" >"$T/ok.out" 2>&1 &&
    grep -q "PASS ${TCP[4]}: ESP32 ${MAC[4]}," "$T/ok.out"; then
    pass "0.3 % noise: passed with the right MAC ${MAC[4]}"
else
    fail "0.3 % noise should pass with MAC ${MAC[4]}: $(tr '\r' '\n' <"$T/ok.out" | grep -E 'PASS|FAIL')"
fi

run_boards noise p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}" "${TCP[3]}" "${TCP[4]}"
expect_run_rc 1
expect_run_pass "${TCP[1]}"
expect_run_pass "${TCP[2]}"
expect_run_pass "${TCP[4]}"
m=$(q "select mac from attempts where port='${TCP[4]}'")
[ "$m" = "${MAC[4]}" ] && pass "run: the noisy board's MAC is recorded right ($m)" || fail "run: noisy board recorded MAC '$m', it is ${MAC[4]}"
expect_run_fail "noisy line" "${TCP[0]}" LINK_UNRELIABLE "corrupted" ""
expect_run_fail "bytes dropped" "${TCP[3]}" LINK_UNRELIABLE "" ""
finish

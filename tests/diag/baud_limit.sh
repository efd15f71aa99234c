#!/usr/bin/env bash
# baud_limit.sh - the USB-UART bridge cannot do the requested baud: after
# CHANGE_BAUDRATE only garbage comes back.  BAUD_CHANGE_FAILED naming the
# highest baud that worked; the same board passes at that baud.
. "$(dirname "$0")/lib.sh"
start_sim esp32:3 --fault 0:baud-limit=230400
profile p esp32 baud=921600
fw=$(image esp32)

flash_expect "bridge cannot do 921600" 1 BAUD_CHANGE_FAILED "${TCP[0]}|115200 baud worked (the highest that did)|at 921600 only garbage came back|lower --baud" \
    -- --port "${TCP[0]}" --baud 921600 0x1000 "$fw"
# at a baud the bridge can do, the same board passes
if "$ESPFAB" flash --port "${TCP[0]}" --baud 230400 0x1000 "$fw" >"$T/ok.out" 2>&1; then
    pass "the same board passes at 230400"
else
    fail "the same board should pass at 230400: $(tr '\r' '\n' <"$T/ok.out" | grep FAIL)"
fi

run_boards baud p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[1]}"
expect_run_pass "${TCP[2]}"
expect_run_fail "bridge cannot do 921600" "${TCP[0]}" BAUD_CHANGE_FAILED "115200|921600" ""
finish

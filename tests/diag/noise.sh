#!/usr/bin/env bash
# noise.sh - line noise (bits flipped in the board's replies) and dropped
# bytes at a chosen rate: safe commands are retried, a bounded number of
# times; past that: LINK_UNRELIABLE "lower the baud or change the cable/hub",
# counting what was retried.  The other boards pass.
. "$(dirname "$0")/lib.sh"
start_sim esp32:4 --fault 0:noise=0.05 --fault 3:drop=0.05
profile p esp32
fw=$(image esp32)

flash_expect "noisy line" 1 LINK_UNRELIABLE "${TCP[0]}|corrupted|lower the baud" \
    -- --port "${TCP[0]}" 0x1000 "$fw"
flash_expect "bytes dropped" 1 LINK_UNRELIABLE "${TCP[3]}|lower the baud" \
    -- --port "${TCP[3]}" 0x1000 "$fw"

run_boards noise p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}" "${TCP[3]}"
expect_run_rc 1
expect_run_pass "${TCP[1]}"
expect_run_pass "${TCP[2]}"
expect_run_fail "noisy line" "${TCP[0]}" LINK_UNRELIABLE "corrupted" ""
expect_run_fail "bytes dropped" "${TCP[3]}" LINK_UNRELIABLE "" ""
finish

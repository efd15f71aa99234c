#!/usr/bin/env bash
# slow_flash.sh - erase/write slower than the timeout budget (espsim
# slow-flash: flash timings x FACTOR): ERASE_TIMEOUT naming the command and
# the budget; the other boards pass.
. "$(dirname "$0")/lib.sh"
start_sim esp32:3 --fault 1:slow-flash=200
profile p esp32
fw=$(image esp32)

flash_expect "slow erase (ROM)" 1 ERASE_TIMEOUT "${TCP[1]}|FLASH_BEGIN|within" \
    -- --port "${TCP[1]}" --no-stub --no-compress 0x1000 "$fw"

run_boards slow p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[0]}"
expect_run_pass "${TCP[2]}"
expect_run_fail "slow erase/write (stub)" "${TCP[1]}" ERASE_TIMEOUT "within" ""
finish

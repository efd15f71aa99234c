#!/usr/bin/env bash
# silent.sh - a board that never sends a byte (no power, RX/TX swapped, wrong
# port): NO_SERIAL_DATA after every connect attempt, the others pass.
. "$(dirname "$0")/lib.sh"
start_sim esp32:3 --fault 1:silent
profile p esp32
fw=$(image esp32)

flash_expect "silent board" 1 NO_SERIAL_DATA "${TCP[1]}|not one byte came back to 35 SYNC requests|after 7 attempts|RX/TX" \
    -- --port "${TCP[1]}" 0x1000 "$fw"

run_boards silent p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[0]}"
expect_run_pass "${TCP[2]}"
expect_run_fail "silent board" "${TCP[1]}" NO_SERIAL_DATA "not one byte came back|after 7 attempts" ""
expect_col "${TCP[1]}" retries 7
expect_col "${TCP[1]}" rom_status NULL
finish

#!/usr/bin/env bash
# chip.sh - a different chip than the profile (an ESP32-S3 in an ESP32 line):
# CHIP_MISMATCH naming both chips; firmware built for another chip (an ESP32
# image aimed at an ESP32-C3 board): IMAGE_WRONG_CHIP before anything is
# written.  In a run only the odd board fails.
. "$(dirname "$0")/lib.sh"
start_sim esp32:1,esp32s3:1,esp32:1,esp32c3:1
profile p esp32
fw=$(image esp32)

flash_expect "wrong chip (--chip)" 1 CHIP_MISMATCH "${TCP[1]}|ESP32-S3|ESP32" \
    -- --port "${TCP[1]}" --chip esp32 0x1000 "$fw"
flash_expect "wrong chip (profile)" 1 CHIP_MISMATCH "${TCP[1]}|ESP32-S3" \
    -- --port "${TCP[1]}" --profile "$T/p.ini"
flash_expect "firmware for another chip" 2 IMAGE_WRONG_CHIP "${TCP[3]}|fw-esp32.bin|ESP32-C3" \
    -- --port "${TCP[3]}" 0x1000 "$fw"
case "$LINE" in *"nothing was written"*) pass "says nothing was written" ;; *) fail "should say nothing was written: $LINE" ;; esac
n=$(grep -c -E "^espsim: board 3 (rom|stub) op=0x(03|10|11)" "$T/sim.trace")
[ "$n" -eq 0 ] && pass "no flash data reached the ESP32-C3" || fail "the ESP32-C3 got $n flash data commands"

run_boards chip p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[0]}"
expect_run_pass "${TCP[2]}"
expect_run_fail "wrong chip (profile)" "${TCP[1]}" CHIP_MISMATCH "ESP32-S3" ""
finish

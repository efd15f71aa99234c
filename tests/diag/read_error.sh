#!/usr/bin/env bash
# read_error.sh - reading the flash back fails (stub 0xC4 / ROM 0x09 on
# SPI_FLASH_MD5): FLASH_READ_ERROR, decoded; the board is not passed.
. "$(dirname "$0")/lib.sh"
start_sim esp32:4 --fault 0:rom-error=0x13:0xC4:0 --fault 3:rom-error=0x13:0x09:0
profile p esp32
fw=$(image esp32)

flash_expect "flash read error (stub)" 1 FLASH_READ_ERROR "${TCP[0]}|SPI_FLASH_MD5|[stub error 0xC4 SPI flash operation failed]" \
    -- --port "${TCP[0]}" 0x1000 "$fw"
flash_expect "flash read error (ROM)" 1 FLASH_READ_ERROR "${TCP[3]}|SPI_FLASH_MD5|[ROM error 0x09 flash read error]" \
    -- --port "${TCP[3]}" --no-stub 0x1000 "$fw"

run_boards rd p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[1]}"
expect_run_pass "${TCP[2]}"
expect_run_fail "flash read error (stub)" "${TCP[0]}" FLASH_READ_ERROR "stub error 0xC4" 196
expect_col "${TCP[0]}" stub_error 1
finish

#!/usr/bin/env bash
# write_error.sh - the flash write fails on the board (stub 0xC4 on
# FLASH_DEFL_DATA, ROM 0x08 on FLASH_DATA): FLASH_WRITE_ERROR with the byte
# decoded; not retried (the flash itself failed).
. "$(dirname "$0")/lib.sh"
start_sim esp32:4 --fault 1:rom-error=0x11:0xC4:0 --fault 3:rom-error=0x03:0x08:0
profile p esp32
fw=$(image esp32)

flash_expect "flash write error (stub)" 1 FLASH_WRITE_ERROR "${TCP[1]}|FLASH_DEFL_DATA|[stub error 0xC4 SPI flash operation failed]" \
    -- --port "${TCP[1]}" 0x1000 "$fw"
flash_expect "flash write error (ROM)" 1 FLASH_WRITE_ERROR "${TCP[3]}|FLASH_DATA|[ROM error 0x08 flash write error]" \
    -- --port "${TCP[3]}" --no-stub --no-compress 0x1000 "$fw"

run_boards wr p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[0]}"
expect_run_pass "${TCP[2]}"
expect_run_fail "flash write error (stub)" "${TCP[1]}" FLASH_WRITE_ERROR "stub error 0xC4" 196
expect_col "${TCP[1]}" stub_error 1
expect_col "${TCP[1]}" rom_status 1
finish

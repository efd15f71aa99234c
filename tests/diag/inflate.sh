#!/usr/bin/env bash
# inflate.sh - the board cannot inflate the compressed data (stub 0xC7, ROM
# 0x0B): INFLATE_ERROR, decoded, hinting at --no-compress; the same board
# passes without compression.
. "$(dirname "$0")/lib.sh"
start_sim esp32:3 --fault 2:rom-error=0x11:0xC7:0 --fault 0:rom-error=0x11:0x0B:0
profile p esp32
fw=$(image esp32)

flash_expect "inflate error (stub)" 1 INFLATE_ERROR "${TCP[2]}|FLASH_DEFL_DATA|[stub error 0xC7 inflate error]|--no-compress" \
    -- --port "${TCP[2]}" 0x1000 "$fw"
flash_expect "inflate error (ROM)" 1 INFLATE_ERROR "${TCP[0]}|FLASH_DEFL_DATA|[ROM error 0x0B" \
    -- --port "${TCP[0]}" --no-stub 0x1000 "$fw"
if "$ESPFAB" flash --port "${TCP[2]}" --no-compress 0x1000 "$fw" >"$T/ok.out" 2>&1; then
    pass "the same board passes with --no-compress"
else
    fail "the same board should pass with --no-compress: $(tr '\r' '\n' <"$T/ok.out" | grep FAIL)"
fi

run_boards infl p "${TCP[1]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[1]}"
expect_run_fail "inflate error (stub)" "${TCP[2]}" INFLATE_ERROR "stub error 0xC7" 199
expect_col "${TCP[2]}" stub_error 1
finish

#!/usr/bin/env bash
# checksum.sh - the loader reports a bad data checksum (ROM 0x07, stub 0xC1):
# the block is resent (bounded, 3 tries); once is survived, every time gives
# DATA_CHECKSUM "after 3 attempts" with the error byte decoded.
. "$(dirname "$0")/lib.sh"
# 0: stub, every FLASH_DEFL_DATA refused; 1: stub, the first one only;
# 2: ROM, every FLASH_DATA refused; 3, 4: good.
start_sim esp32:5 --fault 0:rom-error=0x11:0xC1:0 --fault 1:rom-error=0x11:0xC1:1 \
    --fault 2:rom-error=0x03:0x07:0
profile p esp32
fw=$(image esp32)

flash_expect "bad checksum every time (stub)" 1 DATA_CHECKSUM "${TCP[0]}|FLASH_DEFL_DATA|seq 0|[stub error 0xC1 bad data checksum]|after 3 attempts" \
    -- --port "${TCP[0]}" 0x1000 "$fw"
flash_expect "bad checksum every time (ROM)" 1 DATA_CHECKSUM "${TCP[2]}|FLASH_DATA|[ROM error 0x07|after 3 attempts" \
    -- --port "${TCP[2]}" --no-stub --no-compress 0x1000 "$fw"
n=$(grep -c "^espsim: board 2 rom op=0x03 .*seq=0\|^espsim: board 2 rom op=0x03" "$T/sim.trace")
[ "$n" -eq 3 ] && pass "the ROM got the refused block exactly 3 times" || fail "the ROM got $n FLASH_DATA, expected 3"

run_boards csum p "${TCP[0]}" "${TCP[1]}" "${TCP[3]}" "${TCP[4]}"
expect_run_rc 1
expect_run_pass "${TCP[1]}"
expect_run_pass "${TCP[3]}"
expect_run_pass "${TCP[4]}"
expect_run_fail "bad checksum every time (stub)" "${TCP[0]}" DATA_CHECKSUM "after 3 attempts" 193
expect_col "${TCP[0]}" stub_error 1
expect_col "${TCP[0]}" retries 3
r=$(q "select retries from attempts where port='${TCP[1]}'")
[ "$r" -ge 1 ] 2>/dev/null && pass "the board that survived one bad checksum records $r retry" ||
    fail "the board that survived one bad checksum records retries='$r'"
finish

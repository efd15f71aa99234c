#!/usr/bin/env bash
# unplug.sh - the board is unplugged in the middle of the write (espsim
# unplug=BYTES): on a serial device the port vanishes (PORT_VANISHED, the
# node is gone); on a network serial port the peer closes (PORT_CLOSED).
. "$(dirname "$0")/lib.sh"
start_sim esp32:4 --fault 1:unplug=40000 --fault 2:unplug=40000
profile p esp32
fw=$(image esp32)

flash_expect "unplugged mid-write (pty)" 1 PORT_VANISHED "${PTY[1]}|device node is gone|regions written" \
    -- --port "${PTY[1]}" 0x1000 "$fw"
case "$LINE" in *"0 of 1 regions written"*) pass "nothing counted as written" ;; *) fail "region count: $LINE" ;; esac

run_boards unplug p "${PTY[0]}" "${TCP[2]}" "${PTY[3]}"
expect_run_rc 1
expect_run_pass "${PTY[0]}"
expect_run_pass "${PTY[3]}"
expect_run_fail "unplugged mid-write (tcp)" "${TCP[2]}" PORT_CLOSED "${TCP[2]}" ""
st=$(q "select ms_write > 0 or bytes_sent > 40000 from attempts where port='${TCP[2]}'")
[ "$st" = 1 ] && pass "the attempt row shows the write had started" || fail "the attempt row does not show the write had started"
finish

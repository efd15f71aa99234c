#!/usr/bin/env bash
# no_sync.sh - download mode is seen (banner "waiting for download") but SYNC
# is never answered: the host's TX path is broken.  NO_SYNC_REPLY.
. "$(dirname "$0")/lib.sh"
start_sim esp32:3 --fault 2:no-sync
profile p esp32
fw=$(image esp32)

flash_expect "download mode, no SYNC reply" 1 NO_SYNC_REPLY "${PTY[2]}|download-mode banner (\"waiting for download\")|after 7 attempts|TX" \
    -- --port "${PTY[2]}" 0x1000 "$fw"

run_boards nosync p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[0]}"
expect_run_pass "${TCP[1]}"
expect_run_fail "download mode, no SYNC reply" "${TCP[2]}" NO_SYNC_REPLY "download-mode banner|after 7 attempts" ""
finish

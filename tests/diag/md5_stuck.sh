#!/usr/bin/env bash
# md5_stuck.sh - a stuck flash bit: every read-back differs from what was
# written.  MD5_MISMATCH (after reading the MD5 again), the board is not
# passed; stub and ROM paths.
. "$(dirname "$0")/lib.sh"
start_sim esp32:3 --fault 1:md5-stuck
profile p esp32
fw=$(image esp32)
want=$(md5sum "$fw" | cut -c1-32)

flash_expect "stuck bit (stub)" 1 MD5_MISMATCH "${TCP[1]}|expected $want|same wrong value read twice|after 2 attempts|do not ship" \
    -- --port "${TCP[1]}" 0x1000 "$fw"
flash_expect "stuck bit (ROM)" 1 MD5_MISMATCH "${TCP[1]}|expected $want" \
    -- --port "${TCP[1]}" --no-stub 0x1000 "$fw"

run_boards md5 p "${TCP[0]}" "${TCP[1]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[0]}"
expect_run_pass "${TCP[2]}"
expect_run_fail "stuck bit" "${TCP[1]}" MD5_MISMATCH "expected $want" ""
expect_col "${TCP[1]}" retries 2
md5dev=$(q "select r.md5_device from attempt_regions r join attempts a on a.id = r.attempt_id where a.port='${TCP[1]}'")
if [ -n "$md5dev" ] && [ "$md5dev" != "$want" ]; then
    pass "the region row records the device MD5 $md5dev (expected $want)"
else
    fail "the region row's md5_device is '$md5dev' (expected a value differing from $want)"
fi
[ "$(q "select verified from attempt_regions r join attempts a on a.id = r.attempt_id where a.port='${TCP[1]}'")" = 0 ] &&
    pass "region not marked verified" || fail "region marked verified"
finish

#!/usr/bin/env bash
# 32 espsim boards of mixed chips flashed in one run: every simulator dump
# matches, the database has exactly one passed attempt per board with the
# simulator's MAC and chip, and the device MD5 equals the image's MD5.
. "$(dirname "$0")/lib.sh"
chips=(esp32 esp32s3 esp32c3 esp8266 esp32s2 esp32c6 esp32h2 esp32c2)
spec=""; for c in "${chips[@]}"; do spec+="$c:4,"; done
start_sim "${spec%,}"
[ "$NB" = 32 ] || fail "expected 32 boards, got $NB"
station_all B
run_station
[ $rc = 0 ] || { cat "$T/run.out"; fail "espfab run exited $rc"; }
grep -q "32 board(s): 32 passed, 0 failed" "$T/run.out" || { cat "$T/run.out"; fail "summary"; }
dump_sim
for i in $(seq 0 31); do expect_flash "$i" "${CHIP[$i]}"; done
pass "32 dumps match"
[ "$(q "select count(*) from attempts")" = 32 ] || fail "attempt count"
[ "$(q "select count(*) from attempts where outcome='pass'")" = 32 ] || fail "pass count"
[ "$(q "select count(distinct mac) from attempts")" = 32 ] || fail "distinct MACs"
for i in $(seq 0 31); do
    row=$(q "select outcome, lower(replace(chip,'-','')), slot from attempts where mac='${MAC[$i]}'")
    [ "$row" = "pass|${CHIP[$i]}|B$i" ] || fail "board $i row '$row' (want pass|${CHIP[$i]}|B$i)"
    md5=$(md5sum < "$T/fw-${CHIP[$i]}.bin" | cut -d' ' -f1)
    got=$(q "select r.md5_device || ' ' || r.md5_expected || ' ' || r.verified from attempt_regions r join attempts a on a.id=r.attempt_id where a.mac='${MAC[$i]}'")
    [ "$got" = "$md5 $md5 1" ] || fail "board $i MD5 '$got' (want $md5)"
done
pass "database: one passed attempt per board with the simulator's MAC, chip and MD5"
[ "$(q "pragma integrity_check")" = ok ] || fail integrity
echo "1 passed, 0 failed"

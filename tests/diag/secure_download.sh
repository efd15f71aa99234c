#!/usr/bin/env bash
# secure_download.sh - an ESP32-S3 whose ROM is in Secure Download Mode
# (espsim --fault secure-download): only SYNC, SPI_ATTACH, SPI_SET_PARAMS,
# CHANGE_BAUDRATE, FLASH_BEGIN/DATA/END and GET_SECURITY_INFO are allowed.
# espfab must see it from the security flags, read no register, load no
# stub, send no compressed or MD5 command, and still write the image with
# the plain ROM commands; without MD5 the write fails as UNVERIFIABLE (exit 1)
# unless --no-verify (verify = no in a profile) accepts it.  A good board
# alongside is not disturbed.
. "$(dirname "$0")/lib.sh"
start_sim esp32s3:3 --fault 1:secure-download --fault 2:secure-download
fw=$T/app.bin
"$MKIMAGE" --chip esp32s3 --kind app --size 96k --compressible 50 --seed 3 -o "$fw" >/dev/null ||
    die "mkimage failed"

"$ESPFAB" info --port "${TCP[1]}" >"$T/info.out" 2>&1
rc=$?
[ "$rc" = 0 ] && pass "info: exit 0" || fail "info: exit $rc: $(cat "$T/info.out")"
grep -q "^chip  *ESP32-S3" "$T/info.out" && pass "info: chip ESP32-S3 (from the security info)" ||
    fail "info: no chip line: $(cat "$T/info.out")"
grep -q "secure download mode" "$T/info.out" && pass "info: says secure download mode" ||
    fail "info: no secure download mode: $(cat "$T/info.out")"
grep -q "^MAC  *not readable (secure download mode)" "$T/info.out" && pass "info: MAC not readable, and says why" ||
    fail "info: MAC line: $(grep MAC "$T/info.out")"

flash_expect "secure download mode" 1 UNVERIFIABLE "${TCP[1]}|1 region written; secure download mode forbids SPI_FLASH_MD5|(1 of 1 regions written)" \
    -- --port "${TCP[1]}" --baud 921600 0x10000 "$fw"

"$ESPFAB" flash --port "${TCP[1]}" --baud 921600 --no-verify 0x10000 "$fw" >"$T/f2.out" 2>&1
rc=$?
[ "$rc" = 0 ] && pass "flash --no-verify: exit 0" || fail "flash --no-verify: exit $rc: $(tail -3 "$T/f2.out")"

# Nothing the mode forbids was sent: the ROM refused nothing after detection
# (each refusal is one trace line ending in ERROR 0x05).
n=$(grep -c "board 1 rom op=.*ERROR 0x05" "$T/sim.trace")
[ "$n" = 0 ] && pass "no command refused by the board" ||
    fail "$n commands refused: $(grep "board 1 rom op=.*ERROR 0x05" "$T/sim.trace" | head -3)"
for op in 0x05 0x0a 0x10 0x13; do
    k=$(grep -c "board 1 rom op=$op " "$T/sim.trace")
    [ "$k" = 0 ] && pass "no op $op sent" || fail "op $op sent $k times"
done
k=$(grep -c "board 1 rom op=0x03 " "$T/sim.trace")
[ "$k" -gt 0 ] && pass "plain FLASH_DATA used ($k blocks per run)" || fail "no FLASH_DATA"

# The station (board 2 in SDM too): the SDM board fails as UNVERIFIABLE (its
# region row says written, not verified), the good board passes verified;
# with verify = no the SDM board passes, and its row says it is not verified.
profile sdm esp32s3
run_boards sdm_run sdm "${TCP[0]}" "${TCP[2]}"
expect_run_rc 1
expect_run_pass "${TCP[0]}"
expect_run_fail "secure download mode" "${TCP[2]}" UNVERIFIABLE "secure download mode forbids SPI_FLASH_MD5"
[ "$(q "select r.written || r.verified from attempt_regions r join attempts a on a.id = r.attempt_id where a.port='${TCP[2]}'")" = 10 ] &&
    pass "run: the SDM board's region is written, not verified" || fail "run: the SDM board's region row is wrong"
[ "$(q "select r.verified from attempt_regions r join attempts a on a.id = r.attempt_id where a.port='${TCP[0]}'")" = 1 ] &&
    pass "run: the good board's region is verified" || fail "run: the good board's region is not verified"
profile sdmnv esp32s3 verify=no
run_boards sdm_run_nv sdmnv "${TCP[2]}"
expect_run_pass "${TCP[2]}"
m=$(q "select message from attempts where port='${TCP[2]}'")
case "$m" in *"NOT verified (verification disabled)"*) pass "run, verify = no: the row says NOT verified" ;;
*) fail "run, verify = no: message '$m'" ;; esac

stop_sim
expect_dump 1 0x10000 "$fw" "the app"
expect_dump 2 0x0 "$(image esp32s3)" "the run's image"
finish

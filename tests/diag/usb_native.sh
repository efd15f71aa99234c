#!/usr/bin/env bash
# usb_native.sh - boards on the chip's own USB (espsim --usb).
# USB-Serial/JTAG: the ROM feeds neither the RTC watchdog nor the super
# watchdog, so a long session is reset by them (espsim: after 1 s here)
# unless espfab disables them, which it does when it knows the port is
# USB-Serial/JTAG: its USB id 303a:1001 (read from a real port; --usb-id or a
# slot's usb_id for tcp://) or --before usb-jtag.  Without that, the reset
# banner names the cause.  USB-OTG: blocks of at most 2 KiB.
. "$(dirname "$0")/lib.sh"
start_sim esp32c3:3,esp32s3:1 --pace --usb 0:jtag=1 --usb 1:jtag=1 --usb 2:jtag=1 --usb 3:otg
fw=$T/app.bin
"$MKIMAGE" --chip esp32c3 --kind app --size 256k --compressible 50 --seed 5 -o "$fw" >/dev/null ||
    die "mkimage failed"
fw3=$T/app-s3.bin
"$MKIMAGE" --chip esp32s3 --kind app --size 64k --compressible 50 --seed 6 -o "$fw3" >/dev/null ||
    die "mkimage failed"

# 1. a tcp:// port cannot tell: the watchdog resets the board mid-session
flash_expect "USB-Serial/JTAG, watchdogs left on" 1 BOARD_RESET \
    "${TCP[0]}|rst:0x10 (RTCWDT_RTC_RESET)|a watchdog: over USB-Serial/JTAG the ROM feeds none|--usb-id 303a:1001" \
    -- --port "${TCP[0]}" --baud 460800 0x10000 "$fw"
grep -q "board 0 .*watchdog" "$T/sim.trace" && pass "espsim reset board 0 by its watchdog" ||
    fail "no watchdog reset of board 0 in the trace"

# 2. told with --usb-id: the watchdogs are disabled and the write passes
"$ESPFAB" flash --port "${TCP[0]}" --baud 460800 --usb-id 303a:1001 0x10000 "$fw" >"$T/f2.out" 2>&1
rc=$?
[ "$rc" = 0 ] && pass "--usb-id 303a:1001: exit 0" || fail "--usb-id 303a:1001: exit $rc: $(tail -3 "$T/f2.out")"
grep -q "watchdogs disarmed by the host" "$T/sim.trace" && pass "espsim saw its watchdogs disarmed" ||
    fail "espsim never saw the watchdogs disarmed"

# 3. told with --before usb-jtag (the USB-JTAG reset implies the port)
"$ESPFAB" flash --port "${TCP[1]}" --baud 460800 --before usb-jtag 0x10000 "$fw" >"$T/f3.out" 2>&1
rc=$?
[ "$rc" = 0 ] && pass "--before usb-jtag: exit 0" || fail "--before usb-jtag: exit $rc: $(tail -3 "$T/f3.out")"

# 4. USB-OTG (S3, 303a:0009): 2 KiB MEM_DATA and FLASH_DEFL_DATA blocks
"$ESPFAB" flash --port "${TCP[3]}" --baud 460800 --usb-id 303a:0009 0x10000 "$fw3" >"$T/f4.out" 2>&1
rc=$?
[ "$rc" = 0 ] && pass "USB-OTG --usb-id 303a:0009: exit 0" || fail "USB-OTG: exit $rc: $(tail -3 "$T/f4.out")"
if grep -q "board 3 USB-OTG: .*dropped" "$T/sim.trace"; then
    fail "USB-OTG: a block over 2 KiB was sent: $(grep "board 3 USB-OTG" "$T/sim.trace" | head -2)"
else
    pass "USB-OTG: no block over 2 KiB"
fi

# 5. a station: the slot with usb_id passes, the one without fails with the
#    reset cause, and both are recorded
profile usb esp32c3
cat >"$T/st.ini" <<INI
[station]
id = usb-diag
[slot jtag]
port = ${TCP[2]}
usb_id = 303a:1001
[slot plain]
port = ${TCP[1]}
INI
DB=$T/usb.db
"$ESPFAB" run --station "$T/st.ini" --profile "$T/usb.ini" --batch --db "$DB" --log json \
    >"$T/run.out" 2>"$T/run.err"
RUN_RC=$?
expect_run_rc 1
expect_run_pass "${TCP[2]}"
expect_run_fail "USB-Serial/JTAG slot without usb_id" "${TCP[1]}" BOARD_RESET "rst:0x10 (RTCWDT_RTC_RESET)|--usb-id 303a:1001"

stop_sim
expect_dump 0 0x10000 "$fw" "the app"
expect_dump 3 0x10000 "$fw3" "the app (USB-OTG)"
finish

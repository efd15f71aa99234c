#!/usr/bin/env bash
# input_errors.sh - `espfab flash` refuses bad input with exit status 2 and a
# message naming the file/offset, before the board is touched: the simulated
# board's trace must show that no command at all reached it.
. "$(dirname "$0")/common.sh"

start_sim esp32:1,esp8266:1
P32=${PTY[0]}
P8266=${PTY[1]}
cd "$T" || exit 1
"$MKIMAGE" --chip esp32 --kind app --size 40000 --seed 11 -o app32.bin || exit 1
"$MKIMAGE" --chip esp32 --kind bootloader --size 20000 --seed 12 -o boot32.bin || exit 1
"$MKIMAGE" --chip esp8266 --kind v1 --size 20000 --seed 13 -o v1.bin || exit 1
"$MKIMAGE" --chip esp32s3 --kind app --size 30000 --seed 14 -o apps3.bin || exit 1
: >empty.bin
head -c 4000 app32.bin >truncated.bin

expect_status 2 "no arguments" "$ESPFAB" flash
expect_out "no arguments" "--port"
expect_status 2 "no files" "$ESPFAB" flash --port "$P32"
expect_out "no files" "OFFSET FILE"
expect_status 2 "odd pair" "$ESPFAB" flash --port "$P32" 0x10000 app32.bin 0x20000
expect_out "odd pair" "'0x20000' has no file"
expect_status 2 "bad offset" "$ESPFAB" flash --port "$P32" 0x1z000 app32.bin
expect_out "bad offset" "'0x1z000'"
expect_status 2 "missing file" "$ESPFAB" flash --port "$P32" 0x10000 nosuch.bin
expect_out "missing file" "nosuch.bin"
expect_status 2 "empty file" "$ESPFAB" flash --port "$P32" 0x10000 empty.bin
expect_out "empty file" "empty.bin"
expect_status 2 "unaligned" "$ESPFAB" flash --port "$P32" 0x10100 app32.bin
expect_out "unaligned" "app32.bin"
expect_out "unaligned" "0x10100"
expect_status 2 "overlap" "$ESPFAB" flash --port "$P32" 0x10000 app32.bin 0x18000 apps3.bin
expect_out "overlap" "app32.bin"
expect_out "overlap" "apps3.bin"
expect_status 2 "past flash" "$ESPFAB" flash --port "$P32" --flash-size 1MB 0xF8000 app32.bin
expect_out "past flash" "app32.bin"
expect_status 2 "truncated image" "$ESPFAB" flash --port "$P32" 0x10000 truncated.bin
expect_out "truncated image" "truncated.bin"
expect_status 2 "bad flash mode" "$ESPFAB" flash --port "$P32" --flash-mode qqq 0x1000 boot32.bin
expect_out "bad flash mode" "qqq"
expect_status 2 "bad flash freq" "$ESPFAB" flash --port "$P32" --chip esp32 --flash-freq 33m 0x1000 boot32.bin
expect_out "bad flash freq" "33m"
expect_status 2 "unknown chip" "$ESPFAB" flash --port "$P32" --chip esp99 0x10000 app32.bin
expect_out "unknown chip" "esp99"
expect_status 2 "unknown option" "$ESPFAB" flash --port "$P32" --frobnicate 0x10000 app32.bin
expect_out "unknown option" "--frobnicate"
expect_status 2 "bad --before" "$ESPFAB" flash --port "$P32" --before sideways 0x10000 app32.bin
expect_out "bad --before" "sideways"
expect_status 2 "info has no --flash-mode" "$ESPFAB" info --port "$P32" --flash-mode dio
expect_out "info has no --flash-mode" "--flash-mode"
expect_status 0 "flash --help" "$ESPFAB" flash --help
expect_out "flash --help" "--no-stub"
expect_status 0 "info --help" "$ESPFAB" info --help
expect_out "info --help" "--json"

# An image for another chip with --chip: refused before opening the port.
expect_status 2 "ESP32 image, --chip esp8266" "$ESPFAB" flash --port "$P8266" --chip esp8266 0x10000 app32.bin
expect_out "ESP32 image, --chip esp8266" "app32.bin"
expect_out "ESP32 image, --chip esp8266" "ESP8266"
expect_out "ESP32 image, --chip esp8266" "ESP32"
expect_status 2 "ESP8266 image, --chip esp32" "$ESPFAB" flash --port "$P32" --chip esp32 0x0 v1.bin
expect_out "ESP8266 image, --chip esp32" "v1.bin"
expect_out "ESP8266 image, --chip esp32" "ESP8266"
expect_status 2 "S3 image, --chip esp32" "$ESPFAB" flash --port "$P32" --chip esp32 0x10000 apps3.bin
expect_out "S3 image, --chip esp32" "ESP32-S3"

# None of the above may have reached either board.
n=$(trace_ops 0 | wc -l)
[ "$n" -eq 0 ] && pass "board 0 got no command" || fail "board 0 got $n commands"
n=$(trace_ops 1 | wc -l)
[ "$n" -eq 0 ] && pass "board 1 got no command" || fail "board 1 got $n commands"
if grep -q "board [01] reset" "$T/sim.trace"; then
    fail "a port was opened: $(grep 'reset' "$T/sim.trace" | head -2)"
else
    pass "no port was opened"
fi

# A port that does not exist: named in the message.
expect_status 1 "missing port" "$ESPFAB" flash --port /dev/ttyNOPE9 0x10000 app32.bin
expect_out "missing port" "/dev/ttyNOPE9"
finish

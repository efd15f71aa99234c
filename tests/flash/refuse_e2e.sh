#!/usr/bin/env bash
# refuse_e2e.sh - with --chip auto, an image built for another chip is refused
# once the board has been identified and before a single FLASH_BEGIN /
# FLASH_DEFL_BEGIN reaches it; the message names the file, the image's chip
# and the board's chip.  Also: a board whose flash does not keep the data
# (espsim md5-stuck) fails verification with exit 1, a silent board exits 1.
. "$(dirname "$0")/common.sh"

start_sim --boards esp8266:1,esp32:2,esp32c3:1 --fault 2:md5-stuck --fault 3:silent
cd "$WORK" || exit 1
"$MKIMAGE" --chip esp32 --kind app --size 40000 --seed 21 -o app32.bin &&
"$MKIMAGE" --chip esp8266 --kind v1 --size 20000 --seed 22 -o v1.bin &&
"$MKIMAGE" --chip esp8266 --kind raw --size 20000 --seed 23 -o data.bin || exit 1

# ESP32 image aimed at the ESP8266 board (stub and ROM paths).
for stub in "" --no-stub; do
    name="ESP32 image on ESP8266 board ${stub:-stub}"
    expect_status 2 "$name" "$ESPFAB" flash --port "${PTY[0]}" $stub 0x10000 data.bin 0x20000 app32.bin
    expect_out "$name" "app32.bin"
    expect_out "$name" "ESP32 image"
    expect_out "$name" "ESP8266"
    expect_out "$name" "${PTY[0]}"
done
n=$(flash_cmds 0)
[ "$n" -eq 0 ] && pass "ESP8266 board got no FLASH_BEGIN/FLASH_DEFL_BEGIN" || fail "ESP8266 board got $n flash begins"
trace_ops 0 | grep -q ' 0x08$' && pass "ESP8266 board was connected (SYNC seen)" || fail "ESP8266 board never synced: the refusal must come after identification"

# ESP8266 image aimed at the ESP32 board.
name="ESP8266 image on ESP32 board"
expect_status 2 "$name" "$ESPFAB" flash --port "tcp://${TCP[1]}" 0x0 v1.bin
expect_out "$name" "v1.bin"
expect_out "$name" "ESP8266"
expect_out "$name" "ESP32"
n=$(flash_cmds 1)
[ "$n" -eq 0 ] && pass "ESP32 board got no FLASH_BEGIN/FLASH_DEFL_BEGIN" || fail "ESP32 board got $n flash begins"

# --force writes it anyway (and says so).
expect_status 0 "--force writes the ESP8266 image on the ESP32" "$ESPFAB" flash --port "tcp://${TCP[1]}" --force 0x0 v1.bin
n=$(flash_cmds 1)
[ "$n" -ge 1 ] && pass "--force sent FLASH_BEGIN" || fail "--force: no flash begin"

# Verification failure: exit 1, MD5 named.
name="md5-stuck board"
expect_status 1 "$name" "$ESPFAB" flash --port "${PTY[2]}" 0x10000 app32.bin
expect_out "$name" "MD5"
expect_out "$name" "${PTY[2]}"

# A silent board: exit 1, no serial data.
name="silent board"
expect_status 1 "$name" "$ESPFAB" flash --port "${PTY[3]}" --before none 0x10000 data.bin
expect_out "$name" "no serial data"
finish

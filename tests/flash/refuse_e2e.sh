n=$(new_ops 0 | grep -c -E '^0x(03|10|11)$')
[ "$n" -eq 0 ] && pass "ESP8266 board got no FLASH_DATA/DEFL_BEGIN/DEFL_DATA" || fail "ESP8266 board got $n flash data commands"
n=$(new_ops 0 | grep -c -E '^0x02$')
[ "$n" -le 1 ] && pass "ESP8266 board got at most the flash-attach FLASH_BEGIN" || fail "ESP8266 board got $n FLASH_BEGINs"#!/usr/bin/env bash
# refuse_e2e.sh - with --chip auto, an image built for another chip is refused
# once the board has been identified and before any flash command writes to
# it; the message names the file, the image's chip, the board's chip and the
# port.  Also: --force writes it anyway; a board whose flash reads back wrong
# (espsim md5-stuck) fails verification with exit 1; a silent board exits 1.
. "$(dirname "$0")/common.sh"

start_sim esp8266:1,esp32:2,esp32c3:1 --fault 2:md5-stuck --fault 3:silent
cd "$T" || exit 1
"$MKIMAGE" --chip esp32 --kind app --size 40000 --seed 21 -o app32.bin &&
"$MKIMAGE" --chip esp8266 --kind v1 --size 20000 --seed 22 -o v1.bin &&
"$MKIMAGE" --chip esp8266 --kind raw --size 20000 --seed 23 -o data.bin || exit 1

# Opcodes board $1 received since the trace had $mark lines.
new_ops() {
    tail -n +$((mark + 1)) "$T/sim.trace" |
        sed -n "s/^espsim: board $1 \\(rom\\|stub\\) op=\\(0x[0-9a-f]*\\).*/\\2/p"
}

# ESP32 image aimed at the ESP8266 board, ROM path, no reset at the end: no
# FLASH_DATA/FLASH_DEFL_* may reach the board, and FLASH_BEGIN only once: the
# size-0 one that attaches the SPI flash on the ESP8266 ROM (esptool does the
# same; it has no SPI_ATTACH), sent while identifying the flash.
mark=$(wc -l <"$T/sim.trace")
name="ESP32 image on ESP8266 board (ROM, --after no-reset)"
expect_status 2 "$name" "$ESPFAB" flash --port "${PTY[0]}" --no-stub --after no-reset 0x10000 data.bin 0x20000 app32.bin
expect_out "$name" "app32.bin"
expect_out "$name" "ESP32 image"
expect_out "$name" "ESP8266"
expect_out "$name" "${PTY[0]}"
n=$(new_ops 0 | grep -c -E '^0x(03|10|11)$')
[ "$n" -eq 0 ] && pass "ESP8266 board got no FLASH_DATA/DEFL_BEGIN/DEFL_DATA" || fail "ESP8266 board got $n flash data commands"
n=$(new_ops 0 | grep -c -E '^0x02$')
[ "$n" -le 1 ] && pass "ESP8266 board got at most the flash-attach FLASH_BEGIN" || fail "ESP8266 board got $n FLASH_BEGINs"
new_ops 0 | grep -q '^0x08$' && pass "ESP8266 board was connected (SYNC seen)" ||
    fail "ESP8266 board never synced: the refusal must come after identification"

# The stub path with the default --after: size-0 FLASH_BEGINs that write
# nothing are allowed (the ESP8266 ROM gets one before the stub upload, and
# one runs the application on a port without reset lines), data is not.
mark=$(wc -l <"$T/sim.trace")
name="ESP32 image on ESP8266 board (stub)"
expect_status 2 "$name" "$ESPFAB" flash --port "${PTY[0]}" 0x10000 data.bin 0x20000 app32.bin
expect_out "$name" "app32.bin"
expect_out "$name" "ESP8266"
n=$(new_ops 0 | grep -c -E '^0x(03|10|11)$')
[ "$n" -eq 0 ] && pass "ESP8266 board (stub path) got no flash data" || fail "ESP8266 board (stub path) got $n flash data commands"

# ESP8266 image aimed at an ESP32 board over TCP.
mark=$(wc -l <"$T/sim.trace")
name="ESP8266 image on ESP32 board"
expect_status 2 "$name" "$ESPFAB" flash --port "${TCP[1]}" --after no-reset 0x0 v1.bin
expect_out "$name" "v1.bin"
expect_out "$name" "ESP8266"
expect_out "$name" "ESP32"
n=$(new_ops 1 | grep -c -E '^0x(02|03|10|11)$')
[ "$n" -eq 0 ] && pass "ESP32 board got no flash command" || fail "ESP32 board got $n flash commands"

# Nothing was written to either board.
dump_sim
ff=$(mktemp "$T/ff.XXXXXX")
head -c "$(stat -c %s "$T/dumps/board-0.bin")" /dev/zero | tr '\0' '\377' >"$ff"
expect_same_file "ESP8266 board flash still erased" "$T/dumps/board-0.bin" "$ff"
expect_same_file "ESP32 board flash still erased" "$T/dumps/board-1.bin" "$ff"

# --force writes it anyway.
mark=$(wc -l <"$T/sim.trace")
expect_status 0 "--force writes the ESP8266 image on the ESP32" "$ESPFAB" flash --port "${TCP[1]}" --force 0x0 v1.bin
n=$(new_ops 1 | grep -c -E '^0x(03|11)$')
[ "$n" -ge 1 ] && pass "--force sent flash data" || fail "--force: no flash data"

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

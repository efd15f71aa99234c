#!/usr/bin/env bash
# layout_e2e.sh - what may be flashed where (issue 16 item 2, item 12's FIFO):
# an ELF is always refused (even with --force) with the way out; raw data is
# refused at the bootloader offset, in an app partition and, with no
# partition table, at 0x10000 on an ESP32-family chip; a profile must
# declare data (kind = data) and then flashes it; partition-table misfits
# are refused; an image that is a FIFO is refused at once (no hang).  Input
# refusals happen before the board is touched; with the chip unknown they
# happen once the board is identified, before any flash data.
. "$(dirname "$0")/common.sh"

start_sim esp32:2,esp8266:1
P32=${PTY[0]}
P32B=${PTY[1]}
P8266=${PTY[2]}
cd "$T" || exit 1
"$MKIMAGE" --chip esp32 --kind app --size 40000 --seed 31 -o app32.bin &&
"$MKIMAGE" --chip esp32 --kind bootloader --size 20000 --seed 32 -o boot32.bin &&
"$MKIMAGE" --chip esp32 --kind partition-table -o pt.bin &&
"$MKIMAGE" --chip esp32 --kind raw --size 8192 --seed 33 -o nvs.bin &&
"$MKIMAGE" --chip esp8266 --kind raw --size 20000 --seed 34 -o irom.bin &&
"$MKIMAGE" --chip esp8266 --kind v1 --size 20000 --seed 35 -o v1.bin || exit 1
head -c 50000 /dev/urandom | tr '\351\352' 'ab' >random.bin # never starts like an image
# A small ELF (the header is what counts).
{ printf '\177ELF\001\001\001\000'; head -c 4000 /dev/zero; } >app.elf
mkfifo fifo.bin

# ---- refused before the board is touched ----
name="ELF"
expect_status 2 "$name" "$ESPFAB" flash --port "$P32" 0x10000 app.elf
expect_out "$name" "app.elf"
expect_out "$name" "ELF"
expect_out "$name" "elf2image"
expect_status 2 "ELF with --force" "$ESPFAB" flash --port "$P32" --force 0x10000 app.elf
expect_out "ELF with --force" "is an ELF file"
name="random bytes at 0x10000, --chip esp32"
expect_status 2 "$name" "$ESPFAB" flash --port "$P32" --chip esp32 0x1000 boot32.bin 0x10000 random.bin
expect_out "$name" "random.bin at 0x10000 is raw data"
name="random bytes at the bootloader offset"
expect_status 2 "$name" "$ESPFAB" flash --port "$P32" --chip esp32 0x1000 random.bin
expect_out "$name" "0x1000 is where the ESP32 boots its bootloader from"
name="raw data in the app partition"
expect_status 2 "$name" "$ESPFAB" flash --port "$P32" 0x8000 pt.bin 0x10000 nvs.bin
expect_out "$name" "app partition 'factory'"
name="app image in the nvs partition"
expect_status 2 "$name" "$ESPFAB" flash --port "$P32" 0x8000 pt.bin 0x9000 app32.bin
expect_out "$name" "'nvs'"
name="table past the flash"
expect_status 2 "$name" "$ESPFAB" flash --port "$P32" --flash-size 1MB 0x8000 pt.bin 0x10000 app32.bin
expect_out "$name" "past the end of the 1024 KiB flash"
name="bootloader at the wrong offset"
expect_status 2 "$name" "$ESPFAB" flash --port "$P32" --chip esp32 0x0 boot32.bin
expect_out "$name" "boots its bootloader from 0x1000"
name="FIFO as an image"
expect_status 2 "$name" timeout 10 "$ESPFAB" flash --port "$P32" 0x10000 fifo.bin
expect_out "$name" "FIFO"
n=$(trace_ops 0 | wc -l)
[ "$n" -eq 0 ] && pass "board 0 got no command" || fail "board 0 got $n commands"

# ---- profiles ----
mkdir -p prof
cp boot32.bin pt.bin app32.bin nvs.bin app.elf prof/
profile() { # profile FILE EXTRA-SECTION...: an ESP32 profile with bootloader, table, app
    { printf '[profile]\nchip = esp32\n[image boot]\nfile = boot32.bin\noffset = 0x1000\n'
      printf '[image pt]\nfile = pt.bin\noffset = 0x8000\n[image app]\nfile = app32.bin\noffset = 0x10000\n'
      printf '%b' "${@:2}"; } >"prof/$1"
}
profile nvs.ini '[image nvs]\nfile = nvs.bin\noffset = 0x9000\n'
profile stray.ini '[image blob]\nfile = nvs.bin\noffset = 0x300000\n'
profile declared.ini '[image blob]\nfile = nvs.bin\noffset = 0x300000\nkind = data\n'
printf '[profile]\nchip = esp32\n[image app]\nfile = nvs.bin\noffset = 0x10000\n' >prof/rawapp.ini
printf '[profile]\nchip = esp32\n[image data]\nfile = nvs.bin\noffset = 0x200000\n' >prof/undeclared.ini
printf '[profile]\nchip = esp32\n[image app]\nfile = app.elf\noffset = 0x10000\n' >prof/elf.ini
printf '[profile]\nchip = esp32\n[image app]\nfile = ../fifo.bin\noffset = 0x10000\n' >prof/fifo.ini
expect_status 0 "profile: raw data in the nvs partition" "$ESPFAB" profile check prof/nvs.ini
expect_status 2 "profile: raw data outside every partition" "$ESPFAB" profile check prof/stray.ini
expect_out "profile: raw data outside every partition" "stray.ini:13:"
expect_status 2 "profile: raw data at 0x10000" "$ESPFAB" profile check prof/rawapp.ini
expect_out "profile: raw data at 0x10000" "ESP-IDF's app offset"
expect_status 2 "profile: undeclared raw data" "$ESPFAB" profile check prof/undeclared.ini
expect_out "profile: undeclared raw data" "kind = data"
expect_status 2 "profile: ELF" "$ESPFAB" profile check prof/elf.ini
expect_out "profile: ELF" "elf.ini:4:"
expect_status 2 "profile check: FIFO" timeout 10 "$ESPFAB" profile check prof/fifo.ini
expect_out "profile check: FIFO" "FIFO"
expect_status 2 "flash --profile: undeclared raw data" "$ESPFAB" flash --port "$P32" --profile prof/stray.ini
# declared data outside the table's partitions is written where it was put
if expect_status 0 "flash --profile: declared data" "$ESPFAB" flash --port "$P32B" --profile prof/declared.ini; then
    dump_sim
    dump_holds dumps/board-1.bin nvs.bin $((0x300000)) && pass "declared data written at 0x300000" ||
        fail "declared data not at 0x300000"
fi

# ---- at the board: the chip is known only there ----
mark=$(wc -l <"$T/sim.trace")
name="random bytes at 0x10000, chip from the board"
expect_status 2 "$name" "$ESPFAB" flash --port "$P32" 0x10000 random.bin
expect_out "$name" "random.bin at 0x10000 is raw data"
n=$(tail -n +$((mark + 1)) "$T/sim.trace" | grep -c -E "board 0 (rom|stub) op=0x(03|11)")
[ "$n" -eq 0 ] && pass "no flash data reached board 0" || fail "board 0 got $n flash data commands"
# The ESP8266 has no default app offset: NONOS SDK's raw IROM at 0x10000 stays allowed.
expect_status 0 "ESP8266 V1 + raw IROM" "$ESPFAB" flash --port "$P8266" 0x0 v1.bin 0x10000 irom.bin
finish

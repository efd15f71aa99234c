#!/usr/bin/env bash
# flash_e2e.sh - `espfab flash` against simulated ESP8266, ESP32, ESP32-S3 and
# ESP32-C3 boards over ptys and TCP, with and without the stub, with and
# without compression.  After all runs the simulator dumps every board's
# flash; each dump must equal, byte for byte, the flash computed by
# tests/flash/flashexp (0xFF everywhere, each file at its offset, the
# bootloader header patched independently when --flash-* options are given).
. "$(dirname "$0")/common.sh"

# board: 0 esp8266 (pty, ROM)   1 esp8266 (tcp, stub)
#        2 esp32 (pty, stub+deflate, patched header)  3 esp32 (tcp, ROM, no compression)
#        4 esp32s3 (pty, stub, no compression, patched)  5 esp32c3 (tcp, ROM + deflate)
#        6 esp32 (pty, --profile: patched, no compression, erase regions)
start_sim esp8266:2,esp32:2,esp32s3:1,esp32c3:1,esp32:1
cd "$T" || exit 1
FLASH_BYTES=$((4 * 1024 * 1024))
M=$MKIMAGE
$M --chip esp8266 --kind v1 --size 24000 --seed 1 -o e8_v1.bin &&
$M --chip esp8266 --kind raw --size 70000 --seed 2 -o e8_irom.bin &&
$M --chip esp8266 --kind v2 --size 50000 --seed 3 -o e8_v2.bin &&
$M --chip esp32 --kind bootloader --size 24000 --seed 4 --hash -o e32_boot.bin &&
$M --chip esp32 --kind partition-table -o e32_pt.bin &&
$M --chip esp32 --kind app --size 200000 --seed 5 --hash -o e32_app.bin &&
$M --chip esp32 --kind app --size 60000 --seed 6 -o e32_app2.bin &&
$M --chip esp32s3 --kind bootloader --size 20000 --seed 7 --hash -o s3_boot.bin &&
$M --chip esp32s3 --kind app --size 90000 --seed 8 --hash -o s3_app.bin &&
$M --chip esp32c3 --kind bootloader --size 18000 --seed 9 -o c3_boot.bin &&
$M --chip esp32c3 --kind app --size 120000 --seed 10 -o c3_app.bin || { echo "FAIL: mkimage" >&2; exit 1; }

tcp() { echo "${TCP[$1]}"; }

# flash_case NAME BOARD CHIP [espfab options...] -- OFFSET FILE... : runs espfab
# flash, checks exit 0 and the result line, and records what board BOARD
# must hold (options for flashexp in EXP_<BOARD>).
declare -a EXP_ARGS EXP_PATCH
flash_case() {
    local name=$1 board=$2 chip=$3
    shift 3
    local opts=() patch=()
    while [ "$1" != "--" ]; do
        opts+=("$1")
        case "$1" in
        --flash-mode) patch+=(--mode "$2") ;;
        --flash-freq) patch+=(--freq "$2") ;;
        --flash-size) patch+=(--size "$2") ;;
        esac
        shift
    done
    shift
    if expect_status 0 "$name" "$ESPFAB" flash "${opts[@]}" "$@"; then
        expect_out "$name" "${MAC[$board]}"
    fi
    EXP_ARGS[$board]="${EXP_ARGS[$board]:-} $*"
    EXP_PATCH[$board]="${patch[*]:-}"
    EXP_CHIP[$board]=$chip
}
declare -a EXP_CHIP

# The ESP8266 ROM cannot compute MD5: without --no-verify that is not a pass.
expect_status 1 "esp8266 ROM without --no-verify" "$ESPFAB" flash --port "${PTY[0]}" --no-stub 0x0 e8_v1.bin 0x10000 e8_irom.bin
expect_out "esp8266 ROM without --no-verify" "the ESP8266 ROM has no SPI_FLASH_MD5"
expect_out "esp8266 ROM without --no-verify" "[E323 UNVERIFIABLE]"
flash_case "esp8266 pty ROM, --no-verify" 0 esp8266 --port "${PTY[0]}" --no-stub --no-verify \
    -- 0x0 e8_v1.bin 0x10000 e8_irom.bin
flash_case "esp8266 tcp stub+deflate, --chip, patched" 1 esp8266 --port "$(tcp 1)" --chip esp8266 \
    --flash-mode dout --flash-size 1MB -- 0x0 e8_v2.bin
flash_case "esp32 pty stub+deflate, patched header" 2 esp32 --port "${PTY[2]}" \
    --flash-mode qout --flash-freq 80m --flash-size 2MB \
    -- 0x1000 e32_boot.bin 0x8000 e32_pt.bin 0x10000 e32_app.bin
flash_case "esp32 tcp ROM, no compression" 3 esp32 --port "$(tcp 3)" --no-stub --no-compress \
    -- 0x10000 e32_app2.bin 0x1000 e32_boot.bin
flash_case "esp32s3 pty stub, no compression, patched" 4 esp32s3 --port "${PTY[4]}" --no-compress \
    --flash-mode qio --flash-freq 80m -- 0x0 s3_boot.bin 0x10000 s3_app.bin
flash_case "esp32c3 tcp ROM+deflate, erase regions" 5 esp32c3 --port "$(tcp 5)" --no-stub --erase regions \
    -- 0 c3_boot.bin 65536 c3_app.bin

# A profile (chip, flash settings, options and images from the INI).
mkdir -p prof/build
cp e32_boot.bin prof/build/boot.bin && cp e32_app2.bin prof/build/app.bin && cp e32_pt.bin prof/build/pt.bin
cat >prof/p.ini <<EOF
[profile]
name = e2e-esp32
chip = esp32
baud = 460800
flash_mode = dout
flash_freq = 26m
flash_size = 2MB
compress = no
erase = regions
[image bootloader]
file = build/boot.bin
offset = 0x1000
[image pt]
file = build/pt.bin
offset = 0x8000
[image app]
file = build/app.bin
offset = 0x10000
EOF
if expect_status 0 "esp32 --profile" "$ESPFAB" flash --port "${PTY[6]}" --profile prof/p.ini; then
    expect_out "esp32 --profile" "${MAC[6]}"
fi
EXP_ARGS[6]="0x1000 e32_boot.bin 0x8000 e32_pt.bin 0x10000 e32_app2.bin"
EXP_PATCH[6]="--mode dout --freq 26m --size 2MB"
EXP_CHIP[6]=esp32
expect_status 2 "--profile with files too" "$ESPFAB" flash --port "${PTY[6]}" --profile prof/p.ini 0x10000 e32_app2.bin
expect_status 2 "--profile missing" "$ESPFAB" flash --port "${PTY[6]}" --profile prof/nope.ini
expect_out "--profile missing" "nope.ini"

# Writing the same app twice to board 3 (ROM, compressed this time) must not change the result.
expect_status 0 "esp32 tcp ROM rewrite, deflate" "$ESPFAB" flash --port "$(tcp 3)" --no-stub 0x10000 e32_app2.bin

# The wire really differed: data went as FLASH_DEFL_DATA (0x11) only where
# compression was on, as FLASH_DATA (0x03) elsewhere.  (Begin opcodes are not
# counted: a size-0 FLASH_BEGIN also runs the application on ptys.)
defl() { trace_ops "$1" | grep -c ' 0x11$'; }
plain() { trace_ops "$1" | grep -c ' 0x03$'; }
[ "$(defl 2)" -ge 3 ] && [ "$(plain 2)" -eq 0 ] && pass "board 2 sent deflated data" || fail "board 2: defl=$(defl 2) plain=$(plain 2)"
[ "$(plain 4)" -ge 2 ] && [ "$(defl 4)" -eq 0 ] && pass "board 4 sent plain data" || fail "board 4: defl=$(defl 4) plain=$(plain 4)"
[ "$(defl 5)" -ge 2 ] && pass "board 5 (C3 ROM) sent deflated data" || fail "board 5: defl=$(defl 5)"
[ "$(plain 6)" -ge 3 ] && [ "$(defl 6)" -eq 0 ] && pass "board 6 (profile compress = no) sent uncompressed" || fail "board 6: defl=$(defl 6) plain=$(plain 6)"
# The ESP8266 ROM has no deflate: uncompressed even though compression is the default.
[ "$(plain 0)" -ge 2 ] && [ "$(defl 0)" -eq 0 ] && pass "board 0 (ESP8266 ROM) sent uncompressed" || fail "board 0: defl=$(defl 0) plain=$(plain 0)"
# Stub vs ROM: the trace says which loader answered the flash commands.
trace_ops 2 | grep -q '^stub 0x11' && pass "board 2 flashed through the stub" || fail "board 2 never talked to a stub"
trace_ops 3 | grep -q '^stub' && fail "board 3 (--no-stub) talked to a stub" || pass "board 3 stayed in the ROM"
trace_ops 1 | grep -q '^stub 0x11' && pass "board 1 (ESP8266) flashed through the stub" || fail "board 1 never used the stub"

dump_sim
for b in 0 1 2 3 4 5 6; do
    # shellcheck disable=SC2086
    "$FLASHEXP" --chip "${EXP_CHIP[$b]}" --flash-bytes $FLASH_BYTES ${EXP_PATCH[$b]} -o "exp-$b.bin" ${EXP_ARGS[$b]} ||
        { fail "flashexp for board $b"; continue; }
    expect_same_file "board $b (${EXP_CHIP[$b]}) flash == intended bytes" "dumps/board-$b.bin" "exp-$b.bin"
done

# The patched headers really differ from the files (the check above is not vacuous).
cmp -s <(head -c 4 e32_boot.bin) <(dd if=dumps/board-2.bin bs=1 skip=4096 count=4 2>/dev/null) &&
    fail "board 2 bootloader header was not patched" || pass "board 2 bootloader header was patched"
[ "$(dd if=dumps/board-2.bin bs=1 skip=$((4096 + 2)) count=2 2>/dev/null | od -An -tx1 | tr -d ' ')" = "011f" ] &&
    pass "board 2 header bytes 2-3 = 01 1f (qout, 2MB, 80m)" || fail "board 2 header bytes 2-3"
# Independent SHA-256 check of the patched ESP32 bootloader: the digest after
# the checksum byte covers the patched bytes.
len=$(stat -c %s e32_boot.bin)
dd if=dumps/board-2.bin bs=1 skip=4096 count=$((len - 32)) 2>/dev/null | sha256sum | cut -c1-64 >sha-want
dd if=dumps/board-2.bin bs=1 skip=$((4096 + len - 32)) count=32 2>/dev/null | od -An -tx1 | tr -d ' \n' >sha-got
if [ "$(cat sha-want)" = "$(cat sha-got)" ]; then pass "board 2 appended SHA-256 recomputed"; else fail "board 2 SHA-256: $(cat sha-got) != $(cat sha-want)"; fi
finish

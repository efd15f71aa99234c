#!/usr/bin/env bash
# tests/image/image_info_golden.sh - `espfab image-info` (text and --json) on
# images espfab-mkimage writes for every chip family (app description present
# or not, appended SHA-256 good and bad, a bad checksum, ESP8266 V1/V2), on
# partition tables (good, bad MD5), raw data and an ELF, compared with the
# golden outputs in tests/image/golden (checked by hand against
# docs/protocol.md section 6).  The exit status goes into the golden file
# too.  UPDATE=1 rewrites the goldens instead (then read the diff!).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
require_tools ESPFAB MKIMAGE
GOLDEN="$TESTS_DIR/image/golden"
cd "$T"

# flip FILE OFFSET: xor the byte at OFFSET with 0x01.
flip() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

mk() { local out=$1; shift; "$MKIMAGE" "$@" -o "$out" || die "mkimage $*"; }

mk esp32-app.bin --chip esp32 --size 2k --hash --app-desc blink:1.2.3 --min-rev 300 --max-rev 399
mk esp32s2-boot.bin --chip esp32s2 --kind bootloader --size 2k
mk esp32s3-app.bin --chip esp32s3 --size 2k --flash-mode qio --flash-size 16MB
mk esp32c2-app.bin --chip esp32c2 --size 2k --hash --app-desc "sensor-node:v0.9-rc1"
mk esp32c3-app.bin --chip esp32c3 --size 2k --min-rev 3 --max-rev 199
mk esp32c6-app.bin --chip esp32c6 --size 2k --hash --flash-freq 20m --flash-size 8MB
mk esp32h2-app.bin --chip esp32h2 --size 2k --app-desc zigbee:2.0.0
mk esp32p4-boot.bin --chip esp32p4 --kind bootloader --size 2k --hash
mk esp8266-v1.bin --chip esp8266 --kind v1 --size 1k --flash-size 1MB
mk esp8266-v2.bin --chip esp8266 --kind v2 --size 2k --flash-mode dout
mk pt.bin --chip esp32 --kind partition-table
mk raw.bin --chip esp32 --kind raw --size 100
# damaged copies
cp esp32c2-app.bin sha-bad.bin && flip sha-bad.bin $(( $(stat -c %s sha-bad.bin) - 1 ))
cp esp32c3-app.bin checksum-bad.bin && flip checksum-bad.bin 100
cp pt.bin pt-md5-bad.bin && flip pt-md5-bad.bin $((0x60 + 16))
printf '\177ELF\002\001\001' > elf.bin; head -c 57 /dev/zero >> elf.bin

for f in esp32-app esp32s2-boot esp32s3-app esp32c2-app esp32c3-app esp32c6-app esp32h2-app \
         esp32p4-boot esp8266-v1 esp8266-v2 pt raw sha-bad checksum-bad pt-md5-bad elf; do
    for mode in text json; do
        args=()
        [ "$mode" = json ] && args=(--json)
        out="$f.$mode"
        { "$ESPFAB" image-info "${args[@]}" "$f.bin" 2>&1; echo "exit $?"; } > "$out"
        if [ "${UPDATE:-}" = 1 ]; then
            cp "$out" "$GOLDEN/$out"
            pass "$out written"
        elif diff -u "$GOLDEN/$out" "$out"; then
            pass "image-info $mode $f"
        else
            fail "image-info $mode $f differs from tests/image/golden/$out"
        fi
    done
done

# Errors name the file and what is wrong.
"$ESPFAB" image-info missing.bin > /dev/null 2> err.txt
rc=$?
[ $rc = 2 ] && grep -q "missing.bin" err.txt && pass "missing file: exit 2, named" ||
    fail "missing file: exit $rc, $(cat err.txt)"
"$ESPFAB" image-info a.bin b.bin > /dev/null 2>&1 && fail "two files accepted" || pass "two files refused"
finish

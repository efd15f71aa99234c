#!/usr/bin/env bash
# tests/nvs/cli.sh - `espfab nvs generate` writes the golden binaries (made by
# ESP-IDF's generator) from the CSVs, `espfab nvs dump` decodes them (and a
# flash dump at an offset), and bad input fails with exit 2 naming file:line
# and leaves no output file.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
require_tools ESPFAB
D="$TESTS_DIR/nvs/data" G="$TESTS_DIR/nvs/golden"
cd "$T"
die() { echo "FAIL: $*" >&2; exit 1; }

gen_ok() { # csv golden size [version]
    "$ESPFAB" nvs generate "$D/$1" out.bin "$3" --version "${4:-2}" >log 2>&1 || { cat log; die "generate $1"; }
    cmp out.bin "$G/$2" || die "$1 -> $2 differs from the golden"
}
gen_ok all_types.csv all_types.bin 0x6000
gen_ok all_types.csv all_types_v1.bin 0x6000 1
gen_ok big_blob.csv big_blob.bin 0x8000
gen_ok strings_v2.csv strings_v2.bin 0x5000
gen_ok strings_v1.csv strings_v1.bin 20480 1
gen_ok edge.csv edge.bin 0x6000
gen_ok small.csv small_ro.bin 0x2000
# default version is 2; relative CSV path from another folder still finds its files
mkdir -p sub && (cd sub && "$ESPFAB" nvs generate "$D/all_types.csv" x.bin 0x6000 >/dev/null) || die "default version"
cmp sub/x.bin "$G/all_types.bin" || die "default version differs"

# dump of a partition and of a flash dump at an offset
"$ESPFAB" nvs dump "$G/all_types.bin" >dump.txt || die "dump all_types"
grep -q 'storage         u8max           u8         255' dump.txt || die "u8max not in the dump"
grep -q 'calib           hex             blob_index 6 bytes in 1 chunk(s) from 0: 6 bytes deadbeef0011' dump.txt || die "hex blob"
grep -q 'storage         quoted          string     "a, b and \\"c\\""' dump.txt || die "quoted string"
{ head -c 65536 /dev/zero | tr '\0' '\377'; cat "$G/big_blob.bin"; head -c 4096 /dev/zero; } >flash.bin
"$ESPFAB" nvs dump flash.bin --offset 0x10000 --size 0x8000 >dump2.txt || die "dump at offset"
grep -q 'big             after           u32        12345' dump2.txt || die "dump at offset: u32"
grep -q 'bigfile         blob_index 10000 bytes in 3 chunk(s)' dump2.txt || die "dump at offset: blob"

# a damaged entry is named, exit 1
cp "$G/small_3page.bin" bad.bin
printf 'X' | dd of=bad.bin bs=1 seek=$((64 + 32 + 10)) conv=notrunc status=none
set +e
"$ESPFAB" nvs dump bad.bin >bad.txt; rc=$?
set -e
[ $rc = 1 ] || die "damaged dump exit $rc"
grep -q 'ERROR: entry CRC does not match' bad.txt || die "entry CRC error not named"

# errors: exit 2, file:line named, no output left behind
refuse() { # csv size regex
    set +e
    "$ESPFAB" nvs generate "$1" err.bin "$2" >log 2>&1; rc=$?
    set -e
    [ $rc = 2 ] || { cat log; die "$1: exit $rc"; }
    grep -q "$3" log || { cat log; die "$1: message lacks '$3'"; }
    [ ! -e err.bin ] || die "$1: output written on error"
}
refuse "$D/full.csv" 0x3000 'full.csv:254: key .k251.: the partition is full'
printf 'key,type,encoding,value\nns,namespace,,\nv,data,u8,300\n' >range.csv
refuse range.csv 0x3000 'range.csv:3: key .v.: 300 is out of range for u8'
printf 'key,type,encoding,value\nns,namespace,,\nv,file,binary,nothere.bin\n' >nofile.csv
refuse nofile.csv 0x3000 "nofile.csv:3: key 'v': cannot read"
refuse "$D/small.csv" 0x3001 'multiple of 4096'
echo "nvs cli: ok"

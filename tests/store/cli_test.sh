#!/usr/bin/env bash
# cli_test.sh ESPFAB FIXTURE MKIMAGE - `espfab db` and `espfab profile` end to end.
. "$(dirname "$0")/../lib.sh"
ESPFAB=$1 FIXTURE=$2 MKIMAGE=$3
expect() { # expect CODE DESCRIPTION -- command...
    want=$1; what=$2; shift 3
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" != "$want" ]; then
        fail "$what: exit $got, wanted $want"; cat "$T/out" "$T/err" >&2
    else
        pass "$what (exit $got)"
    fi
}
contains() { # contains FILE TEXT DESCRIPTION
    if ! grep -qF -- "$2" "$1"; then
        fail "$3: '$2' not in:"; cat "$1" >&2
    else
        pass "$3"
    fi
}

# --- db check / stats ---
expect 2 "db check without a database" -- "$ESPFAB" db check --db "$T/none.db"
contains "$T/err" "no database at $T/none.db" "missing db message"

"$FIXTURE" clean "$T/clean.db" || die "fixture failed"
expect 0 "db check clean" -- "$ESPFAB" db check --db "$T/clean.db"
contains "$T/out" "integrity    ok" "integrity line"
contains "$T/out" "2 in 1 runs: 1 pass, 1 fail, 0 interrupted, 0 open" "counts"

"$FIXTURE" crash "$T/crash.db" 2>/dev/null
expect 1 "db check after a crash (open attempts)" -- "$ESPFAB" db check --db "$T/crash.db"
contains "$T/out" "0 interrupted, 2 open" "open counts"
contains "$T/out" "slot S4" "open attempt listed"
contains "$T/out" "PROBLEMS" "verdict"
# db check does not recover: still open
expect 1 "db check twice" -- "$ESPFAB" db check --db "$T/crash.db"
contains "$T/out" "2 open" "still open"

# the next station open recovers; the boards are then interrupted
"$FIXTURE" clean "$T/crash.db"
expect 1 "db check with interrupted boards" -- "$ESPFAB" db check --db "$T/crash.db"
contains "$T/out" "2 interrupted, 0 open" "interrupted counts"
contains "$T/out" "interrupted boards not passed since" "interrupted listed"
contains "$T/out" "mac 24:6f:28:00:00:05" "interrupted mac listed"

"$FIXTURE" resolve "$T/crash.db"
expect 0 "db check once reflashed" -- "$ESPFAB" db check --db "$T/crash.db"
contains "$T/out" "ok" "verdict ok"

expect 0 "db stats" -- "$ESPFAB" db stats --db "$T/crash.db"
contains "$T/out" "interrupted  2" "stats interrupted"
contains "$T/out" "INTERRUPTED" "stats error names"
contains "$T/out" "MD5_MISMATCH" "stats error names 2"
expect 0 "db stats --lot" -- "$ESPFAB" db stats --db "$T/crash.db" --lot LOT-1
contains "$T/out" "in lot LOT-1" "lot filter"

cat > "$T/station.ini" <<INI
[station]
id = st
database = crash.db
INI
expect 0 "db check via station file" -- "$ESPFAB" db check --station "$T/station.ini"
expect 2 "db usage" -- "$ESPFAB" db frobnicate --db "$T/crash.db"

# a damaged file
head -c 4096 "$T/clean.db" > "$T/broken.db"; printf 'garbage%.0s' $(seq 1 600) >> "$T/broken.db"
expect 1 "db check of a damaged file" -- "$ESPFAB" db check --db "$T/broken.db"
contains "$T/err" "integrity check" "damaged message"

# --- profile check / import ---
mkdir -p "$T/p/build/bootloader" "$T/p/build/partition_table"
"$MKIMAGE" --chip esp32 --kind bootloader --size 20k --seed 1 -o "$T/p/build/bootloader/bootloader.bin"
"$MKIMAGE" --chip esp32 --kind partition-table --size 3072 --seed 1 -o "$T/p/build/partition_table/partition-table.bin"
"$MKIMAGE" --chip esp32 --kind app --size 100k --seed 1 -o "$T/p/build/p.bin"
cat > "$T/p/build/flasher_args.json" <<JSON
{"flash_settings": {"flash_mode": "dio", "flash_size": "4MB", "flash_freq": "40m"},
 "flash_files": {"0x1000": "bootloader/bootloader.bin", "0x8000": "partition_table/partition-table.bin", "0x10000": "p.bin"},
 "app": {"offset": "0x10000", "file": "p.bin"},
 "extra_esptool_args": {"after": "hard_reset", "before": "default_reset", "stub": true, "chip": "esp32"}}
JSON
expect 0 "profile import" -- "$ESPFAB" profile import "$T/p/build/flasher_args.json" -o "$T/p.ini"
contains "$T/out" "wrote $T/p.ini" "import wrote"
contains "$T/out" "ok: 3 regions" "import checked"
expect 2 "profile import refuses to overwrite" -- "$ESPFAB" profile import "$T/p/build/flasher_args.json" -o "$T/p.ini"
expect 0 "profile check" -- "$ESPFAB" profile check "$T/p.ini"
sum=$(sha256sum "$T/p/build/p.bin" | cut -d' ' -f1)
contains "$T/out" "0x00010000" "region offset"
contains "$T/out" "$sum" "region sha256"
contains "$T/out" "ESP32 image" "image kind"
sed 's/^offset = 0x10000/ofset = 0x10000/' "$T/p.ini" > "$T/bad.ini"
line=$(grep -n '^ofset' "$T/bad.ini" | cut -d: -f1)
expect 2 "profile check of a typo" -- "$ESPFAB" profile check "$T/bad.ini"
contains "$T/err" "$T/bad.ini:$line: unknown key 'ofset' in [image app] (did you mean 'offset'?)" "typo message"
expect 2 "profile usage" -- "$ESPFAB" profile
expect 0 "profile import to stdout" -- "$ESPFAB" profile import "$T/p/build/flasher_args.json"
contains "$T/out" "[image app]" "stdout import"

finish

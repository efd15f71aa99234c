# lib.sh - what the station tests share beyond tests/lib.sh (sourced by bash
# scripts): profiles and station files, and the whole-flash comparison.
# Needs: ESPFAB, ESPSIM, MKIMAGE (paths to the built binaries), sqlite3.
#
# Station tests stop at the first failure: they run with `set -e`, and fail
# here is die.  espsim runs without ptys and with a control fifo (sim_cmd).
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
require_tools ESPFAB ESPSIM MKIMAGE
require_cmd sqlite3 "sqlite3 (the CLI)"
set -e
fail() { die "$@"; }
SIM_OPTS=(--no-pty --control)
DB=$T/espfab.db

# make_profile CHIP -> writes $T/fw-CHIP.bin and $T/p-CHIP.ini
make_profile() {
    local chip=$1
    [ -f "$T/p-$chip.ini" ] && return 0
    "$MKIMAGE" --chip "$chip" --kind merged --size 192k --compressible 50 --seed 3 \
        -o "$T/fw-$chip.bin" >/dev/null
    cat > "$T/p-$chip.ini" <<EOT
[profile]
name = test-$chip
chip = $chip
baud = 921600
[image firmware]
file = fw-$chip.bin
offset = $(boot_offset "$chip")
EOT
}

# expect_flash IDX CHIP: board IDX's dump is the firmware at its offset, 0xFF elsewhere.
expect_flash() {
    local i=$1 chip=$2 off size exp
    off=$(( $(boot_offset "$chip") ))
    size=$(stat -c %s "$T/dumps/board-$i.bin")
    exp="$T/expect-$i.bin"
    head -c "$size" /dev/zero | tr '\0' '\377' > "$exp"
    dd if="$T/fw-$chip.bin" of="$exp" bs=4096 seek=$((off / 4096)) conv=notrunc status=none
    cmp -s "$exp" "$T/dumps/board-$i.bin" || fail "board $i ($chip): flash dump differs from the intended bytes"
}

# write_station NAME SLOT_SPECS...: SLOT_SPEC is "name|port|chip"
write_station() {
    local f=$T/$1; shift
    printf '[station]\nid = test-station\nline = L1\noperator = tester\nlot = LOT-7\ndatabase = %s\n\n' "$T/espfab.db" > "$f"
    for s in "$@"; do
        IFS='|' read -r name port chip <<< "$s"
        printf '[slot %s]\nport = %s\nprofile = p-%s.ini\n\n' "$name" "$port" "$chip" >> "$f"
    done
}


# station_all PREFIX: a profile per chip and $T/station.ini with one slot
# PREFIX<i> per simulated board i (its TCP port, its chip).
station_all() {
    local slots=() i
    for ((i = 0; i < NB; i++)); do
        make_profile "${CHIP[$i]}"
        slots+=("$1$i|${TCP[$i]}|${CHIP[$i]}")
    done
    write_station station.ini "${slots[@]}"
}

# run_station: `espfab run` on $T/station.ini, output in $T/run.out; sets rc
# to its exit status (the caller checks it).
run_station() {
    rc=0
    "$ESPFAB" run --station "$T/station.ini" --log text > "$T/run.out" 2>&1 || rc=$?
}

# lib.sh - shared helpers for the station tests (sourced by bash scripts).
# Needs: ESPFAB, ESPSIM, MKIMAGE (paths to the built binaries), sqlite3.
set -euo pipefail

T=$(mktemp -d /tmp/espfab-station-XXXXXX)
SIM_PID=""
cleanup() {
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
    exec 9>&- 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# start_sim BOARDS [extra espsim args...]: starts espsim with a control fifo on
# fd 9, waits for "espsim ready", fills arrays CHIP[i] MAC[i] TCP[i].
start_sim() {
    local boards=$1; shift
    mkfifo "$T/ctl"
    "$ESPSIM" --boards "$boards" --tcp-base 0 --no-pty --dump-dir "$T/dumps" --control "$@" \
        < "$T/ctl" > "$T/sim.out" 2> "$T/sim.err" &
    SIM_PID=$!
    exec 9> "$T/ctl"
    for _ in $(seq 100); do grep -q "espsim ready" "$T/sim.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "espsim ready" "$T/sim.out" || fail "espsim did not start: $(cat "$T/sim.err")"
    read_boards
}

# Re-reads the board lines (the newest line per board wins: plug prints again).
read_boards() {
    CHIP=(); MAC=(); TCP=()
    while read -r _ idx chip mac _ tcp; do
        CHIP[$idx]=${chip#chip=}; MAC[$idx]=${mac#mac=}; TCP[$idx]=tcp://${tcp#tcp=}
    done < <(grep '^board ' "$T/sim.out")
    NB=${#CHIP[@]}
}

sim_cmd() { echo "$*" >&9; }

# dump_sim: asks espsim to write every board's flash, waits for it.
dump_sim() {
    local before
    before=$(grep -c "espsim dumped" "$T/sim.out" || true)
    kill -USR1 "$SIM_PID"
    for _ in $(seq 100); do
        [ "$(grep -c "espsim dumped" "$T/sim.out" || true)" -gt "$before" ] && return 0
        sleep 0.1
    done
    fail "espsim did not dump"
}

# bootloader offset of a merged firmware for a chip
offset_of() { case $1 in esp32|esp32s2) echo 0x1000;; esp32p4) echo 0x2000;; *) echo 0x0;; esac; }

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
offset = $(offset_of "$chip")
EOT
}

# expect_flash IDX CHIP: board IDX's dump is the firmware at its offset, 0xFF elsewhere.
expect_flash() {
    local i=$1 chip=$2 off size exp
    off=$(( $(offset_of "$chip") ))
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

q() { sqlite3 -batch -noheader "$T/espfab.db" "$1"; }

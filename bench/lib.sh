# bench/lib.sh - shared helpers of the benchmark scripts (sourced by bash).
# Sets ROOT, BUILD (from --build), the tool paths, a work dir W, and
# provides: bench_parse (the options both scripts take), kv,
# start_sim/stop_sim, check_dump, fmt helpers.
# Every process a script starts is tracked and ended by its own pid on exit.
# The helpers it shares with the tests (track_pid, sim_wait_ready,
# dump_holds) come from tests/lib.sh, sourced without its work directory and
# trap: the bench keeps its own ($W, --keep) and its own die (exit 2).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TESTLIB_NO_INIT=1 . "$ROOT/tests/lib.sh"
BUILD=${BUILD:-$ROOT/build}
KEEP=0
# Settings both benchmarks take (bench_parse), with their defaults.
SIZE=1536k
OFFSET=0x10000
PACE=1
TOOLS="espfab esptooljs"
VERIFY=1

# bench_parse ARGS...: the command line, then bench_tools and bench_image.
# Options of one script alone go to its bench_extra_opt ARGS..., which sets
# NARGS (the words it used) and returns non-zero for an unknown option;
# --help prints the script's lines HELP_LINES (a sed range).
bench_parse() {
    while [ $# -gt 0 ]; do
        NARGS=1
        case $1 in
            --build) BUILD=$2; NARGS=2;;
            --size) SIZE=$2; NARGS=2;;
            --no-pace) PACE=0;;
            --tools) TOOLS=$2; NARGS=2;;
            --keep) KEEP=1;;
            --no-verify) VERIFY=0;;
            -h|--help) sed -n "${HELP_LINES}p" "$0"; exit 0;;
            *) bench_extra_opt "$@" || die "unknown argument $1 (see --help)";;
        esac
        shift "$NARGS"
    done
    bench_tools
    bench_image
}

# bench_image: IMG=$W/img.bin, an ESP32 app of SIZE, half compressible.
bench_image() {
    IMG=$W/img.bin
    "$MKIMAGE" --chip esp32 --kind app --size "$SIZE" --compressible 50 --seed 1 -o "$IMG" >/dev/null ||
        die "espfab-mkimage failed"
}

# bench_tools: resolve binaries after option parsing.
bench_tools() {
    ESPFAB=$BUILD/espfab
    ESPSIM=$BUILD/tools/espsim/espsim
    MKIMAGE=$BUILD/tools/mkimage/espfab-mkimage
    BRUN=$BUILD/bench/espfab-benchrun
    RELAY=$BUILD/bench/espfab-benchrelay
    FLOOR=$BUILD/bench/espfab-benchfloor
    PEER=$ROOT/bench/esptooljs_flash.mjs
    local b
    for b in "$ESPFAB" "$ESPSIM" "$MKIMAGE" "$BRUN" "$RELAY" "$FLOOR"; do
        [ -x "$b" ] || die "missing $b: build first (cmake --build $BUILD -j2) or give --build DIR"
    done
    command -v node >/dev/null || die "node is not installed (tools/setup.sh)"
    [ -f "$ROOT/tools/npm/node_modules/esptool-js/package.json" ] ||
        die "esptool-js is not installed in tools/npm: run tools/setup.sh"
    W=$(mktemp -d /tmp/espfab-bench-XXXXXX)
    # Real boards use no host CPU: when allowed (root), espsim runs at
    # nice -10 so that it is not starved by the tools it measures.
    SIM_NICE=""
    if nice -n -10 true 2>/dev/null && [ "$(nice -n -10 nice)" -lt "$(nice)" ]; then
        SIM_NICE="nice -n -10"
    fi
    echo "bench: espsim runs at ${SIM_NICE:-the same priority as the tools (nice -10 not permitted)}" >&2
}

die() { echo "bench: $*" >&2; exit 2; }

bench_cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    if [ "$KEEP" = 1 ]; then echo "bench: work files kept in $W" >&2
    elif [ -n "${W:-}" ]; then rm -rf "$W"; fi
}
trap bench_cleanup EXIT

# kv FILE KEY [LINE]: value of KEY= in line LINE (default: the last line).
kv() {
    local line
    if [ -n "${3:-}" ]; then line=$(sed -n "${3}p" "$1"); else line=$(tail -n 1 "$1"); fi
    sed -n "s/^\(.* \)\{0,1\}$2=\([^ ]*\).*/\2/p" <<< "$line"
}

# calc EXPR: floating point arithmetic (awk), 3 decimals unless EXPR formats.
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

# start_sim TAG NBOARDS PACE(0|1): espsim under benchrun (its own CPU is
# accounted in $W/sim-TAG.cost); fills SIM_PORTS[] with TCP ports.
start_sim() {
    local tag=$1 n=$2 pace=$3 pa=--no-pace
    [ "$pace" = 1 ] && pa=--pace
    mkdir -p "$W/dump-$tag"
    "$BRUN" --tag "espsim-$tag" --out "$W/sim-$tag.cost" -- $SIM_NICE \
        "$ESPSIM" --boards "esp32:$n" --tcp-base 0 --no-pty $pa --dump-dir "$W/dump-$tag" \
        > "$W/sim-$tag.out" 2> "$W/sim-$tag.err" &
    SIM_PID=$!
    track_pid "$SIM_PID"
    sim_wait_ready "$W/sim-$tag.out" "$SIM_PID" "$W/sim-$tag.err"
    mapfile -t SIM_PORTS < <(sed -n 's/^board .* tcp=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/sim-$tag.out")
    [ "${#SIM_PORTS[@]}" = "$n" ] || die "espsim printed ${#SIM_PORTS[@]} TCP ports, expected $n"
}

# stop_sim TAG: SIGTERM through benchrun (espsim dumps every board's flash
# and exits); waits.  Sets SIM_CPU (s) from the cost line.
stop_sim() {
    local tag=$1
    kill -TERM "$SIM_PID" 2>/dev/null
    wait "$SIM_PID" 2>/dev/null
    untrack_pid "$SIM_PID"
    SIM_CPU=$(calc "$(kv "$W/sim-$tag.cost" user_s) + $(kv "$W/sim-$tag.cost" sys_s)")
}

# check_dump TAG BOARD IMAGE OFFSET: prints nothing and returns 0 when the
# board's flash holds IMAGE at OFFSET; otherwise prints the reason.
check_dump() {
    local d=$W/dump-$1/board-$2.bin
    [ -f "$d" ] || { echo "espsim wrote no flash dump for board $2"; return 1; }
    dump_holds "$d" "$3" "$4" ||
        { echo "board $2: flash at $4 differs from $(basename "$3") (the write did not land)"; return 1; }
}

mib() { calc "$1 / 1024"; }

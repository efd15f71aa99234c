# common.sh - shared helpers for the tests/flash end-to-end scripts (sourced).
#
# Environment (set by tests/flash/CMakeLists.txt): ESPFAB, ESPSIM, MKIMAGE,
# FLASHEXP = paths of the built programs.  Every script gets a private
# $WORK directory and kills the simulator it started on exit.
set -u
set -o pipefail

for v in ESPFAB ESPSIM MKIMAGE FLASHEXP; do
    if [ -z "${!v:-}" ] || [ ! -x "${!v}" ]; then
        echo "FAIL: \$$v is not set to a built program (run through ctest)" >&2
        exit 1
    fi
done

WORK=$(mktemp -d /tmp/espfab-flash-test.XXXXXX)
SIM_PID=""
FAILS=0
PASSES=0

cleanup() {
    if [ -n "$SIM_PID" ]; then
        kill "$SIM_PID" 2>/dev/null
        wait "$SIM_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

pass() { PASSES=$((PASSES + 1)); echo "ok   $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL $*" >&2; }

finish() {
    echo "$PASSES passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
    exit $?
}

# start_sim ARGS... : starts espsim with a dump dir and a verbose trace,
# waits for "espsim ready" and fills PTY[N], TCP[N], MAC[N], CHIP[N].
declare -a PTY TCP MAC CHIP
start_sim() {
    mkdir -p "$WORK/dump"
    "$ESPSIM" --dump-dir "$WORK/dump" --tcp-base 0 --verbose "$@" >"$WORK/sim.out" 2>"$WORK/sim.trace" &
    SIM_PID=$!
    local i
    for i in $(seq 1 200); do
        grep -q '^espsim ready' "$WORK/sim.out" 2>/dev/null && break
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            echo "FAIL: espsim exited: $(cat "$WORK/sim.trace")" >&2
            SIM_PID=""
            exit 1
        fi
        sleep 0.05
    done
    if ! grep -q '^espsim ready' "$WORK/sim.out"; then
        echo "FAIL: espsim never printed 'espsim ready'" >&2
        exit 1
    fi
    local line n
    while read -r line; do
        case "$line" in
        board\ *)
            n=$(echo "$line" | awk '{print $2}')
            CHIP[$n]=$(echo "$line" | sed -n 's/.* chip=\([^ ]*\).*/\1/p')
            MAC[$n]=$(echo "$line" | sed -n 's/.* mac=\([^ ]*\).*/\1/p')
            PTY[$n]=$(echo "$line" | sed -n 's/.* pty=\([^ ]*\).*/\1/p')
            TCP[$n]=$(echo "$line" | sed -n 's/.* tcp=\([^ ]*\).*/\1/p')
            ;;
        esac
    done <"$WORK/sim.out"
}

# dump_flash : SIGUSR1, wait for one more "espsim dumped" line.
dump_flash() {
    local before after i
    before=$(grep -c '^espsim dumped' "$WORK/sim.out")
    kill -USR1 "$SIM_PID"
    for i in $(seq 1 400); do
        after=$(grep -c '^espsim dumped' "$WORK/sim.out")
        [ "$after" -gt "$before" ] && return 0
        sleep 0.05
    done
    echo "FAIL: espsim did not dump its flash" >&2
    exit 1
}

# trace_ops N : the opcodes board N received, one per line ("rom 0x02").
trace_ops() {
    sed -n "s/^espsim: board $1 \\(rom\\|stub\\) op=\\(0x[0-9a-f]*\\).*/\\1 \\2/p" "$WORK/sim.trace"
}

# flash_cmds N : how many FLASH_BEGIN (0x02) / FLASH_DEFL_BEGIN (0x10) board N got.
flash_cmds() {
    trace_ops "$1" | grep -c -E ' 0x(02|10)$'
}

# expect_status WANT NAME CMD... : runs CMD, output in $WORK/out, checks the exit status.
expect_status() {
    local want=$1 name=$2
    shift 2
    "$@" >"$WORK/out" 2>&1
    local got=$?
    if [ "$got" -eq "$want" ]; then
        pass "$name (exit $got)"
        return 0
    fi
    fail "$name: exit $got, expected $want; output:"
    sed 's/^/    /' "$WORK/out" >&2
    return 1
}

# expect_out NAME TEXT : $WORK/out contains TEXT.
expect_out() {
    if grep -qF -- "$2" "$WORK/out"; then
        pass "$1: output has '$2'"
    else
        fail "$1: output lacks '$2'; output:"
        sed 's/^/    /' "$WORK/out" >&2
    fi
}

# expect_same_file NAME GOT WANT : byte-identical, else report the first difference.
expect_same_file() {
    if cmp -s "$2" "$3"; then
        pass "$1"
    else
        fail "$1: $(cmp "$2" "$3" 2>&1 | head -1)"
    fi
}

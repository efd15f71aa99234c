# tests/lib.sh - the one shell library of espfab's script tests (bash).
#
# Sourced by every test script (directly, or through the few helpers of its
# own area: tests/diag/lib.sh, tests/station/lib.sh) and by bench/lib.sh.
# Sourcing it sets `-u` and `pipefail`, gives the script a private work
# directory $T (mktemp, removed on exit) and an EXIT trap that ends every
# process the script started through this library (espsim, track_pid) and
# runs the at_exit hooks.  bench/lib.sh sets TESTLIB_NO_INIT=1 first and only
# uses the functions.
#
# Results: pass/fail print "ok   ..." / "FAIL ..." and count; finish prints
# the counts and exits 0 only with no failure and at least one pass.  die
# prints and exits 1 at once.
#
# Simulator: start_sim BOARDS [espsim args...] starts tools/espsim with every
# board on a loopback TCP port (plus a pty unless --no-pty), flash dumps in
# $T/dumps, its stdout in $T/sim.out and its stderr (the --verbose trace) in
# $T/sim.trace, waits for "espsim ready" and fills CHIP[N] MAC[N] TCP[N]
# (tcp://host:port) PTY[N] and NB.  SIM_OPTS (an array, set before calling)
# adds options to every start: espsim's own, plus two of this library:
# --links (stable pty links $T/links/board-N, which PTY[N] then names) and
# --control (a control fifo on fd 9, see sim_cmd).
set -u
set -o pipefail

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ---- environment ----

# require_tools VAR...: each $VAR must name a built program (ctest sets them).
require_tools() {
    local v
    for v in "$@"; do
        if [ -z "${!v:-}" ] || [ ! -x "${!v}" ]; then
            echo "FAIL: \$$v is not set to a built program (run through ctest)" >&2
            exit 1
        fi
    done
}

# require_cmd CMD WHAT: CMD must be installed.
require_cmd() {
    command -v "$1" >/dev/null || { echo "FAIL: $2 is not installed" >&2; exit 1; }
}

# ---- results ----

PASSES=0
FAILS=0
pass() { PASSES=$((PASSES + 1)); echo "ok   $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL $*" >&2; }
die() { echo "FAIL $*" >&2; exit 1; }

finish() {
    echo "$PASSES passed, $FAILS failed"
    [ "$FAILS" -eq 0 ] && [ "$PASSES" -gt 0 ]
    exit $?
}

# ---- processes and cleanup ----

PIDS=()
AT_EXIT=()
SIM_PID=""
SIM_FIFO=0

# track_pid PID: end PID (SIGTERM, then wait) on exit.
track_pid() { PIDS+=("$1"); }
# untrack_pid PID: it was ended by the script itself.
untrack_pid() {
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}
# at_exit 'COMMAND': run COMMAND (eval) on exit, before the processes end.
at_exit() { AT_EXIT+=("$1"); }

testlib_cleanup() {
    local i p
    # (|| true everywhere: a script may run with set -e)
    for ((i = ${#AT_EXIT[@]} - 1; i >= 0; i--)); do eval "${AT_EXIT[$i]}" || true; done
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ "$SIM_FIFO" = 1 ]; then exec 9>&- 2>/dev/null || true; fi
    [ -n "${T:-}" ] && rm -rf "$T"
    return 0
}

testlib_init() {
    T=$(mktemp -d "/tmp/espfab-$(basename "$0" .sh).XXXXXX")
    chmod 755 "$T" # tests may run espfab as another user (setpriv)
    trap testlib_cleanup EXIT
}

# ---- the simulator ----

# sim_wait_ready OUT PID ERR: waits (10 s) for "espsim ready" in OUT; dies
# with ERR's text if espsim PID exits first or never gets ready.
sim_wait_ready() {
    local out=$1 pid=$2 err=$3 i
    for i in $(seq 1 200); do
        grep -q '^espsim ready' "$out" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || die "espsim exited: $(cat "$err")"
        sleep 0.05
    done
    grep -q '^espsim ready' "$out" || die "espsim never printed 'espsim ready': $(cat "$err")"
}

SIM_OPTS=()
declare -a CHIP MAC TCP PTY
NB=0
start_sim() {
    local boards=$1 opt args=()
    shift
    mkdir -p "$T/dumps"
    for opt in "${SIM_OPTS[@]}"; do
        case "$opt" in
        --links) mkdir -p "$T/links"; args+=(--links-dir "$T/links") ;;
        --control) rm -f "$T/ctl"; mkfifo "$T/ctl"; args+=(--control) ;;
        *) args+=("$opt") ;;
        esac
    done
    if [ -p "$T/ctl" ]; then
        "$ESPSIM" --boards "$boards" --tcp-base 0 --dump-dir "$T/dumps" "${args[@]}" "$@" \
            <"$T/ctl" >"$T/sim.out" 2>"$T/sim.trace" &
        SIM_PID=$!
        exec 9>"$T/ctl"
        SIM_FIFO=1
    else
        "$ESPSIM" --boards "$boards" --tcp-base 0 --dump-dir "$T/dumps" "${args[@]}" "$@" \
            >"$T/sim.out" 2>"$T/sim.trace" &
        SIM_PID=$!
    fi
    track_pid "$SIM_PID"
    sim_wait_ready "$T/sim.out" "$SIM_PID" "$T/sim.trace"
    read_boards
}

# read_boards: (re)reads espsim's board lines; the newest line of a board
# wins (espsim prints it again when a board is plugged back).
read_boards() {
    CHIP=(); MAC=(); TCP=(); PTY=()
    local line n pty
    while read -r line; do
        n=$(awk '{print $2}' <<<"$line")
        CHIP[$n]=$(sed -n 's/.* chip=\([^ ]*\).*/\1/p' <<<"$line")
        MAC[$n]=$(sed -n 's/.* mac=\([^ ]*\).*/\1/p' <<<"$line")
        TCP[$n]=tcp://$(sed -n 's/.* tcp=\([^ ]*\).*/\1/p' <<<"$line")
        pty=$(sed -n 's/.* pty=\([^ ]*\).*/\1/p' <<<"$line")
        if [ -e "$T/links/board-$n" ]; then pty=$T/links/board-$n; fi
        PTY[$n]=$pty
    done < <(grep '^board ' "$T/sim.out")
    NB=${#CHIP[@]}
}

# sim_cmd WORDS...: one line on espsim's control fifo (SIM_OPTS --control).
sim_cmd() { echo "$*" >&9; }

# dump_sim: SIGUSR1; waits (20 s) for one more "espsim dumped" line.
dump_sim() {
    local before i
    before=$(grep -c '^espsim dumped' "$T/sim.out" || true)
    kill -USR1 "$SIM_PID"
    for i in $(seq 1 400); do
        [ "$(grep -c '^espsim dumped' "$T/sim.out" || true)" -gt "$before" ] && return 0
        sleep 0.05
    done
    die "espsim did not dump its flash"
}

# stop_sim: ends espsim, which writes every board's flash to $T/dumps.
stop_sim() {
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
    untrack_pid "$SIM_PID"
    SIM_PID=""
}

# trace_ops N: the opcodes board N received, one per line ("rom 0x02").
trace_ops() {
    sed -n "s/^espsim: board $1 \\(rom\\|stub\\) op=\\(0x[0-9a-f]*\\).*/\\1 \\2/p" "$T/sim.trace"
}

# flash_cmds N: how many FLASH_BEGIN (0x02) / FLASH_DEFL_BEGIN (0x10) board N got.
flash_cmds() { trace_ops "$1" | grep -c -E ' 0x(02|10)$'; }

# dump_holds DUMP FILE OFFSET: the flash dump holds FILE at OFFSET.
dump_holds() {
    local size
    [ -f "$1" ] || return 1
    size=$(stat -c %s "$2")
    cmp -s -n "$size" "$2" <(tail -c +$(($3 + 1)) "$1")
}

# boot_offset CHIP: the chip's bootloader offset (where a merged image goes).
boot_offset() { case $1 in esp32 | esp32s2) echo 0x1000 ;; esp32p4) echo 0x2000 ;; *) echo 0x0 ;; esac; }

# ---- checks ----

# expect_status WANT NAME CMD...: runs CMD (stdout and stderr in $T/out) and
# checks its exit status.
expect_status() {
    local want=$1 name=$2
    shift 2
    "$@" >"$T/out" 2>&1
    local got=$?
    if [ "$got" -eq "$want" ]; then
        pass "$name (exit $got)"
        return 0
    fi
    fail "$name: exit $got, expected $want; output:"
    sed 's/^/    /' "$T/out" >&2
    return 1
}

# expect_out NAME TEXT: $T/out contains TEXT.
expect_out() {
    if grep -qF -- "$2" "$T/out"; then
        pass "$1: output has '$2'"
    else
        fail "$1: output lacks '$2'; output:"
        sed 's/^/    /' "$T/out" >&2
    fi
}

# expect_same_file NAME GOT WANT: byte-identical, else report the first difference.
expect_same_file() {
    if cmp -s "$2" "$3"; then
        pass "$1"
    else
        fail "$1: $(cmp "$2" "$3" 2>&1 | head -1)"
    fi
}

# q SQL: one query on $DB, rows as a|b|c.
DB=""
q() { sqlite3 -batch -noheader -separator '|' "$DB" "$1"; }

if [ "${TESTLIB_NO_INIT:-0}" != 1 ]; then
    testlib_init
fi

# lib.sh - shared helpers for the diagnosis tests (sourced by tests/diag/*.sh).
#
# Each script injects one fault into one simulated board and checks that
# espfab names it: `espfab flash` on the faulted board alone (exit status,
# the one-line FAIL message with the error's own message and hint plus the
# key words of the detail), then `espfab run` over the faulted board and good
# boards (only the faulted one fails; its database row carries the code, the
# name, the ROM/stub error byte and the same message).
#
# Environment (tests/diag/CMakeLists.txt): ESPFAB, ESPSIM, MKIMAGE.  The
# work directory, pass/fail/finish, start_sim/stop_sim, boot_offset and q
# come from tests/lib.sh.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
require_tools ESPFAB ESPSIM MKIMAGE
require_cmd sqlite3 "sqlite3 (the CLI)"

# Every board also on a pty with a stable link ($T/links/board-N = PTY[N]);
# espsim's --verbose trace in $T/sim.trace.
SIM_OPTS=(--links --verbose)

# release_holder: stops the process a test started to hold a port (and its child).
HOLD_PID=""
release_holder() {
    [ -n "$HOLD_PID" ] || return 0
    local kids
    kids=$(ps -o pid= --ppid "$HOLD_PID" 2>/dev/null)
    kill "$HOLD_PID" $kids 2>/dev/null
    wait "$HOLD_PID" 2>/dev/null
    HOLD_PID=""
}
at_exit release_holder

# expect_dump N OFFSET FILE WHAT: board N's flash (after stop_sim) holds FILE
# at OFFSET.
expect_dump() {
    local n=$1 off=$2 file=$3 what=$4
    if dump_holds "$T/dumps/board-$n.bin" "$file" "$off"; then
        pass "board $n's flash holds $what at $(printf 0x%x "$off")"
    else
        fail "board $n's flash differs from $what at $(printf 0x%x "$off")"
    fi
}

# image CHIP [mkimage args...]: writes $T/fw-CHIP.bin (a merged image at the
# chip's bootloader offset, half compressible) once; prints its path.
image() {
    local chip=$1
    shift
    local f=$T/fw-$chip.bin
    if [ ! -f "$f" ]; then
        "$MKIMAGE" --chip "$chip" --kind merged --size 96k --compressible 50 --seed 7 "$@" -o "$f" \
            >/dev/null || die "mkimage --chip $chip failed"
    fi
    echo "$f"
}

# profile NAME CHIP [key=value...]: writes $T/NAME.ini flashing image CHIP.
profile() {
    local name=$1 chip=$2
    shift 2
    local img
    img=$(image "$chip")
    {
        echo "[profile]"
        echo "name = diag-$name"
        echo "chip = $chip"
        local kv
        case " $* " in *" baud="*) ;; *) echo "baud = 460800" ;; esac
        for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
        echo "[image firmware]"
        echo "file = $img"
        echo "offset = $(boot_offset "$chip")"
    } >"$T/$name.ini"
}

# err_text NAME: the table's "message -> hint" for an error name.
err_msg() { "$ESPFAB" errors | awk -v n="$1" '$2 == n { sub(/^ *[0-9]+ +[A-Z0-9_]+ +/, ""); print }' | sed 's/ -> .*//'; }
err_hint() { "$ESPFAB" errors | awk -v n="$1" '$2 == n { sub(/^.* -> /, ""); print }'; }
err_num() { "$ESPFAB" errors | awk -v n="$1" '$2 == n { print $1 }'; }

# flash_expect TEST STATUS ERRNAME "word|word..." -- ESPFAB-FLASH-ARGS...
# Runs `espfab flash`, checks its exit status and that its FAIL line holds
# ERRNAME's message and hint and every |-separated key word.
# The FAIL line is left in $LINE, the whole output in $T/flash.out.
LINE=""
AS=()   # a command prefix to run espfab as another user (setpriv ...)
flash_expect() {
    local name=$1 want=$2 ename=$3 words=$4
    shift 5
    "${AS[@]}" "$ESPFAB" flash "$@" >"$T/flash.raw" 2>&1
    local got=$?
    tr '\r' '\n' <"$T/flash.raw" >"$T/flash.out"
    LINE=$(grep -E '^espfab flash: (FAIL|INTERRUPTED)' "$T/flash.out" | tail -1)
    if [ "$got" -ne "$want" ]; then
        fail "$name: espfab flash exit $got, expected $want"
        sed 's/^/    /' "$T/flash.out" | tail -20 >&2
        return 1
    fi
    check_line "$name (flash)" "$LINE" "$ename" "$words"
}

# check_line TEST LINE ERRNAME "w1|w2": LINE has the message, hint and words.
check_line() {
    local name=$1 line=$2 ename=$3 words=$4 ok=1 w msg hint
    msg=$(err_msg "$ename")
    hint=$(err_hint "$ename")
    [ -n "$msg" ] || { fail "$name: $ename is not in \`espfab errors\`"; return 1; }
    if [ -z "$line" ]; then
        fail "$name: no FAIL line; output:"
        sed 's/^/    /' "$T/flash.out" | tail -20 >&2
        return 1
    fi
    case "$line" in *"$msg"*) ;; *) ok=0; fail "$name: line lacks the $ename message '$msg': $line" ;; esac
    case "$line" in *"-> $hint"*) ;; *) ok=0; fail "$name: line lacks the $ename hint: $line" ;; esac
    local IFS='|'
    for w in $words; do
        [ -z "$w" ] && continue
        case "$line" in *"$w"*) ;; *) ok=0; fail "$name: line lacks '$w': $line" ;; esac
    done
    [ "$ok" = 1 ] && pass "$name: $ename, $line"
    [ "$ok" = 1 ]
}

# run_boards TEST PROFILE PORT...: `espfab run --batch` over the ports with a
# fresh database; the JSON lines go to $T/run.out, the exit status to RUN_RC.
RUN_RC=0
run_boards() {
    local name=$1 prof=$2
    shift 2
    local ports
    ports=$(IFS=,; echo "$*")
    DB=$T/$name.db
    rm -f "$DB"
    "$ESPFAB" run --profile "$T/$prof.ini" --ports "$ports" --batch --db "$DB" --log json \
        >"$T/run.out" 2>"$T/run.err"
    RUN_RC=$?
}

# expect_run_pass PORT: the attempt on PORT passed.
expect_run_pass() {
    local o
    o=$(q "select outcome from attempts where port='$1' order by id desc limit 1")
    if [ "$o" = pass ]; then
        pass "run: $1 passed"
    else
        fail "run: $1 should pass, outcome '$o': $(q "select message from attempts where port='$1'")"
    fi
}

# expect_run_fail TEST PORT ERRNAME "words" [ROM_ERROR]: the attempt on PORT
# failed with ERRNAME (number and name in the row and the JSON line), the row's
# message holds the message/hint/words, and rom_error is ROM_ERROR ("" = NULL).
expect_run_fail() {
    local name=$1 port=$2 ename=$3 words=$4 rom=${5-}
    local row num
    num=$(err_num "$ename")
    row=$(q "select outcome, error_code, error_name, ifnull(rom_error,''), message from attempts where port='$port' order by id desc limit 1")
    IFS='|' read -r o code en re msg <<<"$row"
    if [ "$o" != fail ] || [ "$code" != "$num" ] || [ "$en" != "$ename" ]; then
        fail "$name (run): $port row is '$o $code $en', expected 'fail $num $ename': $msg"
        return 1
    fi
    if [ "${5+set}" = set ] && [ "$re" != "$rom" ]; then
        fail "$name (run): rom_error is '$re', expected '$rom'"
        return 1
    fi
    check_line "$name (database row)" "$msg" "$ename" "$words" || return 1
    # the JSON board event carries the same code and message
    local jcode
    jcode=$(grep '"event":"board"' "$T/run.out" | grep -F "\"port\":\"$port\"" | tail -1 |
        sed -n 's/.*"error_code":\([0-9]*\).*/\1/p')
    if [ "$jcode" != "$num" ]; then
        fail "$name (run): JSON board line for $port has error_code '$jcode', expected $num"
        return 1
    fi
    pass "$name (run): row and JSON line carry $num $ename"
}

# expect_run_rc N: espfab run exited N.
expect_run_rc() {
    if [ "$RUN_RC" -eq "$1" ]; then
        pass "run exit status $RUN_RC"
    else
        fail "run exit status $RUN_RC, expected $1; output:"
        tail -20 "$T/run.out" "$T/run.err" | sed 's/^/    /' >&2
    fi
}

# expect_col PORT COLUMN VALUE: the newest attempt row on PORT has COLUMN = VALUE.
expect_col() {
    local got
    got=$(q "select ifnull($2, 'NULL') from attempts where port='$1' order by id desc limit 1")
    if [ "$got" = "$3" ]; then
        pass "run: $1 $2 = $3"
    else
        fail "run: $1 $2 is '$got', expected '$3'"
    fi
}

#!/usr/bin/env bash
# host_ports.sh - faults on the host side, end to end through espfab flash /
# espfab run: the port does not exist (and which ones do), no USB serial
# device at all (driver / charge-only cable), permission denied (the group to
# join and the usermod command), the port is busy (the process holding it).
. "$(dirname "$0")/lib.sh"
start_sim esp32:3
profile p esp32
fw=$(image esp32)

# A port that does not exist (the USB serial ports that do are listed; this
# machine has none).
flash_expect "port does not exist" 1 PORT_NOT_FOUND "$T/links/board-7|does not exist|errno 2" \
    -- --port "$T/links/board-7" 0x1000 "$fw"

# A USB serial name on a machine that has none at all.
if ls /dev/ttyUSB* /dev/ttyACM* >/dev/null 2>&1; then
    flash_expect "USB port missing" 1 PORT_NOT_FOUND "/dev/ttyUSB97|does not exist" \
        -- --port /dev/ttyUSB97 0x1000 "$fw"
else
    flash_expect "no USB serial device at all" 1 PORT_NONE_PRESENT "/dev/ttyUSB97|no USB serial port|charge-only|driver" \
        -- --port /dev/ttyUSB97 0x1000 "$fw"
fi

# Permission denied: a user outside the port's group.
pts=$(readlink -f "${PTY[0]}")
grp=$(stat -c %G "$pts")
chmod 660 "$pts"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    flash_expect "permission denied" 1 PORT_PERMISSION "${PTY[0]}|group $grp|sudo usermod -aG $grp \$USER|log in again|errno 13" \
        -- --port "${PTY[0]}" 0x1000 "$fw"
    AS=()
else
    fail "permission denied: needs root and setpriv to run espfab as nobody"
fi

# Busy: another program holds the port (flock(1) here, like a serial monitor).
flock "${PTY[1]}" sleep 60 </dev/null >/dev/null 2>&1 &
HOLD_PID=$!
for _ in $(seq 50); do
    [ -n "$(ps -o pid= --ppid "$HOLD_PID")" ] && break
    sleep 0.05
done
flash_expect "port busy" 1 PORT_BUSY "${PTY[1]}|held by|flock (pid $HOLD_PID)" \
    -- --port "${PTY[1]}" 0x1000 "$fw"
# (issue 16: the descriptor espfab has just opened is not a holder to name)
case "$LINE" in
*"espfab (pid"*) fail "port busy: espfab names itself among the holders: $LINE" ;;
*) pass "port busy: espfab does not name itself" ;;
esac

# In a run: the busy port fails with its cause, the good board passes; a
# port that does not exist is an empty jig position (noted, no attempt).
run_boards host p "${TCP[2]}" "$T/links/board-7" "${PTY[1]}"
expect_run_rc 1
expect_run_pass "${TCP[2]}"
expect_run_fail "port busy" "${PTY[1]}" PORT_BUSY "held by|flock" ""
expect_col "${PTY[1]}" sys_errno 16
n=$(q "select count(*) from attempts where port='$T/links/board-7'")
[ "$n" = 0 ] && pass "run: the missing port has no attempt row" || fail "run: the missing port has $n attempt rows"
grep -F "no board at $T/links/board-7" "$T/run.out" | grep -q '"event":"note"' &&
    pass "run: the missing port is noted as an empty position" ||
    fail "run: no note for the missing port: $(grep -F board-7 "$T/run.out" | head -3)"
release_holder
finish

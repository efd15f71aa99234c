#!/usr/bin/env bash
# Issue 16 item 6: SIGHUP (the SSH session closed), SIGXFSZ and SIGPIPE (the
# log reader died) never kill the station mid-write.  SIGHUP and SIGXFSZ stop
# it like SIGTERM (take no new boards, let in-flight boards finish); SIGPIPE
# is ignored.  Every attempt row is closed and the exit status is SIGTERM's.
. "$(dirname "$0")/lib.sh"
start_sim esp32:8 --fault '*:slow-flash=6'
make_profile esp32
running() { q "select count(*) from attempts where outcome='running' and slot in ($1)" 2>/dev/null || echo 0; }

# one_signal SIG N: slots S<N>a S<N>b on boards N and N+1, SIG mid-write
one_signal() {
    local sig=$1 n=$2 a=S$2a b=S$2b pid rc
    write_station "st-$sig.ini" "$a|${TCP[$n]}|esp32" "$b|${TCP[$((n + 1))]}|esp32"
    if [ "$sig" = PIPE ]; then
        # the reader of the log dies after its first line
        ( "$ESPFAB" run --station "$T/st-$sig.ini" --log text 2> "$T/run-$sig.err"; echo $? > "$T/rc-$sig" ) | head -n 1 > /dev/null &
        pid=$!
    else
        "$ESPFAB" run --station "$T/st-$sig.ini" --log text > "$T/run-$sig.out" 2>&1 &
        pid=$!
    fi
    for _ in $(seq 100); do [ "$(running "'$a','$b'")" = 2 ] && break; sleep 0.1; done
    [ "$(running "'$a','$b'")" = 2 ] || fail "SIG$sig: the boards never started"
    sleep 0.5
    if [ "$sig" != PIPE ]; then
        kill -"$sig" $pid
        set +e; wait $pid; rc=$?; set -e
    else
        set +e; wait $pid; set -e
        for _ in $(seq 200); do [ -s "$T/rc-$sig" ] && break; sleep 0.1; done
        rc=$(cat "$T/rc-$sig" 2>/dev/null || echo none)
    fi
    [ "$rc" = 0 ] || { cat "$T/run-$sig".* 2>/dev/null; fail "SIG$sig: exit status $rc, expected 0 as for a drained SIGTERM"; }
    [ "$(q "select count(*) from attempts where outcome='running'")" = 0 ] || fail "SIG$sig: an attempt was left running"
    [ "$(q "select count(*) from attempts where outcome='pass' and slot in ('$a','$b')")" = 2 ] ||
        fail "SIG$sig: the in-flight boards should finish and be recorded"
    pass "SIG$sig mid-write: in-flight boards finished, every row closed, exit 0"
}

one_signal TERM 0    # the reference behaviour
one_signal HUP 2
one_signal XFSZ 4
one_signal PIPE 6
grep -q "taking no new boards" "$T/run-HUP.out" || fail "SIGHUP: no drain note"
finish

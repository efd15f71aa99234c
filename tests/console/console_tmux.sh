#!/usr/bin/env bash
# console_tmux.sh - `espfab run` with the console inside tmux against 8 espsim
# boards (2 faulted): the screen shows the slots, PASS/FAIL and the yield;
# q / exit restores the terminal.  Needs ESPFAB ESPSIM MKIMAGE, tmux.
. "$(dirname "$0")/../station/lib.sh"
SES=espfab-console-$$
at_exit 'tmux kill-session -t $SES 2>/dev/null'
start_sim esp32:4,esp32s3:4 --fault 1:unplug=60000 --fault 5:silent --fault 7:slow-flash=4
slots=()
for i in $(seq 0 7); do make_profile "${CHIP[$i]}"; slots+=("J$i|${TCP[$i]}|${CHIP[$i]}"); done
write_station station.ini "${slots[@]}"
tmux new-session -d -s $SES -x 80 -y 24 \
  "env ESPFAB_CONSOLE_HOLD=1 ESPFAB_CONSOLE_REFRESH_MS=50 LANG=C '$ESPFAB' run --station '$T/station.ini' 2>'$T/err'; echo EXIT=\$? > '$T/rc'; sleep 30"
shot() { tmux capture-pane -p -t $SES > "$T/screen.txt"; }
# progress moves: the slow board's percentage changes between two screens
pcts=""
for _ in $(seq 300); do
    shot
    p=$(grep -o '\] *[0-9]\{1,3\}%' "$T/screen.txt" | tr -d '] ' | grep -v '^100%' | grep -v '^0%' | head -1 || true)
    [ -n "$p" ] && pcts="$pcts $p"
    grep -q "FINISHED" "$T/screen.txt" && break
    sleep 0.1
done
[ "$(echo $pcts | tr ' ' '\n' | sort -u | wc -l)" -ge 2 ] || fail "progress did not move on screen (saw:$pcts)"
cat "$T/screen.txt"
grep -q FINISHED "$T/screen.txt" || fail "station did not finish on screen"
for i in $(seq 0 7); do grep -q "J$i" "$T/screen.txt" || fail "slot J$i not on screen"; done
grep -q "yield 75.0%" "$T/screen.txt" || fail "yield"
[ "$(grep -o 'P A S S' "$T/screen.txt" | wc -l)" = 6 ] || fail "6 PASS banners"
[ "$(grep -o 'F A I L' "$T/screen.txt" | wc -l)" = 2 ] || fail "2 FAIL banners"
awk 'length($0) > 80 { bad=1 } END { exit bad }' "$T/screen.txt" || fail "line wider than 80"
grep -qi "no serial data" "$T/screen.txt" || fail "the silent board's reason is not on screen"
# resize to 60x20: redrawn for the new size
tmux resize-window -t $SES -x 60 -y 20 2>/dev/null || tmux resize-pane -t $SES -x 60 -y 20
sleep 0.5; shot; cat "$T/screen.txt"
awk 'length($0) > 60 { bad=1 } END { exit bad }' "$T/screen.txt" || fail "line wider than 60 after resize"
grep -q "yield 75.0%" "$T/screen.txt" || fail "yield after resize"
tmux send-keys -t $SES q
for _ in $(seq 100); do [ -s "$T/rc" ] && break; sleep 0.1; done
tmux capture-pane -p -J -S -300 -t $SES > "$T/screen.txt"; tail -5 "$T/screen.txt"
grep -q "EXIT=1" "$T/rc" || fail "exit status $(cat "$T/rc")"
grep -q "8 board(s): 6 passed, 2 failed" "$T/screen.txt" || fail "summary on the normal screen"
[ "$(tmux display -p -t $SES '#{alternate_on}')" = 0 ] || fail "still in the alternate screen"
[ "$(tmux display -p -t $SES '#{cursor_flag}')" = 1 ] || fail "cursor hidden"
pass "console in tmux: 8 slots, progress, PASS/FAIL with reasons, yield, resize, q restores the terminal"
echo "1 passed, 0 failed"

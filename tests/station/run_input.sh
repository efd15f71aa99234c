#!/usr/bin/env bash
# Issue 16 items 7, 9, 11, 12: `espfab run` refuses bad input before it
# opens the database, with the file:line or option and what to do.
. "$(dirname "$0")/lib.sh"
set +e
make_profile esp32

# expect_refused WHAT PATTERN... -- ARGS: exit 2, every PATTERN (grep -E) in
# the output, and no database created.
expect_refused() {
    local what=$1 pat out rc; shift
    local pats=()
    while [ "$1" != -- ]; do pats+=("$1"); shift; done
    shift
    rm -f "$DB"
    out=$("$ESPFAB" run "$@" 2>&1); rc=$?
    [ $rc = 2 ] || { echo "$out"; fail "$what: exit $rc, expected 2"; }
    for pat in "${pats[@]}"; do
        grep -qE -- "$pat" <<< "$out" || { echo "$out"; fail "$what: output lacks /$pat/"; }
    done
    [ ! -e "$DB" ] || fail "$what: the database was opened"
    pass "$what"
}

# item 7: a station file with no [slot] (it crashed after opening the database)
printf '[station]\nid = st\ndatabase = %s\n' "$DB" > "$T/noslot.ini"
expect_refused "station file without [slot]" "noslot.ini:1:" "no \[slot NAME\] section" "\[slot A1\]" \
    -- --station "$T/noslot.ini" --profile "$T/p-esp32.ini" --log text

# item 11: a glob matching two devices is a configuration error naming both
mkdir -p "$T/by-path"
ln -s /dev/null "$T/by-path/usb-0:1.1:1.0-port0"
ln -s /dev/null "$T/by-path/usb-0:1.2:1.0-port0"
write_station glob.ini "A1|$T/by-path/usb-0:1.*|esp32"
expect_refused "glob matching two devices" "glob.ini:[0-9]+:" "usb-0:1.1:1.0-port0" "usb-0:1.2:1.0-port0" \
    "one hub position" -- --station "$T/glob.ini" --log text

# item 11, at run time: a continuous slot whose glob comes to match two
# devices records a failed attempt naming both (it was "nothing plugged in")
mkdir -p "$T/jig"
write_station jig.ini "P1|$T/jig/pos1-*|esp32"
rm -f "$DB"
"$ESPFAB" run --station "$T/jig.ini" --continuous --max-boards 1 --log text > "$T/jig.out" 2>&1 &
pid=$!
sleep 0.5
ln -s /dev/null "$T/jig/pos1-a"; ln -s /dev/null "$T/jig/pos1-b"
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill $pid; cat "$T/jig.out"; fail "a glob matching two devices left the slot waiting"; }
wait $pid; rc=$?
[ $rc = 1 ] || { cat "$T/jig.out"; fail "jig: exit $rc, expected 1"; }
row=$(q "select outcome, error_name from attempts where slot='P1'")
[ "$row" = "fail|PORT_BAD_SPEC" ] || { cat "$T/jig.out"; fail "jig: row '$row'"; }
q "select message from attempts where slot='P1'" | grep -q "pos1-a.*pos1-b\|pos1-b.*pos1-a" ||
    fail "jig: the record should name both devices"
pass "continuous: a glob that comes to match two devices is a failed, recorded attempt naming both"

# item 9: the command line follows the station file's rules
write_station ok.ini "A1|tcp://127.0.0.1:1|esp32"
long=$(printf 'L%.0s' $(seq 70))
expect_refused "--lot over 63 characters" "--lot must be 1 to 63 characters" -- \
    --station "$T/ok.ini" --lot "$long" --log text
expect_refused "--operator with a newline" "--operator contains a control character" -- \
    --station "$T/ok.ini" --operator "$(printf 'eve\n12:00:00 A1 PASS')" --log text
expect_refused "--lot with an escape" "--lot contains a control character" -- \
    --station "$T/ok.ini" --lot "$(printf 'W\033[2J')" --log text
expect_refused "--max-boards abc" "bad --max-boards 'abc'" -- \
    --station "$T/ok.ini" --continuous --max-boards abc --log text
expect_refused "--grace junk" "bad --grace '1x'" -- --station "$T/ok.ini" --grace 1x --log text

# item 12: a second --db (or --lot, --operator, --profile, --station) does not silently win
for opt in --db --lot --operator --profile; do
    expect_refused "$opt twice" "$opt given twice" -- --station "$T/ok.ini" "$opt" x "$opt" y --log text
done
expect_refused "--station twice" "--station given twice" -- --station "$T/ok.ini" --station "$T/ok.ini"

# item 12: `espfab flash --port P app.bin` (offset left out)
out=$("$ESPFAB" flash --port /dev/null "$T/fw-esp32.bin" 2>&1); rc=$?
[ $rc = 2 ] || { echo "$out"; fail "flash without offset: exit $rc"; }
grep -q "flash offset of '$T/fw-esp32.bin' is missing" <<< "$out" &&
    grep -q "espfab flash --port /dev/null 0x10000 $T/fw-esp32.bin" <<< "$out" ||
    { echo "$out"; fail "flash without offset: the message should say the offset is missing"; }
pass "flash with the offset left out: says the offset is missing"
out=$("$ESPFAB" flash --port /dev/null 0x1000 "$T/fw-esp32.bin" 0x10000 2>&1)
grep -q "'0x10000' has no file after it" <<< "$out" || { echo "$out"; fail "trailing offset message changed"; }
pass "flash with a trailing offset: says it has no file"
finish

#!/usr/bin/env bash
# scale.sh - the HTML report of a database too big to list every board
# (issue 14, "reports at factory scale"): one fill_db shift grown to 12,000
# attempts (tests/report/grow_db.sh, ~10,500 boards).  The page must list
# the boards that never passed in full and count the others, agree with SQL
# counts (boards, passed, never passed, one yield row per lot / station /
# line / day), and open in headless Chromium in seconds.  The CSV of the
# same database has one row per attempt and one header.
#   scale.sh ESPFAB FILL_DB OUTDIR
. "$(dirname "$0")/../lib.sh"
set -e
espfab=$1 fill=$2 out=$3
browser=""
for b in chromium chromium-browser; do
  if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
[ -n "$browser" ] || die "headless Chromium is needed; run tools/setup.sh (installs the Debian package 'chromium')"
rm -rf "$out"
mkdir -p "$out"
db=$out/espfab.db
"$fill" "$db" 3 >/dev/null
bash "$(dirname "$0")/grow_db.sh" "$db" 12000
sql() { sqlite3 "$db" "$1"; }
[ "$(sql "SELECT count(*) FROM attempts")" = 12000 ] || die "the grown database does not hold 12000 attempts"

"$espfab" report --db "$db" --format html -o "$out/report.html"
h=$out/report.html
val() { grep -o "id=\"$1\" data-value=\"[^\"]*\"" "$h" | sed 's/.*data-value="\([^"]*\)"/\1/'; }
boards=$(sql "SELECT count(DISTINCT mac) FROM attempts WHERE mac <> ''")
passed=$(sql "SELECT count(DISTINCT mac) FROM attempts WHERE mac <> '' AND outcome = 'pass'")
never=$((boards - passed))
[ "$boards" -gt 2000 ] || die "only $boards boards: the test needs more than the 2000 the page lists in full"
[ "$(val s-boards)" = "$boards" ] || die "s-boards $(val s-boards), SQL $boards"
[ "$(val s-boards-passed)" = "$passed" ] || die "s-boards-passed $(val s-boards-passed), SQL $passed"
[ "$(val boards-unlisted)" = "$passed" ] || die "boards-unlisted $(val boards-unlisted), SQL $passed"
rows=$(grep -o '<tr class="board ' "$h" | wc -l)
[ "$rows" = "$never" ] || die "$rows board rows, SQL: $never boards never passed"
grep -q '<tr class="board pass"' "$h" && die "a passed board is listed although the page counts them"
[ "$(grep -c '<tr class="board fail"' "$h")" -gt 0 ] || die "no failed board listed"
# One yield row per lot, station, line and day, each adding up to the attempts.
for g in "lot:lot" "station:station" "line:line" \
         "day:strftime('%Y-%m-%d', start_ms / 1000, 'unixepoch')"; do
  id=${g%%:*} col=${g#*:}
  want=$(sql "SELECT count(DISTINCT $col) FROM attempts")
  table=$(sed -n "/<table class=\"tally\" id=\"by-$id\"/,/<\/table>/p" "$h")
  got=$(grep -c '^<tr><th>' <<<"$table" || true)
  [ "$got" = "$want" ] || die "by-$id: $got rows, SQL: $want"
  sum=$(grep '^<tr><th>' <<<"$table" | sed 's/^<tr><th>[^<]*<\/th><td>\([0-9]*\)<.*/\1/' | paste -sd+ | bc)
  [ "$sum" = 12000 ] || die "by-$id: attempts add up to $sum"
done
size=$(stat -c %s "$h")
[ "$size" -lt $((4 * 1024 * 1024)) ] || die "the page is $size bytes"

profile=$T/chromium-profile
t0=$(date +%s%N)
if ! timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
     --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
     --user-data-dir="$profile" --screenshot="$out/report.png" --window-size=1200,1800 \
     "file://$h" >"$out/chromium.log" 2>&1; then
  cat "$out/chromium.log" >&2; die "$browser could not render the page (its log above)"
fi
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ -f "$out/report.png" ] || die "no screenshot written"
[ "$ms" -lt 20000 ] || die "Chromium took $ms ms to render a $size-byte page"

"$espfab" report --db "$db" --format csv -o "$out/report.csv"
[ "$(grep -c $'\r$' "$out/report.csv")" = 12001 ] || die "the CSV does not hold a header and 12000 rows"
pass "12000 attempts: $never of $boards boards listed, page $size bytes, rendered in $ms ms"

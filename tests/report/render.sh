#!/usr/bin/env bash
# render.sh - the HTML report end to end: fill a database with a realistic
# shift (fill_db), export it with `espfab report --format html` (whole
# database and one lot), check the figures against SQL counts (report_check
# html), render the page in headless Chromium and check the screenshot is a
# real, non-blank PNG with the charts drawn (report_check png).
#   render.sh ESPFAB FILL_DB REPORT_CHECK OUTDIR
# The page and screenshot stay in OUTDIR for a human to look at.
. "$(dirname "$0")/../lib.sh"
set -e
espfab=$1 fill=$2 check=$3 out=$4

browser=""
for b in chromium chromium-browser; do
  if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
  die "headless Chromium is needed for the report rendering test and is not installed;
      run tools/setup.sh (installs the Debian package 'chromium') or apt-get install -y chromium"
fi

rm -rf "$out"
mkdir -p "$out"
"$fill" "$out/espfab.db" 7
"$espfab" report --db "$out/espfab.db" --format html -o "$out/report.html"
"$check" html "$out/espfab.db" "$out/report.html"
"$espfab" report --db "$out/espfab.db" --lot LOT-2026-11-B --format html -o "$out/report-lot-b.html"
"$check" html "$out/espfab.db" "$out/report-lot-b.html" LOT-2026-11-B

profile=$T/chromium-profile
# Chromium prints harmless D-Bus/GPU chatter on stderr; keep it for failures only.
if ! timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
     --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
     --user-data-dir="$profile" --screenshot="$out/report.png" --window-size=1200,1800 \
     "file://$out/report.html" >"$out/chromium.log" 2>&1; then
  cat "$out/chromium.log" >&2; die "$browser could not render the page (its log above)"
fi
[ -f "$out/report.png" ] || { cat "$out/chromium.log" >&2; die "no screenshot written (chromium's log above)"; }
file "$out/report.png" | grep -q "PNG image data" || die "not a PNG: $(file "$out/report.png")"
"$check" png "$out/report.png" 1200 1800
pass "$out/report.html rendered to $out/report.png"

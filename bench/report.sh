#!/usr/bin/env bash
# bench/report.sh - `espfab report` at factory scale (issue 14): builds a
# database of N attempts (default 1,000,000) and prints, for every format,
# the wall time and peak RSS of `espfab report` next to sqlite3's own CSV
# export of the same rows (attempts LEFT JOIN attempt_regions), measured in
# the same run by espfab-benchrun (wait4).  A benchmark: it prints figures
# and verdicts, it does not fail on speed.  Exits 2 on bad usage or a missing
# binary, 1 when a command failed.
#   bash bench/report.sh [--build DIR] [--attempts N] [--db FILE] [--keep]
# --db FILE reuses (or creates, once) that database instead of a temporary one.
#
# The database: tests/report/fill_db writes one realistic shift through the
# store API (1,713 attempts: two stations, retries, failures before the MAC
# is read, interrupted and running attempts, three or two regions each, the
# tamper-evident chain); tests/report/grow_db.sh then copies it with sqlite3
# in one transaction until N attempts (distinct MACs per copy, times shifted
# by 6 h per copy: about 146 days at 1M, ~30 lots, 4 lines).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
N=1000000
DB=""
KEEP=0
die() { echo "report.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --build) BUILD=$2; shift 2;;
        --attempts) N=$2; shift 2;;
        --db) DB=$2; shift 2;;
        --keep) KEEP=1; shift;;
        -h|--help) sed -n '2,20p' "$0"; exit 0;;
        *) die "unknown argument $1 (see --help)";;
    esac
done
ESPFAB=$BUILD/espfab
FILL=$BUILD/tests/report/fill_db
BRUN=$BUILD/bench/espfab-benchrun
for b in "$ESPFAB" "$FILL" "$BRUN"; do
    [ -x "$b" ] || die "$b is missing: cmake --build $BUILD -j2"
done
command -v sqlite3 >/dev/null || die "sqlite3 (the command line shell) is needed: apt-get install -y sqlite3"
W=$(mktemp -d /tmp/espfab-bench-report-XXXXXX)
cleanup() { [ "$KEEP" = 1 ] && echo "work files kept in $W" || rm -rf "$W"; }
trap cleanup EXIT
[ -n "$DB" ] || DB=$W/espfab.db

build_db() {
    "$FILL" "$W/seed.db" 1 >/dev/null || { echo "fill_db failed" >&2; exit 1; }
    cp "$W/seed.db" "$DB" && rm -f "$DB-wal" "$DB-shm"
    bash "$ROOT/tests/report/grow_db.sh" "$DB" "$N" || { echo "growing the database failed" >&2; exit 1; }
}

if [ ! -s "$DB" ]; then
    t0=$(date +%s.%N)
    build_db
    t1=$(date +%s.%N)
    printf 'database   %s built in %.1f s\n' "$DB" "$(echo "$t1 - $t0" | bc)"
fi
read -r attempts regions boards < <(sqlite3 -separator ' ' "$DB" \
    "SELECT (SELECT count(*) FROM attempts), (SELECT count(*) FROM attempt_regions),
            (SELECT count(DISTINCT mac) FROM attempts WHERE mac <> '')")
printf 'database   %s attempts, %s regions, %s boards, %s MiB\n' "$attempts" "$regions" "$boards" \
    "$(( $(stat -c %s "$DB") / 1048576 ))"
# Warm the page cache so that every command reads the same way.
cat "$DB" >/dev/null

R=$W/runs.txt
: >"$R"
run() { # run TAG OUTPUT CMD...: one measured command, its output's size
    local tag=$1 out=$2; shift 2
    rm -f "$out"
    if ! "$BRUN" --out "$R" --tag "$tag" -- "$@"; then
        echo "FAILED: $*" >&2; exit 1
    fi
    echo "tag=$tag $(stat -c %s "$out" 2>/dev/null || echo 0)" >>"$W/sizes.txt"
}
run sqlite3-csv "$W/sqlite.csv" sh -c "exec sqlite3 -csv -header '$DB' \"SELECT a.*, r.* FROM attempts a
    LEFT JOIN attempt_regions r ON r.attempt_id = a.id ORDER BY a.id, r.idx\" >'$W/sqlite.csv'"
for fmt in csv json html; do
    run "espfab-$fmt" "$W/report.$fmt" "$ESPFAB" report --db "$DB" --format "$fmt" -o "$W/report.$fmt"
done

# The 1M page in a browser: headless Chromium's screenshot of it, timed.
browser=""
for b in chromium chromium-browser; do
    command -v "$b" >/dev/null 2>&1 && { browser=$b; break; }
done
render=""
if [ -n "$browser" ]; then
    t0=$(date +%s%N)
    if timeout 300 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
        --user-data-dir="$W/chromium-profile" --screenshot="$W/report.png" --window-size=1200,1800 \
        "file://$W/report.html" >"$W/chromium.log" 2>&1 && [ -s "$W/report.png" ]; then
        render=$(awk -v ns=$(( $(date +%s%N) - t0 )) 'BEGIN { printf "%.2f s", ns / 1e9 }')
    else
        render="FAILED (see $W/chromium.log with --keep)"
    fi
else
    render="not measured: chromium is not installed (tools/setup.sh)"
fi

# benchrun lines: tag status start_ms end_ms wall_ms user_s sys_s maxrss_kib
awk -v sizes="$W/sizes.txt" '
    BEGIN { while ((getline l < sizes) > 0) { split(l, f, " "); sub(/^tag=/, "", f[1]); size[f[1]] = f[2] } }
    {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        t = v["tag"]; wall[t] = v["wall_ms"]; rss[t] = v["maxrss_kib"]; order[++n] = t
    }
    END {
        printf "\n%-13s %9s %10s %11s %9s\n", "command", "time s", "peak MiB", "output MiB", "x sqlite3"
        base = wall["sqlite3-csv"]
        for (i = 1; i <= n; i++) {
            t = order[i]
            printf "%-13s %9.2f %10.1f %11.1f %9.2f\n", t, wall[t] / 1000, rss[t] / 1024,
                   size[t] / 1048576, (base > 0 ? wall[t] / base : 0)
        }
        printf "\ntargets: peak RSS <= 64 MiB for every format; csv and json <= 1.2 x sqlite3-csv\n"
        for (i = 1; i <= n; i++) {
            t = order[i]
            if (t == "sqlite3-csv") continue
            m = rss[t] / 1024 <= 64 ? "met" : "MISSED"
            s = ""
            if (t != "espfab-html")
                s = sprintf(", time %.2f x sqlite3: %s", wall[t] / base, wall[t] <= 1.2 * base ? "met" : "MISSED")
            printf "%-13s memory %.1f MiB: %s%s\n", t, rss[t] / 1024, m, s
        }
    }' "$R"
echo "espfab-html   page opened and rendered by headless $browser in: $render"

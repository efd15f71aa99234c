#!/usr/bin/env bash
# bench/smoke.sh - ctest bench.smoke (label bench-smoke): runs both benchmark
# scripts end to end on a tiny image, one unpaced board, so the harness
# cannot rot.  Fails when a script fails (a tool did not flash, a helper is
# missing or broken) or when its table lacks the measured rows.
# usage: bash bench/smoke.sh --build DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ "${1:-}" = --build ] && [ -n "${2:-}" ] || { echo "usage: smoke.sh --build DIR" >&2; exit 2; }
out=$(mktemp /tmp/espfab-bench-smoke-XXXXXX)
trap 'rm -f "$out"' EXIT
fail() { echo "bench.smoke FAIL: $*" >&2; cat "$out" >&2; exit 1; }

bash "$here/flash_one.sh" --build "$2" --no-pace --size 64k --bauds 921600 > "$out" 2>&1 ||
    fail "flash_one.sh exited $?"
num='[0-9]+\.[0-9]+'
for tool in espfab esptooljs; do
    grep -Eq "^$tool +921600 +$num +$num +[0-9]+ +[0-9]+ +$num +$num " "$out" ||
        fail "flash_one.sh printed no measured row for $tool"
done
grep -q "espfab write / stub bound = .*write / floor = " "$out" || fail "flash_one.sh printed no write/stub-bound verdict"
grep -q "espfab cycle / esptool-js cycle = " "$out" || fail "flash_one.sh printed no cycle ratio"
echo "ok: flash_one.sh"

bash "$here/station.sh" --build "$2" --no-pace --size 64k --boards "1 2" > "$out" 2>&1 ||
    fail "station.sh exited $?"
for tool in espfab esptooljs; do
    for k in 1 2; do
        grep -Eq "^$tool +$k +0 +$num +$num +$num " "$out" || fail "station.sh printed no measured row for $tool, K=$k"
    done
done
grep -q "espfab CPU per board .* / esptool-js CPU per process" "$out" || fail "station.sh printed no CPU ratio"
echo "ok: station.sh"

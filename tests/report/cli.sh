#!/usr/bin/env bash
# cli.sh - `espfab report` command line: exports to stdout and -o, and bad
# input (missing database, bad date, unknown format, --from after --to,
# unknown option, not a database) answered with one clear line and exit 2;
# -o over the database or any SQLite file refused (exit 2, file untouched), a
# failed -o report keeps the old file, crafted INT64 timestamps (issue 16).
#   cli.sh ESPFAB FILL_DB OUTDIR   (ESPFAB: espfab, or report_cli which runs only `report`)
. "$(dirname "$0")/../lib.sh"
espfab=$1 fill=$2 out=$3
rm -rf "$out"; mkdir -p "$out"
"$fill" "$out/espfab.db" 3 >/dev/null || die "fill_db"

# expect_fail NAME WANT_IN_MESSAGE ARGS...: exit 2 with exactly one stderr line naming it.
expect_fail() {
  name=$1 want=$2; shift 2
  "$espfab" report "$@" >"$out/stdout" 2>"$out/stderr"; rc=$?
  lines=$(wc -l <"$out/stderr")
  if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$want" "$out/stderr" || [ -s "$out/stdout" ]; then
    fail "$name: exit $rc, $lines stderr lines, want exit 2 and one line with '$want':"
    cat "$out/stderr" >&2
  else
    pass "$name: $(cat "$out/stderr")"
  fi
}
expect_fail missing-db "'$out/nope.db' not found" --db "$out/nope.db" --format csv
expect_fail default-db "'espfab.db' not found" --format csv
expect_fail bad-date "'2026-13-01'" --db "$out/espfab.db" --format csv --from 2026-13-01
expect_fail bad-format "'pdf'" --db "$out/espfab.db" --format pdf
expect_fail no-format "missing --format" --db "$out/espfab.db"
expect_fail range "not before" --db "$out/espfab.db" --format csv --from 2026-11-24 --to 2026-11-23
expect_fail bad-outcome "'passed'" --db "$out/espfab.db" --format csv --outcome passed
expect_fail unknown-opt "'--lots'" --db "$out/espfab.db" --format csv --lots A
echo "not a database" >"$out/junk.db"
expect_fail not-a-db "junk.db" --db "$out/junk.db" --format json
expect_fail bad-output "cannot write" --db "$out/espfab.db" --format csv -o "$out/no/such/dir/x.csv"

# Exports: stdout and -o give the same bytes; counts match the database.
n=$(sqlite3 "$out/espfab.db" "SELECT count(*) FROM attempts WHERE outcome='fail'")
"$espfab" report --db "$out/espfab.db" --format csv --outcome fail >"$out/a.csv" 2>/dev/null || fail "csv stdout"
"$espfab" report --db "$out/espfab.db" --format csv --outcome fail -o "$out/b.csv" 2>/dev/null || fail "csv -o"
cmp -s "$out/a.csv" "$out/b.csv" || fail "stdout and -o differ"
ls "$out"/b.csv.tmp-* >/dev/null 2>&1 && fail "temporary file left behind"
# Records = header + one per failed attempt (CSV fields here hold no newlines).
rows=$(grep -c "" "$out/a.csv")
[ "$rows" -eq $((n + 1)) ] && pass "csv rows $rows for $n failed attempts" || fail "csv rows $rows for $n failed attempts"
"$espfab" report --db "$out/espfab.db" --format json -o "$out/all.json" 2>/dev/null
jn=$(sqlite3 :memory: "SELECT json_array_length(readfile('$out/all.json'))")
an=$(sqlite3 "$out/espfab.db" "SELECT count(*) FROM attempts")
[ "$jn" = "$an" ] && pass "json $jn attempts" || fail "json $jn attempts, database $an"
# A read-only export does not change the database (no recovery of the
# running attempt, no migration): same content before and after.
sum() { sqlite3 "$out/espfab.db" "SELECT count(*), sum(outcome='running'), total(length(message)) FROM attempts"; }
running=$(sqlite3 "$out/espfab.db" "SELECT count(*) FROM attempts WHERE outcome='running'")
[ "$running" -ge 1 ] || fail "fill_db left no running attempt"
before=$(sum)
"$espfab" report --db "$out/espfab.db" --format html -o "$out/r.html" 2>/dev/null
after=$(sum)
[ "$before" = "$after" ] && pass "database unchanged by the export ($after)" || fail "export changed the database: $before -> $after"
# Empty result: exit 0, header only, a note on stderr.
"$espfab" report --db "$out/espfab.db" --format csv --lot NONE >"$out/empty.csv" 2>"$out/stderr"; rc=$?
[ "$rc" -eq 0 ] && [ "$(grep -c "" "$out/empty.csv")" -eq 1 ] && grep -q "no attempts match" "$out/stderr" \
  && pass "empty result" || fail "empty result (exit $rc)"

# Issue 16, item 1: -o never replaces the database (by name, link, symlink,
# the default espfab.db), its -wal/-journal/-shm files, or any SQLite file:
# exit 2, one line, the file byte for byte as it was.
db="$out/espfab.db"
md5() { md5sum "$1" | cut -d' ' -f1; }
before=$(md5 "$db")
expect_fail over-db "is the database" --db "$db" --format html -o "$db"
expect_fail over-db-rel "is the database" --db "$db" --format csv -o "$out/./espfab.db"
ln -f "$db" "$out/hard.db"; ln -sf espfab.db "$out/sym.db"
expect_fail over-db-hardlink "is the database" --db "$db" --format csv -o "$out/hard.db"
expect_fail over-db-symlink "is the database" --db "$db" --format csv -o "$out/sym.db"
rm -f "$out/hard.db" "$out/sym.db"
expect_fail over-wal "is the -wal file" --db "$db" --format json -o "$db-wal"
expect_fail over-journal "is the -journal file" --db "$db" --format json -o "$db-journal"
[ -e "$db-journal" ] && fail "a journal file was created next to the database"
cp "$db" "$out/other.db"
expect_fail over-sqlite "is a SQLite database" --db "$db" --format csv -o "$out/other.db"
cmp -s "$db" "$out/other.db" && pass "other SQLite file untouched" || fail "other SQLite file changed"
( cd "$out" && "$espfab" report --format csv -o espfab.db >stdout 2>stderr ); rc=$?
[ "$rc" -eq 2 ] && grep -q "is the database" "$out/stderr" && pass "default database: $(cat "$out/stderr")" \
  || fail "default database: -o espfab.db exit $rc: $(cat "$out/stderr")"
[ "$(md5 "$db")" = "$before" ] && pass "database untouched by every refused -o" || fail "database changed by a refused -o"
ls "$out"/*.tmp-* >/dev/null 2>&1 && fail "temporary file left behind by a refused -o"
sqlite3 "$db" "PRAGMA integrity_check" | grep -qx ok || fail "database damaged"

# A report that fails while writing (file size limit) leaves the old file
# as it was, no temporary file, exit 1 naming the real error.
printf 'old report\n' >"$out/keep.html"
( trap '' XFSZ; ulimit -f 200; exec "$espfab" report --db "$db" --format html -o "$out/keep.html" ) \
  >/dev/null 2>"$out/stderr"; rc=$?
[ "$rc" -eq 1 ] && [ "$(cat "$out/keep.html")" = "old report" ] && grep -q "File too large" "$out/stderr" \
  && pass "failed report keeps the old file: $(cat "$out/stderr")" \
  || fail "failed report: exit $rc, keep.html now $(head -c 40 "$out/keep.html"), $(cat "$out/stderr")"
ls "$out"/keep.html.tmp-* >/dev/null 2>&1 && fail "temporary file left behind by a failed report"

# Issue 16, item 12: crafted INT64 timestamps (triggers dropped by hand) do
# not overflow the statistics nor make the page grow without bound.
cp "$db" "$out/crafted.db"
sqlite3 "$out/crafted.db" "DROP TRIGGER attempts_no_rewrite; UPDATE attempts SET start_ms = -9223372036854775808, end_ms = 9223372036854775807 WHERE id = (SELECT min(id) FROM attempts WHERE outcome <> 'running'); UPDATE attempts SET start_ms = 9223372036854775807, end_ms = -9223372036854775808 WHERE id = (SELECT max(id) FROM attempts WHERE outcome <> 'running')" \
  || fail "crafting timestamps"
for fmt in html csv json; do
  ( trap '' XFSZ; ulimit -f 20000; exec timeout 60 "$espfab" report --db "$out/crafted.db" --format $fmt -o "$out/crafted.$fmt" ) \
    >/dev/null 2>"$out/stderr"; rc=$?
  [ "$rc" -eq 0 ] && grep -q "out-of-range" "$out/crafted.$fmt" && pass "crafted timestamps: $fmt report written" \
    || fail "crafted timestamps: $fmt report exit $rc: $(cat "$out/stderr")"
done
finish

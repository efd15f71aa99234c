#!/usr/bin/env bash
# bench_e2e.sh - the rework bench's commands against espsim: `espfab
# read-flash` (stub READ_FLASH and, with --no-stub, the ROM's
# READ_FLASH_SLOW) returns what the simulator's flash dump holds; `espfab
# erase` leaves 0xFF where asked and nothing else changed (refused without
# the stub); `espfab verify` passes on the flashed files and fails on a
# changed byte naming the region; with --db each is one attempt row in a run
# whose mode is the command.
. "$(dirname "$0")/common.sh"
require_cmd sqlite3

# board 0: esp32 (pty)  1: esp32 (tcp)
start_sim esp32:2
cd "$T" || exit 1
$MKIMAGE --chip esp32 --kind bootloader --size 24000 --seed 4 --hash -o boot.bin &&
    $MKIMAGE --chip esp32 --kind app --size 150000 --seed 5 --hash -o app.bin || die "mkimage"
expect_status 0 "flash board 0" "$ESPFAB" flash --port "${PTY[0]}" --after no-reset 0x1000 boot.bin 0x10000 app.bin
expect_status 0 "flash board 1" "$ESPFAB" flash --port "${TCP[1]}" --after no-reset 0x10000 app.bin

# bytes OFF LEN of board B's dump
dumped() { dd if="dumps/board-$1.bin" bs=1 skip=$(($2)) count=$(($3)) 2>/dev/null; }

# ---- read-flash ------------------------------------------------------------
# An odd size: the last packet of the stream is short.
if expect_status 0 "read-flash stub" "$ESPFAB" read-flash --port "${PTY[0]}" --after no-reset 0x1000 0x1c123 rd-stub.bin; then
    expect_out "read-flash stub" "MD5 checked"
fi
if expect_status 0 "read-flash ROM (--no-stub)" "$ESPFAB" read-flash --port "${TCP[1]}" --no-stub --after no-reset 0x10000 1000 rd-rom.bin; then
    expect_out "read-flash ROM (--no-stub)" "MD5 checked"
fi
trace_ops 1 | grep -q ' 0x0e$' && pass "board 1 read through READ_FLASH_SLOW" || fail "board 1: no READ_FLASH_SLOW in the trace"
trace_ops 0 | grep -q '^stub 0xd2$' && pass "board 0 read through the stub's READ_FLASH" || fail "board 0: no stub READ_FLASH in the trace"
dump_sim
dumped 0 0x1000 0x1c123 >want-stub.bin
dumped 1 0x10000 1000 >want-rom.bin
expect_same_file "read-flash stub == dump" rd-stub.bin want-stub.bin
expect_same_file "read-flash ROM == dump" rd-rom.bin want-rom.bin
cmp -s <(head -c 1000 app.bin) rd-rom.bin && pass "ROM read-back == the file flashed" || fail "ROM read-back differs from app.bin"
expect_status 2 "read-flash without OUT" "$ESPFAB" read-flash --port "${PTY[0]}" 0x0 0x100
expect_out "read-flash without OUT" "OFFSET SIZE OUT"
expect_status 2 "read-flash size 0" "$ESPFAB" read-flash --port "${PTY[0]}" 0x0 0 x.bin
expect_status 2 "read-flash into a missing folder" "$ESPFAB" read-flash --port "${PTY[0]}" 0x0 0x100 nodir/x.bin
expect_out "read-flash into a missing folder" "nodir"

# ---- verify --------------------------------------------------------------------
DB="$T/bench.db"
if expect_status 0 "verify the flashed files" "$ESPFAB" verify --port "${PTY[0]}" --after no-reset --db "$DB" 0x1000 boot.bin 0x10000 app.bin; then
    expect_out "verify the flashed files" "2 regions match"
fi
cp app.bin bad.bin
printf '\x5a' | dd of=bad.bin bs=1 seek=5000 conv=notrunc 2>/dev/null
cmp -s app.bin bad.bin && die "the changed copy is the same"
expect_status 1 "verify a changed byte" "$ESPFAB" verify --port "${PTY[0]}" --after no-reset --db "$DB" 0x1000 boot.bin 0x10000 bad.bin
expect_out "verify a changed byte" "region 2, bad.bin at 0x10000"
expect_out "verify a changed byte" "E325 FLASH_DIFFERS"
# a small file: read back, its first difference named
head -c 3000 app.bin >small.bin
cp small.bin small-bad.bin
printf '\x00' | dd of=small-bad.bin bs=1 seek=2049 conv=notrunc 2>/dev/null
cmp -s small.bin small-bad.bin && die "the changed small copy is the same"
expect_status 1 "verify a small changed file" "$ESPFAB" verify --port "${PTY[0]}" --after no-reset 0x10000 small-bad.bin
expect_out "verify a small changed file" "first difference at 0x10801"
expect_status 2 "verify without a file" "$ESPFAB" verify --port "${PTY[0]}" 0x1000

# ---- erase -----------------------------------------------------------------------
expect_status 2 "erase --no-stub refused" "$ESPFAB" erase --port "${PTY[0]}" --no-stub 0x10000 0x1000
expect_out "erase --no-stub refused" "needs the flasher stub"
expect_status 2 "erase unaligned refused" "$ESPFAB" erase --port "${PTY[0]}" 0x10001 0x1000
expect_status 2 "erase nothing" "$ESPFAB" erase --port "${PTY[0]}"
if expect_status 0 "erase a range" "$ESPFAB" erase --port "${PTY[0]}" --after no-reset --db "$DB" 0x10000 0x2000; then
    expect_out "erase a range" "1 region erased (0x10000+0x2000)"
fi
expect_status 0 "erase --all" "$ESPFAB" erase --port "${TCP[1]}" --after no-reset --all --db "$DB"
dump_sim
head -c $((0x2000)) /dev/zero | tr '\0' '\377' >ff.bin
dumped 0 0x10000 0x2000 >got-erased.bin
expect_same_file "erased range is 0xFF" got-erased.bin ff.bin
dumped 0 0x12000 0x1000 >got-after.bin
cmp -s got-after.bin <(dd if=app.bin bs=1 skip=$((0x2000)) count=$((0x1000)) 2>/dev/null) &&
    pass "the app after the range is intact" || fail "erase went beyond its range"
[ "$(tr -d '\377' <dumps/board-1.bin | wc -c)" -eq 0 ] && pass "erase --all: board 1 is all 0xFF" || fail "erase --all left data on board 1"
expect_status 1 "verify after erase fails" "$ESPFAB" verify --port "${PTY[0]}" --after no-reset 0x10000 app.bin

# ---- the record --------------------------------------------------------------------
[ "$(q "SELECT group_concat(r.mode || ':' || a.outcome, ' ') FROM attempts a JOIN runs r ON r.id = a.run_id ORDER BY a.id")" = \
    "verify:pass verify:fail erase:pass erase:pass" ] && pass "--db: one attempt per command, run mode = the command" ||
    fail "--db rows: $(q "SELECT r.mode, a.outcome, a.message FROM attempts a JOIN runs r ON r.id = a.run_id")"
q "SELECT message FROM attempts WHERE outcome = 'fail'" | grep -q "bad.bin at 0x10000" &&
    pass "--db: the failed verify names the region" || fail "--db: failed verify message"
[ "$(q "SELECT count(*) FROM attempt_regions")" -ge 4 ] && pass "--db: verified regions recorded" ||
    fail "--db: regions $(q "SELECT count(*) FROM attempt_regions")"
finish

#!/usr/bin/env bash
# deb.sh - the package a line PC gets.  cpack builds the .deb from this build
# tree; its control file must name the runtime packages; `dpkg-deb -x`
# unpacks it into a fresh root, which is then moved elsewhere (an installed
# espfab finds its stubs relative to itself, not at a path from the build).
# In a private mount namespace (unshare) the source and build trees are
# hidden under empty tmpfs mounts, ESPFAB_STUB_DIR is unset, and the
# installed binary alone flashes an espsim board (espsim copied out of the
# build tree first): `espfab flash` passes with MD5 verified and the dump
# holds the image; `espfab run --db` records the SHA-256 of the installed
# stub it uploaded and its version.
. "$(dirname "$0")/../station/lib.sh"
require_cmd cpack "cpack (CMake)"
require_cmd dpkg-deb "dpkg-deb"
require_cmd unshare "unshare (util-linux)"
[ -n "${ESPFAB_BUILD_DIR:-}" ] && [ -n "${ESPFAB_SRC_DIR:-}" ] || die "run through ctest (ESPFAB_BUILD_DIR, ESPFAB_SRC_DIR)"
unset ESPFAB_STUB_DIR

# ---- the package ----
(cd "$T" && cpack -G DEB --config "$ESPFAB_BUILD_DIR/CPackConfig.cmake" -B "$T/pkg") > "$T/cpack.out" 2>&1 ||
    { cat "$T/cpack.out" >&2; die "cpack failed"; }
deb=$(ls "$T"/pkg/*.deb 2>/dev/null | head -1)
[ -f "$deb" ] || die "cpack made no .deb"
pass "cpack made $(basename "$deb")"
depends=$(dpkg-deb -f "$deb" Depends)
for p in libuv1 libserialport0 libsqlite3-0 libinih1 zlib1g libssl3; do
    grep -qE "(^|, )$p( |,|$)" <<<"$depends" && pass "Depends names $p" || fail "Depends lacks $p: $depends"
done
dpkg-deb -x "$deb" "$T/root" || die "dpkg-deb -x failed"
mv "$T/root" "$T/moved"
R=$T/moved/usr
for f in bin/espfab share/espfab/stubs/esp32.json share/espfab/stubs/esp32s3.json share/man/man1/espfab.1 \
         share/bash-completion/completions/espfab share/espfab/examples/60-espfab.rules \
         share/espfab/examples/espfab-station.service share/espfab/examples/station.ini.example \
         share/espfab/profiles/esp-idf-app-esp32.ini; do
    [ -f "$R/$f" ] && pass "package has $f" || fail "package lacks $f"
done
cmp -s "$R/share/espfab/stubs/esp32.json" "$ESPFAB_NPM_STUBS/esp32.json" &&
    pass "installed esp32 stub = the package's" || fail "installed esp32 stub differs from $ESPFAB_NPM_STUBS"
grep -q '^\.SS espfab flash' "$R/share/man/man1/espfab.1" && grep -q '^\.SS espfab run' "$R/share/man/man1/espfab.1" &&
    pass "man page documents every command" || fail "man page lacks a command section"
bash -n "$R/share/bash-completion/completions/espfab" && pass "bash completion parses" || fail "bash completion: syntax error"
# Every library the binary needs is a package Depends names (or libc's).
if command -v ldd >/dev/null; then
    missing=$(ldd "$R/bin/espfab" | awk '{print $1}' | grep -vE '^(linux-vdso|/lib64/ld-linux|libc\.so|libm\.so|libpthread|libdl|librt|libutil)' |
        grep -vE '^(libuv|libserialport|libsqlite3|libinih|libz|libssl|libcrypto|libudev)\.' || true)
    [ -z "$missing" ] && pass "every linked library is covered" || fail "linked but not in Depends: $missing"
fi

# ---- the installed binary alone ----
cp "$ESPSIM" "$T/espsim"
ESPSIM=$T/espsim
start_sim esp32:1
make_profile esp32
INST=$R/bin/espfab
want_stub=$(sha256sum < "$R/share/espfab/stubs/esp32.json" | cut -d' ' -f1)
DB=$T/installed.db
# Hide the source and build trees (the build tree may lie inside the source tree).
hide="mount -t tmpfs none '$ESPFAB_SRC_DIR'"
case "$ESPFAB_BUILD_DIR/" in "$ESPFAB_SRC_DIR"/*) ;; *) hide="$hide && mount -t tmpfs none '$ESPFAB_BUILD_DIR'" ;; esac
unshare -rm true 2>/dev/null || die "unshare -rm is not permitted here: cannot hide the source tree"
cat > "$T/inside.sh" <<EOF2
set -e
$hide
[ ! -e '$ESPFAB_NPM_STUBS/esp32.json' ] || { echo "source stubs still visible"; exit 3; }
[ ! -e '$ESPFAB' ] || { echo "build tree still visible"; exit 3; }
cd '$T'
'$INST' --version > '$T/version.out'
'$INST' flash --port '${TCP[0]}' 0x1000 fw-esp32.bin > '$T/flash.out' 2>&1
'$INST' run --profile p-esp32.ini --ports '${TCP[0]}' --batch --db '$DB' --log text > '$T/run.out' 2>&1
EOF2
rc=0
unshare -rm bash "$T/inside.sh" > "$T/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] && pass "installed binary ran with the trees hidden" ||
    { cat "$T/out" "$T"/flash.out "$T"/run.out >&2 2>/dev/null; die "inside the namespace: exit $rc"; }
cp "$T/version.out" "$T/out"
expect_out "installed --version: its own stub directory" "stub directory: $T/moved/usr/bin/../share/espfab/stubs"
expect_out "installed --version: the installed stub's hash" "  $want_stub  esp32.json"
cp "$T/flash.out" "$T/out"
expect_out "installed flash: the board" "${MAC[0]}"
expect_out "installed flash: PASS" "espfab flash: PASS"
expect_out "installed flash: MD5 verified" "written and verified"
[ "$(q "SELECT outcome, stub_sha256 FROM attempts")" = "pass|$want_stub" ] &&
    pass "run --db records pass and the installed stub's SHA-256" ||
    fail "attempt row: $(q "SELECT outcome, loader, stub_sha256 FROM attempts")"
ver=$("$INST" --version | head -1 | cut -d' ' -f2)
[ "$(q "SELECT espfab_version FROM attempts")|$(q "SELECT espfab_version, stub_package FROM runs")" = \
  "$ver|$ver|$(sed -n 's/^stubs: //p' "$T/version.out")" ] &&
    pass "run and attempt record espfab $ver and the stub package" ||
    fail "version columns: $(q "SELECT espfab_version FROM attempts") / $(q "SELECT espfab_version, stub_package FROM runs")"
stop_sim
expect_flash 0 esp32
pass "board 0's flash holds the image"
finish

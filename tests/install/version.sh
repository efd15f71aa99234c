#!/usr/bin/env bash
# version.sh - `espfab --version`: the version, the stub package (name and
# version from esptool-js's package.json), one line per stub file with the
# SHA-256 sha256sum computes for it (build tree default and --stub-dir), and
# the libraries.
. "$(dirname "$0")/../lib.sh"
require_tools ESPFAB
require_cmd sha256sum sha256sum
unset ESPFAB_STUB_DIR

pkg_version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$ESPFAB_NPM_STUBS/../../../package.json" | head -1)
expect_status 0 "espfab --version" "$ESPFAB" --version
expect_out "--version" "espfab "
expect_out "--version: stub package" "stubs: esptool-js $pkg_version"
expect_out "--version: stub directory" "stub directory: $ESPFAB_NPM_STUBS"
for lib in libuv libserialport SQLite zlib OpenSSL inih; do expect_out "--version: $lib" "  $lib "; done
# Every stub file, hash as sha256sum prints it.
(cd "$ESPFAB_NPM_STUBS" && sha256sum -- *.json) > "$T/want"
grep -E '^  [0-9a-f]{64}  ' "$T/out" | sed 's/^  //' > "$T/got"
n=$(wc -l < "$T/want")
[ "$n" -gt 5 ] && pass "the package holds $n stub files" || fail "only $n stub files in $ESPFAB_NPM_STUBS"
expect_same_file "--version: the SHA-256 of every stub file = sha256sum's" "$T/got" "$T/want"

# --stub-dir: the hashes of that directory's files, a changed file shows a new hash.
mkdir -p "$T/stubs"
cp "$ESPFAB_NPM_STUBS/esp32.json" "$T/stubs/"
printf ' ' >> "$T/stubs/esp32.json"
expect_status 0 "--version --stub-dir" "$ESPFAB" --version --stub-dir "$T/stubs"
expect_out "--version --stub-dir: the changed file's hash" "  $(sha256sum < "$T/stubs/esp32.json" | cut -d' ' -f1)  esp32.json"
expect_status 2 "--version with a stray argument" "$ESPFAB" --version --bogus
finish

#!/usr/bin/env bash
# demo.sh - install, build, and run the station on the embedded default: a
# simulated jig (espsim) of 8 mixed boards, the demo profiles, and a
# traceability database in the current folder.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bash "$src/tools/setup.sh"
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$src/build" -j2 >/dev/null
exec "$src/build/espfab" demo "$@"

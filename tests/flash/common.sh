# common.sh - what the tests/flash end-to-end scripts share beyond tests/lib.sh
# (sourced): the programs they need and espsim's --verbose trace, which
# trace_ops and flash_cmds read.
#
# Environment (set by tests/flash/CMakeLists.txt): ESPFAB, ESPSIM, MKIMAGE,
# FLASHEXP = paths of the built programs.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
require_tools ESPFAB ESPSIM MKIMAGE FLASHEXP
SIM_OPTS=(--verbose)

/* err_core.h - core error family (1-99).  See err.h. */
#ifndef ESPFAB_ERR_CORE_H
#define ESPFAB_ERR_CORE_H
#define ESPFAB_ERR_MAP_CORE(XX) \
    XX(NOMEM, 1, "out of memory", "the host ran out of memory; close other programs or flash fewer boards at once") \
    XX(INVALID_ARG, 2, "invalid argument", "a caller passed a bad value; this is an espfab bug, please report it with the detail") \
    XX(USAGE, 3, "bad command line", "see `espfab help` for the options of this command") \
    XX(IO, 4, "file I/O error", "check the path, permissions and free disk space") \
    XX(CANCELLED, 5, "cancelled by the operator", "the operator stopped the run; flash the board again") \
    XX(INTERRUPTED, 6, "interrupted before it finished", "espfab stopped (signal or crash) while this board was in progress; flash it again") \
    XX(BUFFER_TOO_SMALL, 7, "buffer too small", "an internal buffer was too small; this is an espfab bug, please report it") \
    XX(NOT_SUPPORTED, 8, "operation not supported", "this operation is not available here; see the detail")
#endif

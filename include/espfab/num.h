/*
 * num.h - the one parser for the unsigned numbers users type (offsets,
 * baud rates, TCP ports) on the command line and in INI files.
 *
 * Policy, the same everywhere: decimal ("4096") or hexadecimal with a 0x/0X
 * prefix ("0x1000", "0X10000"); no sign, no blanks, no suffix.  A decimal
 * number with a leading zero ("010") is refused: C reads it as octal,
 * Python refuses it, and a flash offset typed that way is a mistake either
 * way ("0" itself is fine; hex digits after 0x may have leading zeros).
 * Values past 32 bits are refused rather than wrapped.
 *
 * Pure code: no I/O, no global state; thread-safe; no callbacks.
 */
#ifndef ESPFAB_NUM_H
#define ESPFAB_NUM_H

#include <stdint.h>

/* Parses s into *out.  Returns 0, or -1 (out untouched) for NULL, "",
 * "0x", junk ("12x", " 1", "-1"), a leading-zero decimal ("010") or a
 * value above 0xFFFFFFFF ("4294967296"). */
int espfab_num_parse_u32(const char *s, uint32_t *out);

#endif

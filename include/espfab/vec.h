/*
 * vec.h - the one growable array and the one growable byte buffer.
 *
 * Ownership: the caller owns the array pointer and its capacity (usually
 * two fields of its own struct) and frees the array with free(); an
 * espfab_buf_t owns its bytes until espfab_buf_free() or espfab_buf_take().
 * Pure (no I/O), no callbacks, no global state: safe on any thread as long
 * as one array or buffer is not shared between threads.
 *
 * Growth doubles the capacity (first allocation: ESPFAB_VEC_MIN_CAP
 * elements) until it holds what was asked for.  A size whose byte count
 * does not fit in size_t is refused with ESPFAB_E_NOMEM and the array is
 * left untouched; so is a failed realloc.
 */
#ifndef ESPFAB_VEC_H
#define ESPFAB_VEC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define ESPFAB_VEC_MIN_CAP 16

/* Makes *pptr (the address of any object pointer, e.g. &s->rows) hold at
 * least need elements of elem bytes; *cap is the current capacity in
 * elements and is updated.  Elements already there are kept; new ones are
 * uninitialised.  Returns 0 or ESPFAB_E_NOMEM (overflow or realloc failed;
 * *pptr and *cap unchanged). */
int espfab_vec_reserve(void *pptr, size_t *cap, size_t need, size_t elem);

/* Typed shorthand: ESPFAB_VEC_RESERVE(s->rows, s->cap, s->n + 1). */
#define ESPFAB_VEC_RESERVE(ptr, cap, need) espfab_vec_reserve(&(ptr), &(cap), (need), sizeof *(ptr))

/* A NUL-terminated growable byte string.  Zero-initialise it (or
 * ESPFAB_BUF_INIT); data is NULL until the first append.  After a failed
 * append oom is set and later appends do nothing (data keeps what was
 * there), so a run of appends needs one check at the end. */
typedef struct espfab_buf {
    char *data;
    size_t len, cap;
    bool oom;
} espfab_buf_t;

#define ESPFAB_BUF_INIT {NULL, 0, 0, false}

/* Appends n bytes; returns 0 or ESPFAB_E_NOMEM. */
int espfab_buf_append(espfab_buf_t *b, const void *p, size_t n);
int espfab_buf_puts(espfab_buf_t *b, const char *s);
int espfab_buf_printf(espfab_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int espfab_buf_vprintf(espfab_buf_t *b, const char *fmt, va_list ap);
/* Moves the string out (caller frees; "" rather than NULL when nothing was
 * appended, NULL only on out of memory); the buffer is left empty. */
char *espfab_buf_take(espfab_buf_t *b);
void espfab_buf_free(espfab_buf_t *b);

#endif

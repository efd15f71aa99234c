/*
 * json.h - the one JSON writer: string literals (RFC 8259) and a small
 * streaming writer for objects and arrays, to a FILE or an espfab_buf_t.
 *
 * Ownership: the caller owns the FILE or buffer and the espfab_json_t (a
 * plain struct, usually on the stack; nothing to free).  Pure apart from
 * writing to the sink it is given; no callbacks, no global state; one
 * writer must not be shared between threads.
 *
 * Strings: '"' and '\\' are backslash-escaped; \b \f \n \r \t use their
 * short escapes; every other byte below 0x20 and DEL (0x7f) are written as
 * \u00XX (lower-case hex).  Non-ASCII is passed through when it is
 * well-formed UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF); every byte that does not start a well-formed sequence is
 * replaced by U+FFFD, one replacement per byte.  The output is therefore
 * always valid UTF-8 JSON.  '/' is not escaped.
 *
 * Writer: members are separated by "," and keys by ":" (compact), or by
 * ", " and ": " when spaced.  A value written with a NULL key is an array
 * element (or the top-level value).  The first error sticks in w->err
 * (ESPFAB_E_IO on a FILE, ESPFAB_E_NOMEM on a buffer) and later calls do
 * nothing; espfab_json_end() and every value call return it.  Nesting is
 * limited to ESPFAB_JSON_MAX_DEPTH levels (asserted).
 */
#ifndef ESPFAB_JSON_H
#define ESPFAB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "espfab/vec.h"

/* Length (1..4) of the well-formed UTF-8 sequence at p, 0 when p does not
 * start one (also when the sequence is cut by the terminating NUL).  Shared
 * with the report's HTML escaping. */
size_t espfab_utf8_len(const unsigned char *p);

/* A JSON string literal including the quotes; s NULL writes null.
 * Returns 0 or ESPFAB_E_IO. */
int espfab_json_string(FILE *out, const char *s);
/* The same appended to a buffer; returns 0 or ESPFAB_E_NOMEM. */
int espfab_json_string_buf(espfab_buf_t *b, const char *s);

#define ESPFAB_JSON_MAX_DEPTH 16

typedef struct espfab_json {
    FILE *out;           /* the sink: a FILE, or else ... */
    espfab_buf_t *buf;   /* ... a buffer */
    bool spaced;         /* ", " and ": " instead of "," and ":" */
    int depth;           /* open objects/arrays */
    uint32_t more;       /* bit d: level d already has a member */
    uint32_t arrays;     /* bit d: level d is an array */
    int err;             /* first error, sticky */
} espfab_json_t;

void espfab_json_init_file(espfab_json_t *w, FILE *out, bool spaced);
void espfab_json_init_buf(espfab_json_t *w, espfab_buf_t *b, bool spaced);

/* Opens an object or array as the value of key (NULL: element/top level). */
int espfab_json_obj(espfab_json_t *w, const char *key);
int espfab_json_arr(espfab_json_t *w, const char *key);
/* Closes the innermost open object or array. */
int espfab_json_end(espfab_json_t *w);

/* Members: key (NULL inside arrays) and a value.  str NULL writes null. */
int espfab_json_str(espfab_json_t *w, const char *key, const char *s);
int espfab_json_int(espfab_json_t *w, const char *key, long long v);
int espfab_json_uint(espfab_json_t *w, const char *key, unsigned long long v);
int espfab_json_bool(espfab_json_t *w, const char *key, bool v);
int espfab_json_null(espfab_json_t *w, const char *key);
/* A number with prec (0..20) decimals; NaN and infinities write null. */
int espfab_json_double(espfab_json_t *w, const char *key, double v, int prec);

#endif

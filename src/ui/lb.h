/*
 * lb.h - a screen-line builder for the console renderer (private to
 * src/ui).  A line is a malloc'd string of text and SGR escape sequences
 * whose visible width is tracked and never exceeds the limit given at
 * init: text that does not fit is cut.  Pure, no I/O; a failed allocation
 * sets oom and later appends do nothing.
 */
#ifndef ESPFAB_UI_LB_H
#define ESPFAB_UI_LB_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lb {
    char *buf;
    size_t len, cap;
    int width;      /* visible columns so far */
    int max;        /* visible columns allowed */
    bool utf8;      /* pass printable Latin code points through; else '?' */
    bool oom;
} lb_t;

void espfab__lb_init(lb_t *b, int max, bool utf8);
/* Zero-width escape sequence (SGR...). */
void espfab__lb_esc(lb_t *b, const char *seq);
/* Text, sanitised (control characters and wide/unknown code points become
 * '?'), cut at the limit or at maxw columns (-1: no extra limit). */
void espfab__lb_text(lb_t *b, const char *s, int maxw);
/* Text cut to exactly w columns, padded with spaces; cut text ends with
 * '~' (ASCII) or an ellipsis.  left_cut keeps the end of s instead. */
void espfab__lb_field(lb_t *b, const char *s, int w, bool left_cut);
/* A raw glyph (UTF-8 or ASCII) counted as one column. */
void espfab__lb_glyph(lb_t *b, const char *g);
void espfab__lb_spaces(lb_t *b, int n);
/* Moves the string out (caller frees); the builder is left empty. */
char *espfab__lb_take(lb_t *b);
/* s after its first n shown characters. */
const char *espfab__text_skip(const char *s, int n, bool utf8);
/* Visible width of s as lb would print it (sanitised, escapes excluded). */
int espfab__text_width(const char *s, bool utf8);

#endif

/* lb.c - screen-line builder (see lb.h). */
#include "ui/lb.h"

#include "espfab/vec.h"

#include <stdlib.h>
#include <string.h>

void espfab__lb_init(lb_t *b, int max, bool utf8)
{
    memset(b, 0, sizeof(*b));
    b->max = max < 0 ? 0 : max;
    b->utf8 = utf8;
}

static void put(lb_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (ESPFAB_VEC_RESERVE(b->buf, b->cap, b->len + n + 1)) {
        b->oom = true;
        return;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void espfab__lb_esc(lb_t *b, const char *seq) { put(b, seq, strlen(seq)); }

/* Decodes one UTF-8 sequence at s; returns its length (>= 1) and the code
 * point in *cp, or -1 in *cp when it is not valid UTF-8. */
static size_t utf8_next(const unsigned char *s, long *cp)
{
    unsigned char c = s[0];
    size_t n;
    long v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2;
        v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        v = c & 0x07;
    } else {
        *cp = -1;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

/* One character of s as it will be shown: its bytes (printable ASCII or a
 * Latin/Greek/Cyrillic code point in UTF-8 mode) or "?"; returns the number
 * of input bytes consumed. */
static size_t show_char(const char *s, bool utf8, const char **out, size_t *outlen)
{
    long cp;
    size_t n = utf8_next((const unsigned char *)s, &cp);
    if (cp >= 0x20 && cp < 0x7F) {
        *out = s;
        *outlen = 1;
    } else if (utf8 && cp >= 0xA0 && cp < 0x0300) {
        *out = s;
        *outlen = n;
    } else {
        *out = "?";
        *outlen = 1;
    }
    return n;
}

int espfab__text_width(const char *s, bool utf8)
{
    int w = 0;
    const char *g;
    size_t gl;
    while (s && *s) {
        s += show_char(s, utf8, &g, &gl);
        w++;
    }
    return w;
}

const char *espfab__text_skip(const char *s, int n, bool utf8)
{
    const char *g;
    size_t gl;
    while (s && *s && n-- > 0)
        s += show_char(s, utf8, &g, &gl);
    return s;
}

void espfab__lb_text(lb_t *b, const char *s, int maxw)
{
    const char *g;
    size_t gl;
    int left = b->max - b->width;
    if (maxw >= 0 && maxw < left)
        left = maxw;
    while (s && *s && left > 0) {
        s += show_char(s, b->utf8, &g, &gl);
        put(b, g, gl);
        b->width++;
        left--;
    }
}

void espfab__lb_glyph(lb_t *b, const char *g)
{
    if (b->width >= b->max)
        return;
    put(b, g, strlen(g));
    b->width++;
}

void espfab__lb_spaces(lb_t *b, int n)
{
    static const char sp[] = "                                ";
    if (n > b->max - b->width)
        n = b->max - b->width;
    while (n > 0) {
        int k = n > 32 ? 32 : n;
        put(b, sp, (size_t)k);
        b->width += k;
        n -= k;
    }
}

void espfab__lb_field(lb_t *b, const char *s, int w, bool left_cut)
{
    if (!s)
        s = "";
    if (w > b->max - b->width)
        w = b->max - b->width;
    if (w <= 0)
        return;
    int tw = espfab__text_width(s, b->utf8);
    const char *more = b->utf8 ? "\xE2\x80\xA6" : "~";
    if (tw <= w) {
        espfab__lb_text(b, s, w);
        espfab__lb_spaces(b, w - tw);
        return;
    }
    if (w == 1) {
        espfab__lb_glyph(b, more);
        return;
    }
    if (!left_cut) {
        espfab__lb_text(b, s, w - 1);
        espfab__lb_glyph(b, more);
        return;
    }
    /* skip the first tw - (w - 1) characters */
    int skip = tw - (w - 1);
    const char *g;
    size_t gl;
    while (*s && skip > 0) {
        s += show_char(s, b->utf8, &g, &gl);
        skip--;
    }
    espfab__lb_glyph(b, more);
    espfab__lb_text(b, s, w - 1);
}

char *espfab__lb_take(lb_t *b)
{
    char *s = b->buf;
    if (b->oom) {
        free(s);
        s = NULL;
    } else if (!s) {
        s = calloc(1, 1);
    }
    b->buf = NULL;
    b->len = b->cap = 0;
    b->width = 0;
    return s;
}

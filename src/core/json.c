/* json.c - JSON string escaping and the streaming writer (see json.h). */
#include "espfab/json.h"

#include <assert.h>
#include <stdarg.h>
#include <math.h>
#include <string.h>

#include "espfab/err.h"

size_t espfab_utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned min, cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, cp = c & 0x1Fu, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, cp = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, cp = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* ---- sinks ---- */

static void put(espfab_json_t *w, const char *p, size_t n)
{
    if (w->err || n == 0)
        return;
    if (w->out) {
        /* One writer per FILE (json.h): no stdio lock per string. */
        if (fwrite_unlocked(p, 1, n, w->out) != n)
            w->err = ESPFAB_E_IO;
    } else if (espfab_buf_append(w->buf, p, n)) {
        w->err = ESPFAB_E_NOMEM;
    }
}

static void puts_(espfab_json_t *w, const char *s) { put(w, s, strlen(s)); }

static void escape(espfab_json_t *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    put(w, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p; /* start of bytes passed through as they are */
    while (*p) {
        unsigned char c = *p;
        char esc[7];
        const char *rep = NULL;
        size_t replen = 2, n = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, rep = esc;
        } else if (c < 0x20 || c == 0x7F) {
            const char *shorts = strchr("\b\f\n\r\t", c);
            if (c && shorts) {
                esc[0] = '\\', esc[1] = "bfnrt"[shorts - "\b\f\n\r\t"], rep = esc;
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4], esc[5] = hex[c & 15], rep = esc, replen = 6;
            }
        } else if ((n = espfab_utf8_len(p)) == 0) {
            rep = replacement, replen = 3, n = 1;
        }
        if (rep) {
            put(w, (const char *)run, (size_t)(p - run));
            put(w, rep, replen);
            p += n;
            run = p;
        } else {
            p += n;
        }
    }
    put(w, (const char *)run, (size_t)(p - run));
    put(w, "\"", 1);
}

int espfab_json_string(FILE *out, const char *s)
{
    espfab_json_t w;
    espfab_json_init_file(&w, out, false);
    return espfab_json_str(&w, NULL, s);
}

int espfab_json_string_buf(espfab_buf_t *b, const char *s)
{
    espfab_json_t w;
    espfab_json_init_buf(&w, b, false);
    return espfab_json_str(&w, NULL, s);
}

/* ---- writer ---- */

void espfab_json_init_file(espfab_json_t *w, FILE *out, bool spaced)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->spaced = spaced;
}

void espfab_json_init_buf(espfab_json_t *w, espfab_buf_t *b, bool spaced)
{
    memset(w, 0, sizeof *w);
    w->buf = b;
    w->spaced = spaced;
}

/* Separator and key before a value at the current level. */
static void member(espfab_json_t *w, const char *key)
{
    uint32_t bit = 1u << w->depth;
    if (w->depth > 0 && (w->more & bit))
        puts_(w, w->spaced ? ", " : ",");
    w->more |= bit;
    if (key) {
        escape(w, key);
        puts_(w, w->spaced ? ": " : ":");
    }
}

static int open_(espfab_json_t *w, const char *key, const char *bracket)
{
    assert(w->depth + 1 < ESPFAB_JSON_MAX_DEPTH);
    member(w, key);
    puts_(w, bracket);
    w->depth++;
    w->more &= ~(1u << w->depth);
    if (bracket[0] == '[')
        w->arrays |= 1u << w->depth;
    else
        w->arrays &= ~(1u << w->depth);
    return w->err;
}

int espfab_json_obj(espfab_json_t *w, const char *key) { return open_(w, key, "{"); }
int espfab_json_arr(espfab_json_t *w, const char *key) { return open_(w, key, "["); }

int espfab_json_end(espfab_json_t *w)
{
    assert(w->depth > 0);
    puts_(w, (w->arrays & (1u << w->depth)) ? "]" : "}");
    w->depth--;
    return w->err;
}

int espfab_json_str(espfab_json_t *w, const char *key, const char *s)
{
    member(w, key);
    if (s)
        escape(w, s);
    else
        puts_(w, "null");
    return w->err;
}

static int number(espfab_json_t *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int number(espfab_json_t *w, const char *key, const char *fmt, ...)
{
    char tmp[400]; /* %.20f of DBL_MAX fits */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert(n > 0 && (size_t)n < sizeof tmp);
    member(w, key);
    put(w, tmp, (size_t)n);
    return w->err;
}

int espfab_json_int(espfab_json_t *w, const char *key, long long v) { return number(w, key, "%lld", v); }
int espfab_json_uint(espfab_json_t *w, const char *key, unsigned long long v)
{
    return number(w, key, "%llu", v);
}

int espfab_json_bool(espfab_json_t *w, const char *key, bool v)
{
    member(w, key);
    puts_(w, v ? "true" : "false");
    return w->err;
}

int espfab_json_null(espfab_json_t *w, const char *key)
{
    member(w, key);
    puts_(w, "null");
    return w->err;
}

int espfab_json_double(espfab_json_t *w, const char *key, double v, int prec)
{
    if (!isfinite(v))
        return espfab_json_null(w, key);
    return number(w, key, "%.*f", prec < 0 ? 0 : prec > 20 ? 20 : prec, v);
}

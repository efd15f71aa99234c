/* vec.c - growable array and byte buffer (see vec.h). */
#include "espfab/vec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/err.h"

int espfab_vec_reserve(void *pptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    if (elem == 0)
        return ESPFAB_E_NOMEM;
    size_t ncap = *cap ? *cap : ESPFAB_VEC_MIN_CAP;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem)
        return ESPFAB_E_NOMEM;
    /* The pointer is read and written through memcpy so any T ** can be
     * passed without breaking aliasing rules. */
    void *p;
    memcpy(&p, pptr, sizeof p);
    void *np = realloc(p, ncap * elem);
    if (!np)
        return ESPFAB_E_NOMEM;
    memcpy(pptr, &np, sizeof np);
    *cap = ncap;
    return 0;
}

int espfab_buf_append(espfab_buf_t *b, const void *p, size_t n)
{
    if (b->oom)
        return ESPFAB_E_NOMEM;
    if (n > SIZE_MAX - b->len - 1 || espfab_vec_reserve(&b->data, &b->cap, b->len + n + 1, 1)) {
        b->oom = true;
        return ESPFAB_E_NOMEM;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int espfab_buf_puts(espfab_buf_t *b, const char *s)
{
    return espfab_buf_append(b, s, strlen(s));
}

int espfab_buf_vprintf(espfab_buf_t *b, const char *fmt, va_list ap)
{
    if (b->oom)
        return ESPFAB_E_NOMEM;
    va_list ap2;
    va_copy(ap2, ap);
    int w = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap2);
    va_end(ap2);
    if (w < 0) {
        b->oom = true;
        return ESPFAB_E_NOMEM;
    }
    if (b->data && (size_t)w < b->cap - b->len) {
        b->len += (size_t)w;
        return 0;
    }
    if (espfab_vec_reserve(&b->data, &b->cap, b->len + (size_t)w + 1, 1)) {
        b->oom = true;
        return ESPFAB_E_NOMEM;
    }
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    b->len += (size_t)w;
    return 0;
}

int espfab_buf_printf(espfab_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = espfab_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *espfab_buf_take(espfab_buf_t *b)
{
    char *s = b->oom ? NULL : b->data ? b->data : strdup("");
    if (b->oom)
        free(b->data);
    memset(b, 0, sizeof *b);
    return s;
}

void espfab_buf_free(espfab_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

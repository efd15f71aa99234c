/* num.c - the one u32 parser for user text (num.h). */
#include "espfab/num.h"

#include <stddef.h>

static int digit(char c, unsigned base)
{
    unsigned d;
    if (c >= '0' && c <= '9')
        d = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
        d = (unsigned)(c - 'a') + 10;
    else if (c >= 'A' && c <= 'F')
        d = (unsigned)(c - 'A') + 10;
    else
        return -1;
    return d < base ? (int)d : -1;
}

int espfab_num_parse_u32(const char *s, uint32_t *out)
{
    if (!s || !*s)
        return -1;
    unsigned base = 10;
    const char *p = s;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && p[1] != '\0') {
        return -1; /* "010": octal in C, an error in Python; refused */
    }
    if (!*p)
        return -1;
    uint64_t v = 0;
    for (; *p; p++) {
        int d = digit(*p, base);
        if (d < 0)
            return -1;
        v = v * base + (uint64_t)d;
        if (v > UINT32_MAX)
            return -1;
    }
    if (out)
        *out = (uint32_t)v;
    return 0;
}

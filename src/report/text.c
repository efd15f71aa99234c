/*
 * text.c - the report's serializers: RFC 4180 CSV fields and HTML text
 * (JSON strings and the UTF-8 check come from json.h).  Pure: they only
 * write to the FILE they are given.
 */
#include "espfab/report.h"

#include "espfab/json.h"

#include <string.h>

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

int espfab_report_csv_field(FILE *out, const char *s)
{
    if (!s || !s[0])
        return 0;
    size_t len = strlen(s);
    /* A spreadsheet runs a cell that starts with one of these as a formula
     * (CSV injection): OWASP's remedy, a leading single quote inside a
     * quoted field, makes it text. */
    bool formula = strchr("=+-@\t\r", s[0]) != NULL;
    bool quote = formula || strpbrk(s, ",\"\r\n") != NULL || s[0] == ' ' || s[len - 1] == ' ';
    if (!quote)
        return fwrite(s, 1, len, out) == len ? 0 : ESPFAB_E_IO;
    if (fputc('"', out) == EOF || (formula && fputc('\'', out) == EOF))
        return ESPFAB_E_IO;
    for (const char *p = s; *p; p++) {
        if (*p == '"' && fputc('"', out) == EOF)
            return ESPFAB_E_IO;
        if (fputc(*p, out) == EOF)
            return ESPFAB_E_IO;
    }
    return fputc('"', out) == EOF ? ESPFAB_E_IO : 0;
}

int espfab_report_html_text(FILE *out, const char *s)
{
    if (!s)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        int rc;
        switch (c) {
        case '&': rc = fputs("&amp;", out); p++; break;
        case '<': rc = fputs("&lt;", out); p++; break;
        case '>': rc = fputs("&gt;", out); p++; break;
        case '"': rc = fputs("&quot;", out); p++; break;
        case '\'': rc = fputs("&#39;", out); p++; break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
                rc = fputs(REPLACEMENT, out);
                p++;
            } else {
                size_t n = espfab_utf8_len(p);
                if (n == 0) {
                    rc = fputs(REPLACEMENT, out);
                    p++;
                } else {
                    rc = fwrite(p, 1, n, out) == n ? 0 : EOF;
                    p += n;
                }
            }
            break;
        }
        if (rc == EOF)
            return ESPFAB_E_IO;
    }
    return 0;
}

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

int espfab_report_parse_time(const char *s, bool end_of_range, int64_t *ms)
{
    if (!s || !ms)
        return ESPFAB_E_USAGE;
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return ESPFAB_E_USAGE;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)))
        return ESPFAB_E_USAGE;
    bool date_only = *p == '\0';
    int64_t off_min = 0;
    if (!date_only) {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return ESPFAB_E_USAGE;
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return ESPFAB_E_USAGE;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                return ESPFAB_E_USAGE;
            if (*p == '.' || *p == ',') {
                p++;
                int nd = 0, scale = 100;
                while (*p >= '0' && *p <= '9') {
                    if (nd < 3)
                        frac += (*p - '0') * scale;
                    scale /= 10;
                    nd++;
                    p++;
                }
                if (nd == 0)
                    return ESPFAB_E_USAGE;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return ESPFAB_E_USAGE;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om;
            p++;
            if (!digits(&p, 2, &oh))
                return ESPFAB_E_USAGE;
            if (*p == ':')
                p++;
            if (!digits(&p, 2, &om) || oh > 23 || om > 59)
                return ESPFAB_E_USAGE;
            off_min = sign * (oh * 60 + om);
        }
        if (*p != '\0')
            return ESPFAB_E_USAGE;
    }
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    if (date_only && end_of_range)
        days += 1;
    int64_t t = ((days * 24 + h) * 60 + mi - off_min) * 60 + sec;
    *ms = t * 1000 + frac;
    return 0;
}

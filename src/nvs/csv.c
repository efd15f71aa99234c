/*
 * csv.c - ESP-IDF's NVS partition CSV parsed into rows (nvs.h).  Pure.
 *
 * The reference reads the file as UTF-8 text with universal newlines, drops
 * every physical line whose first character is '#', and hands the rest to
 * Python's csv.DictReader (comma, '"' quotes doubled inside).  This parser
 * does the same and keeps the physical line each record starts on, so that
 * every error names file:line.  Where the reference would crash with a
 * traceback or silently write something the device cannot use (an unknown
 * type, data before any namespace, a key over 15 bytes), this refuses the
 * line instead.
 */
#include <stdlib.h>
#include <string.h>

#include "espfab/nvs.h"
#include "espfab/vec.h"

typedef struct field {
    char *s;
    size_t len, cap;
} field_t;

typedef struct record {
    field_t *f;
    size_t n, cap, ninit; /* fields in use, allocated, initialised */
    unsigned line;
} record_t;

/* The text after newline normalisation and '#' filtering, one char at a
 * time with the physical line it came from. */
typedef struct cursor {
    const char *text;
    size_t len, pos;
    unsigned line;   /* line of text[pos] */
    int line_start;  /* pos is at the start of a physical line */
} cursor_t;

/* Next character (newlines as '\n'), -1 at the end.  Skips '#' lines. */
static int cur_next(cursor_t *c, unsigned *line)
{
    for (;;) {
        if (c->pos >= c->len)
            return -1;
        if (c->line_start && c->text[c->pos] == '#') {
            while (c->pos < c->len && c->text[c->pos] != '\n' && c->text[c->pos] != '\r')
                c->pos++;
            if (c->pos < c->len) {
                if (c->text[c->pos] == '\r' && c->pos + 1 < c->len && c->text[c->pos + 1] == '\n')
                    c->pos++;
                c->pos++;
            }
            c->line++;
            continue;
        }
        char ch = c->text[c->pos++];
        *line = c->line;
        c->line_start = 0;
        if (ch == '\r') {
            if (c->pos < c->len && c->text[c->pos] == '\n')
                c->pos++;
            ch = '\n';
        }
        if (ch == '\n') {
            c->line++;
            c->line_start = 1;
        }
        return (unsigned char)ch;
    }
}

static int field_put(field_t *fl, char ch)
{
    if (ESPFAB_VEC_RESERVE(fl->s, fl->cap, fl->len + 2))
        return ESPFAB_E_NOMEM;
    fl->s[fl->len++] = ch;
    fl->s[fl->len] = 0;
    return 0;
}

static int rec_new_field(record_t *r)
{
    if (ESPFAB_VEC_RESERVE(r->f, r->cap, r->n + 1))
        return ESPFAB_E_NOMEM;
    if (r->n == r->ninit) {
        r->f[r->n].s = NULL;
        r->f[r->n].cap = 0;
        r->ninit++;
    }
    field_t *fl = &r->f[r->n++];
    fl->len = 0;
    if (ESPFAB_VEC_RESERVE(fl->s, fl->cap, 1))
        return ESPFAB_E_NOMEM;
    fl->s[0] = 0;
    return 0;
}

static void rec_free(record_t *r)
{
    for (size_t i = 0; i < r->ninit; i++)
        free(r->f[i].s);
    free(r->f);
    memset(r, 0, sizeof *r);
}

/* Reads one record.  Returns 1 with *r filled, 0 at the end, or an error.
 * An empty line is a record with no fields. */
static int read_record(cursor_t *c, record_t *r, const char *name, espfab_fault_t *f)
{
    enum { START, FIELD, QUOTED, QUOTE_IN_QUOTED } st = START;
    unsigned line = 0, qline = 0;
    int ch = cur_next(c, &line);
    if (ch < 0)
        return 0;
    r->n = 0;
    r->line = line;
    if (ch == '\n')
        return 1;
    if (rec_new_field(r))
        return ESPFAB_E_NOMEM;
    for (;; ch = cur_next(c, &line)) {
        field_t *fl = &r->f[r->n - 1];
        if (ch < 0) {
            if (st == QUOTED)
                return espfab_fault_set(f, ESPFAB_E_NVS_CSV,
                                        "%s:%u: quoted value never closed (a '\"' is missing)", name,
                                        qline);
            return 1;
        }
        switch (st) {
        case START:
            if (ch == '"') {
                st = QUOTED;
                qline = line;
                break;
            }
            st = FIELD;
            /* fall through */
        case FIELD:
            if (ch == ',') {
                if (rec_new_field(r))
                    return ESPFAB_E_NOMEM;
                st = START;
            } else if (ch == '\n') {
                return 1;
            } else if (field_put(fl, (char)ch)) {
                return ESPFAB_E_NOMEM;
            }
            break;
        case QUOTED:
            if (ch == '"')
                st = QUOTE_IN_QUOTED;
            else if (field_put(fl, (char)ch))
                return ESPFAB_E_NOMEM;
            break;
        case QUOTE_IN_QUOTED:
            if (ch == '"') {
                st = QUOTED;
                if (field_put(fl, '"'))
                    return ESPFAB_E_NOMEM;
            } else if (ch == ',') {
                if (rec_new_field(r))
                    return ESPFAB_E_NOMEM;
                st = START;
            } else if (ch == '\n') {
                return 1;
            } else {
                st = FIELD; /* Python's csv keeps what follows the closing quote */
                if (field_put(fl, (char)ch))
                    return ESPFAB_E_NOMEM;
            }
            break;
        }
    }
}

/* Length of the valid UTF-8 sequence at p, 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t need;
    uint32_t cp;
    if ((p[0] & 0xE0) == 0xC0) {
        need = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        need = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        need = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

/* 0 when text is valid UTF-8 without NUL; else the 1-based line of the first fault. */
static unsigned bad_text_line(const char *text, size_t len, int *is_nul)
{
    unsigned line = 1;
    for (size_t i = 0; i < len;) {
        const unsigned char *p = (const unsigned char *)text + i;
        if (*p == 0) {
            *is_nul = 1;
            return line;
        }
        size_t k = utf8_len(p, len - i);
        if (!k) {
            *is_nul = 0;
            return line;
        }
        if (*p == '\n' || (*p == '\r' && !(i + 1 < len && p[1] == '\n')))
            line++;
        i += k;
    }
    return 0;
}

int espfab_nvs_utf8_valid(const char *s, size_t len); /* src/nvs/nvs.c uses it */
int espfab_nvs_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len((const unsigned char *)s + i, len - i);
        if (!k || s[i] == 0)
            return 0;
        i += k;
    }
    return 1;
}

static const char *const enc_names[] = {"u8",  "i8",  "u16",    "i16",     "u32",    "i32",
                                        "u64", "i64", "string", "hex2bin", "base64", "binary"};

static int parse_enc(const char *s, espfab_nvs_enc_t *enc)
{
    for (size_t i = 0; i < sizeof enc_names / sizeof enc_names[0]; i++)
        if (!strcmp(s, enc_names[i])) {
            *enc = (espfab_nvs_enc_t)i;
            return 0;
        }
    return -1;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static void row_free(espfab_nvs_row_t *r)
{
    free(r->value);
    free(r->path);
}

int espfab_nvs_row_set(espfab_nvs_row_t *row, const char *value, size_t len)
{
    char *v = dup_n(value, len);
    if (!v)
        return ESPFAB_E_NOMEM;
    if (row->kind == ESPFAB_NVS_FILE) {
        free(row->path);
        row->path = v;
        free(row->value);
        row->value = NULL;
        row->value_len = 0;
        row->loaded = 0;
        return 0;
    }
    free(row->value);
    row->value = v;
    row->value_len = len;
    return 0;
}

/* Turns one record into a row appended to csv. */
static int add_row(espfab_nvs_csv_t *csv, const record_t *r, const int col[4], const char *name,
                   int *have_ns, espfab_fault_t *f)
{
    const char *fld[4];
    size_t flen[4];
    for (int i = 0; i < 4; i++) {
        fld[i] = (size_t)col[i] < r->n ? r->f[col[i]].s : NULL;
        flen[i] = (size_t)col[i] < r->n ? r->f[col[i]].len : 0;
    }
    unsigned line = r->line;
    if (!fld[0] || !fld[1])
        return espfab_fault_set(f, ESPFAB_E_NVS_CSV,
                                "%s:%u: %zu field(s); a row needs key,type,encoding,value", name,
                                line, r->n);
    if (flen[0] > ESPFAB_NVS_KEY_MAX)
        return espfab_fault_set(f, ESPFAB_E_NVS_CSV, "%s:%u: key '%.40s' is %zu bytes; at most %d",
                                name, line, fld[0], flen[0], ESPFAB_NVS_KEY_MAX);
    espfab_nvs_row_t row;
    memset(&row, 0, sizeof row);
    row.line = line;
    row.src = csv->nsrcs - 1;
    memcpy(row.key, fld[0], flen[0] + 1);
    if (!strcmp(fld[1], "namespace")) {
        row.kind = ESPFAB_NVS_NAMESPACE;
        *have_ns = 1;
    } else if (!strcmp(fld[1], "data") || !strcmp(fld[1], "file")) {
        row.kind = fld[1][0] == 'd' ? ESPFAB_NVS_DATA : ESPFAB_NVS_FILE;
        if (!fld[2] || parse_enc(fld[2], &row.enc))
            return espfab_fault_set(f, ESPFAB_E_NVS_CSV,
                                    "%s:%u: key '%s': encoding '%.40s' unknown (u8 i8 u16 i16 u32 "
                                    "i32 u64 i64 string hex2bin base64 binary)",
                                    name, line, row.key, fld[2] ? fld[2] : "");
        if (!fld[3])
            return espfab_fault_set(f, ESPFAB_E_NVS_CSV, "%s:%u: key '%s' has no value column",
                                    name, line, row.key);
        if (!*have_ns)
            return espfab_fault_set(f, ESPFAB_E_NVS_CSV,
                                    "%s:%u: key '%s' comes before any namespace: put a "
                                    "'NAME,namespace,,' line above it",
                                    name, line, row.key);
        if (row.kind == ESPFAB_NVS_FILE && !flen[3])
            return espfab_fault_set(f, ESPFAB_E_NVS_CSV, "%s:%u: key '%s': file entry without a path",
                                    name, line, row.key);
    } else {
        return espfab_fault_set(f, ESPFAB_E_NVS_CSV,
                                "%s:%u: key '%s': type '%.40s' unknown (namespace, data or file)",
                                name, line, row.key, fld[1]);
    }
    if (row.kind != ESPFAB_NVS_NAMESPACE) {
        char *v = dup_n(fld[3], flen[3]);
        if (!v)
            return ESPFAB_E_NOMEM;
        if (row.kind == ESPFAB_NVS_FILE) {
            row.path = v;
        } else {
            row.value = v;
            row.value_len = flen[3];
        }
    }
    if (ESPFAB_VEC_RESERVE(csv->rows, csv->cap, csv->nrows + 1)) {
        row_free(&row);
        return ESPFAB_E_NOMEM;
    }
    csv->rows[csv->nrows++] = row;
    return 0;
}

static int find_columns(const record_t *r, int col[4], const char *name, espfab_fault_t *f)
{
    static const char *const want[4] = {"key", "type", "encoding", "value"};
    for (int i = 0; i < 4; i++) {
        col[i] = -1;
        for (size_t j = 0; j < r->n; j++)
            if (!strcmp(r->f[j].s, want[i]) && col[i] < 0)
                col[i] = (int)j;
        if (col[i] < 0)
            return espfab_fault_set(f, ESPFAB_E_NVS_CSV,
                                    "%s:%u: header has no '%s' column: the first line must be "
                                    "key,type,encoding,value",
                                    name, r->line, want[i]);
    }
    return 0;
}

int espfab_nvs_csv_parse(espfab_nvs_csv_t *csv, const char *text, size_t len, const char *name,
                         const char *dir, espfab_fault_t *f)
{
    int is_nul = 0;
    unsigned bad = bad_text_line(text, len, &is_nul);
    if (bad)
        return espfab_fault_set(f, ESPFAB_E_NVS_CSV, "%s:%u: %s", name, bad,
                                is_nul ? "NUL byte in the text" : "not UTF-8 text");
    if (ESPFAB_VEC_RESERVE(csv->srcs, csv->srccap, csv->nsrcs + 1))
        return ESPFAB_E_NOMEM;
    espfab_nvs_src_t *src = &csv->srcs[csv->nsrcs];
    src->name = dup_n(name, strlen(name));
    src->dir = dup_n(dir ? dir : ".", strlen(dir ? dir : "."));
    if (!src->name || !src->dir) {
        free(src->name);
        free(src->dir);
        return ESPFAB_E_NOMEM;
    }
    csv->nsrcs++;
    size_t first_row = csv->nrows;
    int have_ns = 0;
    for (size_t i = 0; i < first_row; i++)
        if (csv->rows[i].kind == ESPFAB_NVS_NAMESPACE)
            have_ns = 1;

    cursor_t c = {.text = text, .len = len, .line = 1, .line_start = 1};
    record_t r;
    memset(&r, 0, sizeof r);
    int col[4], have_header = 0, rc = 0;
    for (;;) {
        rc = read_record(&c, &r, name, f);
        if (rc <= 0)
            break;
        if (r.n == 0)
            continue; /* blank line */
        if (!have_header) {
            rc = find_columns(&r, col, name, f);
            if (rc)
                break;
            have_header = 1;
            continue;
        }
        rc = add_row(csv, &r, col, name, &have_ns, f);
        if (rc)
            break;
    }
    rec_free(&r);
    if (!rc && !have_header)
        rc = espfab_fault_set(f, ESPFAB_E_NVS_CSV,
                              "%s:1: no header: the first line must be key,type,encoding,value", name);
    if (rc) {
        if (rc == ESPFAB_E_NOMEM)
            espfab_fault_set(f, rc, "%s: parsing the NVS CSV", name);
        for (size_t i = first_row; i < csv->nrows; i++)
            row_free(&csv->rows[i]);
        csv->nrows = first_row;
        csv->nsrcs--;
        free(csv->srcs[csv->nsrcs].name);
        free(csv->srcs[csv->nsrcs].dir);
        return rc;
    }
    return 0;
}

void espfab_nvs_csv_free(espfab_nvs_csv_t *csv)
{
    for (size_t i = 0; i < csv->nrows; i++)
        row_free(&csv->rows[i]);
    for (size_t i = 0; i < csv->nsrcs; i++) {
        free(csv->srcs[i].name);
        free(csv->srcs[i].dir);
    }
    free(csv->rows);
    free(csv->srcs);
    memset(csv, 0, sizeof *csv);
}

int espfab_nvs_size_parse(const char *text, uint32_t *size, espfab_fault_t *f)
{
    const char *p = text;
    unsigned base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
        base = 8, p += 2;
    else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
        base = 2, p += 2;
    uint64_t v = 0;
    int digits = 0;
    for (; *p; p++) {
        unsigned d;
        if (*p == '_' && digits)
            continue;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (*p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (*p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            d = 99;
        if (d >= base || v > 0xFFFFFFFFull)
            return espfab_fault_set(f, ESPFAB_E_NVS_SIZE, "'%s' is not a size in bytes", text);
        v = v * base + d;
        digits++;
    }
    if (!digits || v > 0xFFFFF000ull)
        return espfab_fault_set(f, ESPFAB_E_NVS_SIZE, "'%s' is not a size in bytes", text);
    if (v % ESPFAB_NVS_PAGE || v < ESPFAB_NVS_PAGE)
        return espfab_fault_set(f, ESPFAB_E_NVS_SIZE,
                                "%s: size of partition must be a multiple of 4096, at least 4096",
                                text);
    *size = (uint32_t)v;
    return 0;
}

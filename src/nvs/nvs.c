/*
 * nvs.c - NVS partition rows -> partition binary (nvs.h), laid out exactly
 * as ESP-IDF's esp-idf-nvs-partition-gen lays it out (docs/nvs.md).  Pure.
 *
 * The page-filling rules are the reference's, quirks included: an entry
 * that does not fit moves to a fresh page, a string or v1 blob may not end
 * on a page's last entry, a v2 blob is cut into chunks that fill each page
 * to one entry short of its end (a chunk may be empty), and a namespace
 * named twice is written once while later data keeps going to the
 * namespace declared last.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "espfab/nvs.h"

#define ENTRIES 126u /* 32-byte entries per page after header and bitmap */
#define ST_ACTIVE 0xFFFFFFFEu
#define ST_FULL 0xFFFFFFFCu

int espfab_nvs_utf8_valid(const char *s, size_t len); /* csv.c */

typedef struct gen {
    uint8_t *buf;       /* npages pages */
    size_t npages;
    size_t cur;         /* index of the current page */
    unsigned entry_num; /* entries used in the current page */
    int64_t size_left;  /* bytes of partition not yet given a page */
    uint32_t page_num;  /* sequence number of the last page made */
    uint8_t version;    /* 0xFF v1, 0xFE v2 */
    unsigned ns_count;
    const espfab_nvs_csv_t *csv;
    const espfab_nvs_row_t *row; /* the row being written, for messages */
    espfab_fault_t *f;
} gen_t;

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t crc(const uint8_t *p, size_t n)
{
    /* zlib's crc32 started from 0xFFFFFFFF, as the reference calls it */
    return (uint32_t)crc32(0xFFFFFFFFul, p, (uInt)n);
}

static void entry_crc(uint8_t *e)
{
    uint8_t tmp[28];
    memcpy(tmp, e, 4);
    memcpy(tmp + 4, e + 8, 24);
    put_le(e + 4, crc(tmp, 28), 4);
}

static uint8_t *page(gen_t *g)
{
    return g->buf + g->cur * ESPFAB_NVS_PAGE;
}

static int row_err(gen_t *g, int code, const char *what)
{
    const espfab_nvs_row_t *r = g->row;
    if (!r)
        return espfab_fault_set(g->f, code, "%s", what);
    return espfab_fault_set(g->f, code, "%s:%u: key '%s': %s", g->csv->srcs[r->src].name, r->line,
                            r->key, what);
}

/* The reference's create_new_page. */
static int new_page(gen_t *g, int reserved, int empty, int ignore_size)
{
    if (g->npages && !empty) {
        uint8_t *p = page(g);
        if (p[0] == 0xFE && p[1] == 0xFF && p[2] == 0xFF && p[3] == 0xFF)
            put_le(p, ST_FULL, 4);
    }
    if (!ignore_size && g->size_left == 0)
        return row_err(g, ESPFAB_E_NVS_FULL, "the partition is full: give a larger size");
    if (!reserved)
        g->size_left -= ESPFAB_NVS_PAGE;
    uint8_t *nb = realloc(g->buf, (g->npages + 1) * ESPFAB_NVS_PAGE);
    if (!nb)
        return espfab_fault_set(g->f, ESPFAB_E_NOMEM, "NVS partition image");
    g->buf = nb;
    g->cur = g->npages++;
    g->page_num++;
    g->entry_num = 0;
    uint8_t *p = page(g);
    memset(p, 0xFF, ESPFAB_NVS_PAGE);
    if (!reserved && !empty) {
        put_le(p, ST_ACTIVE, 4);
        put_le(p + 4, g->page_num, 4);
        p[8] = g->version;
        put_le(p + 28, crc(p + 4, 24), 4);
    }
    return 0;
}

/* Copies n bytes at the current entry and marks count entries written. */
static void write_entries(gen_t *g, const uint8_t *data, size_t n, unsigned count)
{
    uint8_t *p = page(g);
    assert(g->entry_num + count <= ENTRIES && n <= (size_t)count * 32 + 32);
    memcpy(p + 64 + 32 * g->entry_num, data, n);
    for (unsigned i = 0; i < count; i++) {
        unsigned bit = g->entry_num * 2;
        p[32 + bit / 8] &= (uint8_t) ~(1u << (bit & 7));
        g->entry_num++;
    }
}

static void entry_head(uint8_t e[32], uint8_t ns, const char *key)
{
    memset(e, 0xFF, 32);
    e[0] = ns;
    memset(e + 8, 0, 16);
    memcpy(e + 8, key, strlen(key));
}

static const uint8_t prim_type[8] = {0x01, 0x11, 0x02, 0x12, 0x04, 0x14, 0x08, 0x18};

/* 1 when the page is full (try a fresh one), else 0. */
static int write_primitive(gen_t *g, const char *key, espfab_nvs_enc_t enc, uint64_t v, uint8_t ns)
{
    if (g->entry_num >= ENTRIES)
        return 1;
    uint8_t e[32];
    entry_head(e, ns, key);
    e[2] = 1;
    e[1] = prim_type[enc];
    put_le(e + 24, v, 1u << (enc / 2));
    entry_crc(e);
    write_entries(g, e, 32, 1);
    return 0;
}

static int write_blob_chunks(gen_t *g, uint8_t e[32], const uint8_t *data, size_t len)
{
    unsigned chunk_count = 0;
    size_t off = 0, remaining = len;
    for (;;) {
        size_t tailroom = (size_t)(ENTRIES - g->entry_num - 1) * 32;
        size_t chunk = tailroom < remaining ? tailroom : remaining;
        remaining -= chunk;
        if (chunk_count > 255)
            return row_err(g, ESPFAB_E_NVS_CSV, "blob needs more than 255 chunks");
        unsigned dentries = (unsigned)((chunk + 31) / 32);
        e[1] = ESPFAB_NVS_T_BLOB_DATA;
        e[2] = (uint8_t)(dentries + 1);
        e[3] = (uint8_t)chunk_count;
        put_le(e + 24, chunk, 2);
        put_le(e + 28, crc(data + off, chunk), 4);
        entry_crc(e);
        write_entries(g, e, 32, 1);
        write_entries(g, data + off, chunk, dentries);
        chunk_count++;
        if (remaining || tailroom - chunk < 32) {
            int rc = new_page(g, 0, 0, 0);
            if (rc)
                return rc;
        }
        off += chunk;
        if (!remaining)
            break;
    }
    memset(e + 24, 0xFF, 8);
    e[1] = ESPFAB_NVS_T_BLOB_IDX;
    e[2] = 1;
    e[3] = 0xFF;
    put_le(e + 24, len, 4);
    e[28] = (uint8_t)chunk_count;
    e[29] = 0;
    entry_crc(e);
    write_entries(g, e, 32, 1);
    return 0;
}

/* Strings and blobs.  1 when the page is full, 0 written, <0 error. */
static int write_varlen(gen_t *g, const char *key, int is_str, const uint8_t *data, size_t len,
                        uint8_t ns)
{
    int v2 = g->version == 0xFE;
    size_t max = v2 ? 4000 : 1984;
    if ((!v2 || is_str) && len > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s of %zu bytes%s is over the limit of %zu bytes (version %d)",
                 is_str ? "string" : "blob", len, is_str ? " (with its NUL)" : "", max, v2 ? 2 : 1);
        return row_err(g, ESPFAB_E_NVS_CSV, msg);
    }
    unsigned dentries = (unsigned)((len + 31) / 32);
    if (g->entry_num >= ENTRIES)
        return 1;
    if (g->entry_num + dentries + 1 >= ENTRIES && !(v2 && !is_str))
        return 1;
    uint8_t e[32];
    entry_head(e, ns, key);
    e[1] = is_str ? ESPFAB_NVS_T_STR : ESPFAB_NVS_T_BLOB;
    if (v2 && !is_str)
        return write_blob_chunks(g, e, data, len);
    e[2] = (uint8_t)(dentries + 1);
    put_le(e + 24, len, 2);
    put_le(e + 28, crc(data, len), 4);
    entry_crc(e);
    write_entries(g, e, 32, 1);
    write_entries(g, data, len, dentries);
    return 0;
}

/* Python's int() on ASCII text: blanks around, a sign, digits with single
 * underscores between them. */
static int parse_int(const char *s, size_t n, int *neg, uint64_t *mag)
{
    size_t i = 0;
    while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r')))
        n--;
    while (i < n && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
        i++;
    *neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        *neg = s[i++] == '-';
    *mag = 0;
    int digits = 0, under = 0;
    for (; i < n; i++) {
        if (s[i] == '_' && digits && !under) {
            under = 1;
            continue;
        }
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (*mag > (UINT64_MAX - d) / 10)
            return -2;
        *mag = *mag * 10 + d;
        digits++;
        under = 0;
    }
    return digits && !under ? 0 : -1;
}

static int encode_int(gen_t *g, espfab_nvs_enc_t enc, const char *s, size_t n, uint64_t *out)
{
    static const char *const names[8] = {"u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"};
    int neg;
    uint64_t mag;
    int rc = parse_int(s, n, &neg, &mag);
    char msg[160];
    if (rc == -1) {
        snprintf(msg, sizeof msg, "'%.40s' is not a decimal integer", s);
        return row_err(g, ESPFAB_E_NVS_CSV, msg);
    }
    unsigned bits = 8u << (enc / 2);
    int is_signed = enc & 1;
    uint64_t umax = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
    uint64_t pmax = is_signed ? umax >> 1 : umax, nmax = is_signed ? (umax >> 1) + 1 : 0;
    if (rc == -2 || (!neg && mag > pmax) || (neg && mag > nmax)) {
        snprintf(msg, sizeof msg, "%.40s is out of range for %s", s, names[enc]);
        return row_err(g, ESPFAB_E_NVS_CSV, msg);
    }
    *out = neg ? (uint64_t)0 - mag : mag;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* binascii.a2b_base64 in its lenient mode: characters outside the alphabet
 * are skipped, enough '=' after two or three characters ends the data. */
static int decode_base64(const char *s, size_t n, uint8_t *out, size_t *olen)
{
    unsigned quad = 0, pads = 0, left = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=') {
            if (quad >= 2 && quad + ++pads >= 4)
                break;
            continue;
        }
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else
            continue;
        pads = 0;
        switch (quad) {
        case 0:
            left = (unsigned)v;
            quad = 1;
            break;
        case 1:
            out[o++] = (uint8_t)((left << 2) | ((unsigned)v >> 4));
            left = (unsigned)v & 0x0F;
            quad = 2;
            break;
        case 2:
            out[o++] = (uint8_t)((left << 4) | ((unsigned)v >> 2));
            left = (unsigned)v & 0x03;
            quad = 3;
            break;
        default:
            out[o++] = (uint8_t)((left << 6) | (unsigned)v);
            quad = 0;
            break;
        }
    }
    if (quad == 0 || pads + quad >= 4) {
        *olen = o;
        return 0;
    }
    return -1;
}

/* The row's value in the bytes the entry stores; *out malloc'd. */
static int encode_var(gen_t *g, const espfab_nvs_row_t *r, uint8_t **out, size_t *olen)
{
    const char *s = r->value ? r->value : "";
    size_t n = r->value_len;
    uint8_t *b = malloc(n + 1);
    if (!b)
        return espfab_fault_set(g->f, ESPFAB_E_NOMEM, "NVS value");
    *out = b;
    switch (r->enc) {
    case ESPFAB_NVS_STRING:
        if (!espfab_nvs_utf8_valid(s, n))
            return row_err(g, ESPFAB_E_NVS_CSV, "string value is not UTF-8 text (or holds a NUL)");
        memcpy(b, s, n);
        b[n] = 0;
        *olen = n + 1;
        return 0;
    case ESPFAB_NVS_HEX2BIN: {
        size_t i = 0, e = n;
        while (i < e && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
            i++;
        while (e > i && (s[e - 1] == ' ' || (s[e - 1] >= '\t' && s[e - 1] <= '\r')))
            e--;
        if ((e - i) % 2)
            return row_err(g, ESPFAB_E_NVS_CSV, "hex2bin value has an odd number of digits");
        size_t o = 0;
        for (; i < e; i += 2) {
            int hi = hexval(s[i]), lo = hexval(s[i + 1]);
            if (hi < 0 || lo < 0)
                return row_err(g, ESPFAB_E_NVS_CSV, "hex2bin value holds a non-hex character");
            b[o++] = (uint8_t)(hi << 4 | lo);
        }
        *olen = o;
        return 0;
    }
    case ESPFAB_NVS_BASE64:
        if (decode_base64(s, n, b, olen))
            return row_err(g, ESPFAB_E_NVS_CSV, "base64 value is incomplete (incorrect padding)");
        return 0;
    default:
        assert(r->enc == ESPFAB_NVS_BINARY);
        if (r->kind == ESPFAB_NVS_DATA)
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] >= 0x80)
                    return row_err(g, ESPFAB_E_NVS_CSV,
                                   "binary value in the CSV must be ASCII: use hex2bin, base64 "
                                   "or a file entry for other bytes");
        memcpy(b, s, n);
        *olen = n;
        return 0;
    }
}

static int write_namespace(gen_t *g, size_t idx)
{
    const espfab_nvs_row_t *r = &g->csv->rows[idx];
    for (size_t i = 0; i < idx; i++)
        if (g->csv->rows[i].kind == ESPFAB_NVS_NAMESPACE && !strcmp(g->csv->rows[i].key, r->key))
            return 0; /* written already; the reference does not switch back to it */
    if (g->ns_count >= 255)
        return row_err(g, ESPFAB_E_NVS_CSV, "more than 255 namespaces");
    g->ns_count++;
    if (write_primitive(g, r->key, ESPFAB_NVS_U8, g->ns_count, 0) == 0)
        return 0;
    int rc = new_page(g, 0, 0, 0);
    if (rc)
        return rc;
    rc = write_primitive(g, r->key, ESPFAB_NVS_U8, g->ns_count, 0);
    assert(rc == 0);
    return 0;
}

static int write_row(gen_t *g, const espfab_nvs_row_t *r)
{
    if (r->kind == ESPFAB_NVS_FILE && !r->loaded)
        return row_err(g, ESPFAB_E_NVS_FILE, "the file was not loaded (espfab_nvs_load_files)");
    assert(g->ns_count > 0); /* the parser refuses data before a namespace */
    uint8_t ns = (uint8_t)g->ns_count;
    int rc;
    if (r->enc <= ESPFAB_NVS_I64) {
        uint64_t v = 0;
        rc = encode_int(g, r->enc, r->value ? r->value : "", r->value_len, &v);
        if (rc)
            return rc;
        if (write_primitive(g, r->key, r->enc, v, ns) == 0)
            return 0;
        rc = new_page(g, 0, 0, 0);
        if (rc)
            return rc;
        rc = write_primitive(g, r->key, r->enc, v, ns);
        assert(rc == 0);
        return 0;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    rc = encode_var(g, r, &data, &len);
    int is_str = r->enc == ESPFAB_NVS_STRING;
    if (!rc)
        rc = write_varlen(g, r->key, is_str, data, len, ns);
    if (rc == 1) {
        rc = new_page(g, 0, 0, 0);
        if (!rc)
            rc = write_varlen(g, r->key, is_str, data, len, ns);
        if (rc == 1)
            rc = row_err(g, ESPFAB_E_NVS_CSV,
                         "the value does not fit in one page (a string holds at most 3968 bytes "
                         "with its NUL; v1 blobs at most 1984)");
    }
    free(data);
    return rc;
}

int espfab_nvs_generate(const espfab_nvs_csv_t *csv, uint32_t size, int version, uint8_t **out,
                        size_t *out_len, espfab_fault_t *f)
{
    *out = NULL;
    *out_len = 0;
    if (version != 1 && version != 2)
        return espfab_fault_set(f, ESPFAB_E_NVS_CSV, "NVS version %d: use 1 or 2", version);
    if (size % ESPFAB_NVS_PAGE || size < ESPFAB_NVS_PAGE)
        return espfab_fault_set(f, ESPFAB_E_NVS_SIZE, "size %u: a multiple of 4096, >= 4096", size);
    gen_t g;
    memset(&g, 0, sizeof g);
    g.csv = csv;
    g.f = f;
    g.version = version == 1 ? 0xFF : 0xFE;
    g.page_num = UINT32_MAX;
    /* One page is kept back as the spare page, unless that leaves fewer
     * than two: such small partitions are read-only. */
    int read_only = size < 3 * ESPFAB_NVS_PAGE;
    g.size_left = read_only ? size : size - ESPFAB_NVS_PAGE;
    int rc = new_page(&g, 0, 0, 0);
    for (size_t i = 0; !rc && i < csv->nrows; i++) {
        g.row = &csv->rows[i];
        rc = csv->rows[i].kind == ESPFAB_NVS_NAMESPACE ? write_namespace(&g, i)
                                                        : write_row(&g, &csv->rows[i]);
    }
    g.row = NULL;
    if (!rc && !read_only) {
        while (!rc && g.size_left > 0)
            rc = new_page(&g, 0, 1, 0);
        if (!rc)
            rc = new_page(&g, 1, 1, 1);
    }
    if (rc) {
        free(g.buf);
        return rc;
    }
    *out = g.buf;
    *out_len = g.npages * ESPFAB_NVS_PAGE;
    return 0;
}

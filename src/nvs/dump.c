/*
 * dump.c - an NVS partition decoded back into pages and entries (nvs.h),
 * for `espfab nvs dump` and the tests.  Pure: reads the caller's buffer,
 * reports through the visitor.  docs/nvs.md describes the layout.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "espfab/nvs.h"

#define ENTRIES 126u

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(0xFFFFFFFFul, p, (uInt)n);
}

static int entry_crc_ok(const uint8_t *e)
{
    uint8_t tmp[28];
    memcpy(tmp, e, 4);
    memcpy(tmp + 4, e + 8, 24);
    return crc(tmp, 28) == le32(e + 4);
}

static unsigned entry_state(const uint8_t *pg, unsigned i)
{
    return (pg[32 + i / 4] >> ((i % 4) * 2)) & 3u; /* 3 empty, 2 written, 0 erased */
}

const char *espfab_nvs_type_name(uint8_t type)
{
    switch (type) {
    case ESPFAB_NVS_T_U8: return "u8";
    case ESPFAB_NVS_T_I8: return "i8";
    case ESPFAB_NVS_T_U16: return "u16";
    case ESPFAB_NVS_T_I16: return "i16";
    case ESPFAB_NVS_T_U32: return "u32";
    case ESPFAB_NVS_T_I32: return "i32";
    case ESPFAB_NVS_T_U64: return "u64";
    case ESPFAB_NVS_T_I64: return "i64";
    case ESPFAB_NVS_T_STR: return "string";
    case ESPFAB_NVS_T_BLOB: return "blob";
    case ESPFAB_NVS_T_BLOB_DATA: return "blob_data";
    case ESPFAB_NVS_T_BLOB_IDX: return "blob_index";
    default: return "?";
    }
}

static int is_varlen(uint8_t t)
{
    return t == ESPFAB_NVS_T_STR || t == ESPFAB_NVS_T_BLOB || t == ESPFAB_NVS_T_BLOB_DATA;
}

/* Span of a written entry, clipped to the page; 1 for anything odd. */
static unsigned span_of(const uint8_t *e, unsigned i, unsigned *bad)
{
    unsigned span = e[2];
    if (span == 0 || i + span > ENTRIES) {
        *bad |= ESPFAB_NVS_BAD_SPAN;
        return 1;
    }
    return span;
}

typedef struct dec {
    const uint8_t *buf;
    size_t npages;
    char names[256][ESPFAB_NVS_KEY_MAX + 1];
    uint8_t named[256];
} dec_t;

/* Concatenates the chunks [start, start+count) of (ns, key) into *out. */
static int assemble(const dec_t *d, const uint8_t *idx, uint8_t **out, size_t *len)
{
    uint32_t size = le32(idx + 24);
    unsigned count = idx[28], start = idx[29];
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return ESPFAB_E_NOMEM;
    size_t have = 0;
    for (unsigned c = start; c < start + count; c++) {
        int found = 0;
        for (size_t p = 0; p < d->npages && !found; p++) {
            const uint8_t *pg = d->buf + p * ESPFAB_NVS_PAGE;
            for (unsigned i = 0; i < ENTRIES && !found; i++) {
                const uint8_t *e = pg + 64 + 32 * i;
                if (entry_state(pg, i) != 2 || e[1] != ESPFAB_NVS_T_BLOB_DATA || e[0] != idx[0] ||
                    e[3] != c || memcmp(e + 8, idx + 8, 16))
                    continue;
                size_t n = (size_t)e[24] | (size_t)e[25] << 8;
                if (n > (ENTRIES - 1 - i) * 32u || have + n > size)
                    break;
                memcpy(b + have, e + 32, n);
                have += n;
                found = 1;
            }
        }
        if (!found)
            break;
    }
    if (have != size) {
        free(b);
        *out = NULL;
        return 1;
    }
    *out = b;
    *len = have;
    return 0;
}

static int visit_entry(dec_t *d, unsigned p, unsigned i, unsigned *span_out,
                       espfab_nvs_visit_fn fn, void *ctx)
{
    const uint8_t *pg = d->buf + (size_t)p * ESPFAB_NVS_PAGE;
    const uint8_t *e = pg + 64 + 32 * i;
    espfab_nvs_ev_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = ESPFAB_NVS_EV_ENTRY;
    ev.page = p;
    ev.entry = i;
    ev.ns = e[0];
    ev.type = e[1];
    ev.span = e[2];
    ev.chunk = e[3];
    memcpy(ev.key, e + 8, ESPFAB_NVS_KEY_MAX);
    ev.key[ESPFAB_NVS_KEY_MAX] = 0;
    ev.ns_name = e[0] && d->named[e[0]] ? d->names[e[0]] : NULL;
    if (!entry_crc_ok(e))
        ev.bad |= ESPFAB_NVS_BAD_ENTRY_CRC;
    unsigned span = span_of(e, i, &ev.bad);
    uint8_t *assembled = NULL;
    if (is_varlen(e[1])) {
        size_t n = (size_t)e[24] | (size_t)e[25] << 8;
        if (n > (span - 1) * 32u) {
            ev.bad |= ESPFAB_NVS_BAD_SPAN;
        } else {
            ev.data = e + 32;
            ev.data_len = n;
            if (crc(ev.data, n) != le32(e + 28))
                ev.bad |= ESPFAB_NVS_BAD_DATA_CRC;
        }
    } else if (e[1] == ESPFAB_NVS_T_BLOB_IDX) {
        ev.blob_size = le32(e + 24);
        ev.chunk_count = e[28];
        ev.chunk_start = e[29];
        int rc = assemble(d, e, &assembled, &ev.data_len);
        if (rc < 0)
            return rc;
        if (rc)
            ev.bad |= ESPFAB_NVS_BAD_BLOB;
        ev.data = assembled;
    } else {
        unsigned w = (e[1] & 0x0F) <= 8 ? (e[1] & 0x0F) : 8;
        for (unsigned k = 0; k < w; k++)
            ev.u |= (uint64_t)e[24 + k] << (8 * k);
    }
    fn(&ev, ctx);
    free(assembled);
    *span_out = span;
    return (ev.bad & ESPFAB_NVS_BAD_ENTRY_CRC ? 1 : 0) + (ev.bad & ESPFAB_NVS_BAD_DATA_CRC ? 1 : 0) +
           (ev.bad & (ESPFAB_NVS_BAD_SPAN | ESPFAB_NVS_BAD_BLOB) ? 1 : 0);
}

int espfab_nvs_decode(const uint8_t *buf, size_t len, espfab_nvs_visit_fn fn, void *ctx)
{
    dec_t *d = calloc(1, sizeof *d);
    if (!d)
        return ESPFAB_E_NOMEM;
    d->buf = buf;
    d->npages = len / ESPFAB_NVS_PAGE;
    /* namespaces first, so that entries before their declaration still get a name */
    for (size_t p = 0; p < d->npages; p++) {
        const uint8_t *pg = buf + p * ESPFAB_NVS_PAGE;
        for (unsigned i = 0; i < ENTRIES; i++) {
            const uint8_t *e = pg + 64 + 32 * i;
            if (entry_state(pg, i) == 2 && e[0] == 0 && e[1] == ESPFAB_NVS_T_U8 &&
                entry_crc_ok(e)) {
                memcpy(d->names[e[24]], e + 8, ESPFAB_NVS_KEY_MAX);
                d->named[e[24]] = 1;
            }
        }
    }
    int problems = 0;
    for (unsigned p = 0; p < d->npages; p++) {
        const uint8_t *pg = buf + (size_t)p * ESPFAB_NVS_PAGE;
        espfab_nvs_ev_t ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = ESPFAB_NVS_EV_PAGE;
        ev.page = p;
        ev.empty = 1;
        for (size_t k = 0; k < ESPFAB_NVS_PAGE && ev.empty; k++)
            ev.empty = pg[k] == 0xFF;
        ev.state = le32(pg);
        ev.seq = le32(pg + 4);
        ev.version = pg[8];
        if (!ev.empty && ev.state != 0xFFFFFFFFu && crc(pg + 4, 24) != le32(pg + 28)) {
            ev.bad = ESPFAB_NVS_BAD_HEADER_CRC;
            problems++;
        }
        fn(&ev, ctx);
        if (ev.empty)
            continue;
        for (unsigned i = 0; i < ENTRIES;) {
            if (entry_state(pg, i) != 2) {
                i++;
                continue;
            }
            unsigned span = 1;
            int rc = visit_entry(d, p, i, &span, fn, ctx);
            if (rc < 0) {
                free(d);
                return rc;
            }
            problems += rc;
            i += span;
        }
    }
    free(d);
    return problems;
}

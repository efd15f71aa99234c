/*
 * espsim RAM and the known flasher stubs.
 *
 * RAM: what MEM_BEGIN/MEM_DATA write is kept per board, as segments (one per
 * MEM_BEGIN, newest first on reads), bounded by SIM_RAM_MAX bytes and
 * SIM_RAM_SEGS segments (the oldest are forgotten first).  A reset clears it.
 *
 * Stubs: at start-up main.c loads every *.json in the stub directory (the
 * esptool-js files, either naming scheme: "esp32s3.json" or
 * "stub_flasher_32s3.json"; fields "text_start"/"data_start" or
 * "textStart"/"dataStart") into a process-wide catalogue of SHA-256 digests.
 * MEM_END starts the stub persona only when the board's RAM holds exactly
 * one stub of its chip: text and data at their addresses, and the entry
 * point.  Single-threaded like the rest of espsim; nothing here does I/O
 * after sim_stubs_load().
 */
#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espsim.h"

#define STUB_JSON_MAX (4u << 20)

typedef struct {
    sim_chip_id_t chip;
    uint32_t entry, text_start, text_len, data_start, data_len;
    uint8_t text_sha[32], data_sha[32];
    char file[64];
} sim_stub_t;

static struct {
    sim_stub_t *v;
    size_t n;
    bool accept_any;
} cat;

/* ---- RAM -------------------------------------------------------------- */

void sim_ram_clear(sim_board_t *b)
{
    for (int i = 0; i < b->nram; i++)
        free(b->ram[i].data);
    b->nram = 0;
    b->ram_bytes = 0;
    b->ram_open = false;
}

static void ram_drop_oldest(sim_board_t *b)
{
    b->ram_bytes -= b->ram[0].cap;
    free(b->ram[0].data);
    memmove(&b->ram[0], &b->ram[1], (size_t)(b->nram - 1) * sizeof b->ram[0]);
    b->nram--;
}

void sim_ram_begin(sim_board_t *b, uint32_t addr, uint32_t size)
{
    sim_ram_seg_t *s;
    b->ram_open = false;
    if (size == 0 || size > SIM_RAM_MAX)
        return; /* kept nowhere: what follows is not remembered */
    while (b->nram > 0 &&
           (b->nram == SIM_RAM_SEGS || b->ram_bytes + size > SIM_RAM_MAX))
        ram_drop_oldest(b);
    s = &b->ram[b->nram];
    s->data = malloc(size);
    if (!s->data)
        abort();
    s->addr = addr;
    s->cap = size;
    s->len = 0;
    b->nram++;
    b->ram_bytes += size;
    b->ram_open = true;
}

void sim_ram_data(sim_board_t *b, uint32_t addr, const uint8_t *p, uint32_t n)
{
    sim_ram_seg_t *s = b->ram_open ? &b->ram[b->nram - 1] : NULL;
    /* only the segment MEM_BEGIN opened, written in order */
    if (!s || addr != s->addr + s->len || n > s->cap - s->len)
        return;
    memcpy(s->data + s->len, p, n);
    s->len += n;
}

/* The byte at addr as written by the newest upload covering it. */
static bool ram_byte(const sim_board_t *b, uint32_t addr, uint8_t *out)
{
    for (int i = b->nram - 1; i >= 0; i--) {
        const sim_ram_seg_t *s = &b->ram[i];
        if (addr >= s->addr && addr - s->addr < s->len) {
            *out = s->data[addr - s->addr];
            return true;
        }
    }
    return false;
}

bool sim_ram_read32(const sim_board_t *b, uint32_t addr, uint32_t *val)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t c;
        if (!ram_byte(b, addr + (uint32_t)k, &c))
            return false;
        v |= (uint32_t)c << (8 * k);
    }
    *val = v;
    return true;
}

/* SHA-256 of [addr, addr+len) if every byte of it was written. */
static bool ram_sha(const sim_board_t *b, uint32_t addr, uint32_t len,
                    uint8_t sha[32])
{
    uint8_t *buf = malloc(len ? len : 1);
    unsigned dl = 0;
    bool ok = true;
    if (!buf)
        abort();
    for (uint32_t i = 0; i < len && ok; i++)
        ok = ram_byte(b, addr + i, &buf[i]);
    if (ok)
        EVP_Digest(buf, len, sha, &dl, EVP_sha256(), NULL);
    free(buf);
    return ok;
}

/* ---- the stub catalogue ------------------------------------------------- */

size_t sim_stubs_count(void)
{
    return cat.n;
}

void sim_stubs_accept_any(bool on)
{
    cat.accept_any = on;
}

bool sim_stubs_accepting_any(void)
{
    return cat.accept_any;
}

const char *sim_stubs_match(const sim_board_t *b, uint32_t entry)
{
    if (cat.accept_any)
        return "any upload (--accept-any-stub)";
    for (size_t i = 0; i < cat.n; i++) {
        const sim_stub_t *s = &cat.v[i];
        uint8_t sha[32];
        if (s->chip != b->chip_id || s->entry != entry)
            continue;
        if (!ram_sha(b, s->text_start, s->text_len, sha) ||
            memcmp(sha, s->text_sha, 32) != 0)
            continue;
        if (s->data_len && (!ram_sha(b, s->data_start, s->data_len, sha) ||
                            memcmp(sha, s->data_sha, 32) != 0))
            continue;
        return s->file;
    }
    return NULL;
}

/* The chip a file name stands for: "esp32s3.json", "esp32p4-rev1.json",
 * "stub_flasher_32s3.json", "stub_flasher_8266.json"; -1 if none. */
static int chip_of_file(const char *file)
{
    char name[64];
    const char *p = file;
    size_t k = 0;
    if (!strncmp(p, "stub_flasher_", 13)) {
        p += 13;
        memcpy(name, "esp", 3);
        k = 3;
    }
    while (*p && *p != '.' && *p != '-' && k < sizeof name - 1)
        name[k++] = *p++;
    name[k] = '\0';
    return sim_chip_by_name(name);
}

/* ---- a JSON object's top-level members (just what the stub files need) -- */

typedef struct {
    const char *p, *end;
} js_t;

static void js_ws(js_t *j)
{
    while (j->p < j->end && strchr(" \t\r\n", *j->p))
        j->p++;
}

/* A string: s and n point into the text (escapes left in). */
static bool js_string(js_t *j, const char **s, size_t *n)
{
    const char *q;
    if (j->p >= j->end || *j->p != '"')
        return false;
    q = ++j->p;
    while (j->p < j->end && *j->p != '"')
        j->p += *j->p == '\\' ? 2 : 1;
    if (j->p >= j->end)
        return false;
    *s = q;
    *n = (size_t)(j->p - q);
    j->p++;
    return true;
}

/* Skips any value (nested objects and arrays included). */
static bool js_skip(js_t *j)
{
    int depth = 0;
    do {
        const char *s;
        size_t n;
        js_ws(j);
        if (j->p >= j->end)
            return false;
        if (*j->p == '"') {
            if (!js_string(j, &s, &n))
                return false;
        } else if (*j->p == '{' || *j->p == '[') {
            depth++;
            j->p++;
        } else if (*j->p == '}' || *j->p == ']') {
            depth--;
            j->p++;
        } else if (*j->p == ',' || *j->p == ':') {
            j->p++;
        } else { /* a number or literal */
            while (j->p < j->end && !strchr(",:]} \t\r\n", *j->p))
                j->p++;
        }
    } while (depth > 0);
    return true;
}

static bool key_is(const char *k, size_t n, const char *a, const char *b)
{
    return (strlen(a) == n && !memcmp(k, a, n)) ||
           (b && strlen(b) == n && !memcmp(k, b, n));
}

/* base64 (JSON backslash escapes of the slash allowed), malloc'd. */
static uint8_t *b64(const char *s, size_t n, uint32_t *len)
{
    char *t = malloc(n + 1);
    uint8_t *out;
    size_t k = 0, pad = 0;
    int r;
    if (!t)
        abort();
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\\')
            t[k++] = s[i];
    t[k] = '\0';
    if (k == 0 || k % 4) {
        free(t);
        return NULL;
    }
    pad = (t[k - 1] == '=') + (k > 1 && t[k - 2] == '=');
    out = malloc(k / 4 * 3 + 1);
    if (!out)
        abort();
    r = EVP_DecodeBlock(out, (const unsigned char *)t, (int)k);
    free(t);
    if (r < 0) {
        free(out);
        return NULL;
    }
    *len = (uint32_t)((size_t)r - pad);
    return out;
}

static bool parse_stub(const char *text, size_t len, sim_stub_t *st)
{
    js_t j = {text, text + len};
    const char *tx = NULL, *dt = NULL;
    size_t txn = 0, dtn = 0;
    bool have_entry = false, have_ts = false, have_ds = false;
    uint8_t *buf;
    unsigned dl;
    js_ws(&j);
    if (j.p >= j.end || *j.p++ != '{')
        return false;
    for (;;) {
        const char *k;
        size_t kn;
        js_ws(&j);
        if (j.p < j.end && *j.p == '}')
            break;
        if (!js_string(&j, &k, &kn))
            return false;
        js_ws(&j);
        if (j.p >= j.end || *j.p++ != ':')
            return false;
        js_ws(&j);
        if (key_is(k, kn, "text", NULL)) {
            if (!js_string(&j, &tx, &txn))
                return false;
        } else if (key_is(k, kn, "data", NULL)) {
            if (!js_string(&j, &dt, &dtn))
                return false;
        } else if (key_is(k, kn, "entry", NULL) ||
                   key_is(k, kn, "text_start", "textStart") ||
                   key_is(k, kn, "data_start", "dataStart")) {
            char *e;
            unsigned long long v = strtoull(j.p, &e, 10);
            if (e == j.p || v > 0xFFFFFFFFull)
                return false;
            j.p = e;
            if (key_is(k, kn, "entry", NULL))
                st->entry = (uint32_t)v, have_entry = true;
            else if (key_is(k, kn, "text_start", "textStart"))
                st->text_start = (uint32_t)v, have_ts = true;
            else
                st->data_start = (uint32_t)v, have_ds = true;
        } else if (!js_skip(&j)) {
            return false;
        }
        js_ws(&j);
        if (j.p < j.end && *j.p == ',')
            j.p++;
    }
    if (!have_entry || !have_ts || !tx || (dt && !have_ds))
        return false;
    if (!(buf = b64(tx, txn, &st->text_len)))
        return false;
    EVP_Digest(buf, st->text_len, st->text_sha, &dl, EVP_sha256(), NULL);
    free(buf);
    if (dt) {
        if (!(buf = b64(dt, dtn, &st->data_len)))
            return false;
        EVP_Digest(buf, st->data_len, st->data_sha, &dl, EVP_sha256(), NULL);
        free(buf);
    }
    return st->text_len > 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        (unsigned long)n > STUB_JSON_MAX || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (!buf)
        abort();
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

int sim_stubs_load(const char *dir, char *msg, size_t msgn)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int loaded = 0, bad = 0;
    if (!d) {
        snprintf(msg, msgn, "cannot open the directory");
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name), len = 0;
        char path[4096];
        char *text;
        sim_stub_t st;
        int chip;
        if (nl < 6 || strcmp(e->d_name + nl - 5, ".json") != 0 ||
            (chip = chip_of_file(e->d_name)) < 0)
            continue; /* not a stub, or one for a chip espsim lacks */
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        memset(&st, 0, sizeof st);
        st.chip = (sim_chip_id_t)chip;
        snprintf(st.file, sizeof st.file, "%s", e->d_name);
        text = slurp(path, &len);
        if (!text || !parse_stub(text, len, &st)) {
            bad++;
            free(text);
            continue;
        }
        free(text);
        cat.v = realloc(cat.v, (cat.n + 1) * sizeof *cat.v);
        if (!cat.v)
            abort();
        cat.v[cat.n++] = st;
        loaded++;
    }
    closedir(d);
    snprintf(msg, msgn, "%d stub file%s read%s", loaded, loaded == 1 ? "" : "s",
             bad ? ", some unreadable" : "");
    return loaded;
}

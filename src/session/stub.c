/*
 * stub.c - loads a flasher stub (docs/protocol.md 7.1) from the JSON files of the
 * esptool-js npm package.  The JSON is read with SQLite's json functions on a
 * private in-memory database; base64 is decoded with OpenSSL.  Synchronous,
 * no shared state: each call opens and closes its own database handle.
 */
#include "espfab/stub.h"

#include "espfab/build.h"
#include "espfab/profile.h" /* espfab_sha256_hex */

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#ifndef ESPFAB_DEFAULT_STUB_DIR
#define ESPFAB_DEFAULT_STUB_DIR "tools/npm/node_modules/esptool-js/lib/targets/stub_flasher"
#endif

/* Larger than any stub JSON published so far (about 40 KiB) by a wide margin. */
#define STUB_JSON_MAX (4u * 1024u * 1024u)

const char *espfab_stub_default_dir(const char *dir)
{
    if (dir && *dir)
        return dir;
    const char *env = getenv("ESPFAB_STUB_DIR");
    if (env && *env)
        return env;
    const char *installed = espfab_build_installed_stub_dir();
    return installed ? installed : ESPFAB_DEFAULT_STUB_DIR;
}

void espfab_stub_free(espfab_stub_t *s)
{
    if (!s)
        return;
    free(s->text);
    free(s->data);
    memset(s, 0, sizeof(*s));
}

/* Reads a whole file; 0, or -errno (ENOENT when it does not exist). */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -errno;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        int e = errno;
        fclose(fp);
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(fp);
        return -EISDIR;
    }
    if ((unsigned long long)st.st_size > STUB_JSON_MAX) {
        fclose(fp);
        return -EFBIG;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return -ENOMEM;
    }
    size_t got = fread(buf, 1, n, fp);
    int err = ferror(fp) ? EIO : 0;
    fclose(fp);
    if (err) {
        free(buf);
        return -err;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

/*
 * Decodes standard base64 (no whitespace) into a malloc'd buffer.
 * EVP_DecodeBlock() reports 3 bytes per 4 input characters, padding
 * included, so the '=' count is subtracted from its result.  Returns 0 or
 * -1 with *why set.
 */
static int b64_decode(const char *in, uint8_t **out, size_t *out_len, const char **why)
{
    size_t n = strlen(in);
    if (n == 0) {
        *why = "is empty";
        return -1;
    }
    if (n % 4 != 0 || n > INT_MAX) {
        *why = "is not valid base64 (its length is not a multiple of 4)";
        return -1;
    }
    size_t pad = 0;
    if (in[n - 1] == '=')
        pad++;
    if (n >= 2 && in[n - 2] == '=')
        pad++;
    /* '=' may only appear as the final padding. */
    if (memchr(in, '=', n - pad)) {
        *why = "is not valid base64 ('=' inside the data)";
        return -1;
    }
    uint8_t *buf = malloc(n / 4 * 3 + 1);
    if (!buf) {
        *why = "could not be decoded (out of memory)";
        return -1;
    }
    int r = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
    if (r < 0 || (size_t)r != n / 4 * 3) {
        free(buf);
        *why = "is not valid base64 (bad character)";
        return -1;
    }
    *out = buf;
    *out_len = (size_t)r - pad;
    return 0;
}

enum { K_ENTRY, K_TEXT, K_TEXT_START, K_DATA, K_DATA_START, K_COUNT };
static const char *const key_names[K_COUNT] = {"entry", "text", "text_start", "data", "data_start"};

/* Reads an integer field that must fit a 32-bit address. */
static int get_u32(sqlite3_stmt *st, int col, const char *key, const char *path, uint32_t *out,
                   espfab_fault_t *f)
{
    if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
        return espfab_fault_set(f, ESPFAB_E_STUB_BAD, "%s: \"%s\" is %s, expected an integer address",
                                path, key,
                                sqlite3_column_type(st, col) == SQLITE_NULL ? "missing" : "not an integer");
    sqlite3_int64 v = sqlite3_column_int64(st, col);
    if (v < 0 || v > 0xFFFFFFFFll)
        return espfab_fault_set(f, ESPFAB_E_STUB_BAD, "%s: \"%s\" = %lld is not a 32-bit address",
                                path, key, (long long)v);
    *out = (uint32_t)v;
    return 0;
}

/* Decodes the base64 string field at col; missing is an error unless optional. */
static int get_b64(sqlite3_stmt *st, int col, const char *key, const char *path, bool optional,
                   uint8_t **out, size_t *len, espfab_fault_t *f)
{
    int t = sqlite3_column_type(st, col);
    if (t == SQLITE_NULL) {
        if (optional)
            return 0;
        return espfab_fault_set(f, ESPFAB_E_STUB_BAD, "%s: \"%s\" is missing", path, key);
    }
    if (t != SQLITE_TEXT)
        return espfab_fault_set(f, ESPFAB_E_STUB_BAD, "%s: \"%s\" is not a base64 string", path, key);
    const char *why = "";
    if (b64_decode((const char *)sqlite3_column_text(st, col), out, len, &why) != 0)
        return espfab_fault_set(f, ESPFAB_E_STUB_BAD, "%s: \"%s\" %s", path, key, why);
    return 0;
}

/* Parses one stub JSON text into out (path already set). */
static int parse_json(const char *json, size_t len, const char *path, espfab_stub_t *out,
                      espfab_fault_t *f)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK) {
        rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: could not open an in-memory SQLite database", path);
        goto done;
    }
    /* json_valid first: json_extract on malformed text is an SQL error with a
     * less useful message.  '$.x' yields NULL for a missing key. */
    static const char sql[] =
        "SELECT json_valid(?1), json_type(?1), json_extract(?1,'$.entry'), json_extract(?1,'$.text'),"
        " json_extract(?1,'$.text_start'), json_extract(?1,'$.data'), json_extract(?1,'$.data_start')";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = espfab_fault_set(f, ESPFAB_E_NOT_SUPPORTED, "%s: this SQLite has no JSON functions (%s)",
                              path, sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_bind_text(st, 1, json, (int)len, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        rc = espfab_fault_set(f, ESPFAB_E_STUB_BAD, "%s: not valid JSON (%s)", path, sqlite3_errmsg(db));
        goto done;
    }
    if (sqlite3_column_int(st, 0) != 1) {
        rc = espfab_fault_set(f, ESPFAB_E_STUB_BAD, "%s: not valid JSON", path);
        goto done;
    }
    const char *type = (const char *)sqlite3_column_text(st, 1);
    if (!type || strcmp(type, "object") != 0) {
        rc = espfab_fault_set(f, ESPFAB_E_STUB_BAD, "%s: the JSON is a%s %s, expected an object", path,
                              type && strchr("aeiou", type[0]) ? "n" : "", type ? type : "null");
        goto done;
    }
    const int col0 = 2;
    if ((rc = get_u32(st, col0 + K_ENTRY, key_names[K_ENTRY], path, &out->entry, f)) != 0)
        goto done;
    if ((rc = get_u32(st, col0 + K_TEXT_START, key_names[K_TEXT_START], path, &out->text_start, f)) != 0)
        goto done;
    if ((rc = get_b64(st, col0 + K_TEXT, key_names[K_TEXT], path, false, &out->text, &out->text_len, f)) != 0)
        goto done;
    if ((rc = get_b64(st, col0 + K_DATA, key_names[K_DATA], path, true, &out->data, &out->data_len, f)) != 0)
        goto done;
    if (out->data) {
        if ((rc = get_u32(st, col0 + K_DATA_START, key_names[K_DATA_START], path, &out->data_start, f)) != 0)
            goto done;
    } else {
        out->data_start = 0;
        out->data_len = 0;
    }
    if (out->text_len == 0) {
        rc = espfab_fault_set(f, ESPFAB_E_STUB_BAD, "%s: \"text\" decodes to no bytes", path);
        goto done;
    }
    /* The entry point must lie inside the uploaded code. */
    if (out->entry < out->text_start || (uint64_t)out->entry >= (uint64_t)out->text_start + out->text_len) {
        rc = espfab_fault_set(f, ESPFAB_E_STUB_BAD,
                              "%s: entry 0x%08X is outside the text segment [0x%08X, +%zu)", path,
                              out->entry, out->text_start, out->text_len);
        goto done;
    }
done:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

int espfab_stub_load(const char *dir, const espfab_chip_t *chip, int rev_full, espfab_stub_t *out,
                     espfab_fault_t *f)
{
    if (!chip || !out)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_stub_load: chip or out is NULL");
    memset(out, 0, sizeof(*out));
    const char *d = espfab_stub_default_dir(dir);

    /* Candidate file names, newest scheme first. */
    const char *names[3];
    int nnames = 0;
    if (chip->id == ESPFAB_CHIP_ESP32P4 && rev_full >= 0 && rev_full < 300)
        names[nnames++] = "esp32p4-rev1.json";
    if (chip->stub_file)
        names[nnames++] = chip->stub_file;
    if (chip->stub_file_legacy)
        names[nnames++] = chip->stub_file_legacy;
    if (nnames == 0)
        return espfab_fault_set(f, ESPFAB_E_STUB_NOT_FOUND, "no flasher stub is known for %s; use --no-stub",
                                chip->name ? chip->name : "this chip");

    char tried[200] = "";
    size_t tl = 0;
    for (int i = 0; i < nnames; i++) {
        char path[sizeof(out->path)];
        int n = snprintf(path, sizeof(path), "%s/%s", d, names[i]);
        if (n < 0 || (size_t)n >= sizeof(path))
            return espfab_fault_set(f, ESPFAB_E_STUB_NOT_FOUND, "stub directory path too long: %s", d);
        char *json = NULL;
        size_t len = 0;
        int r = read_file(path, &json, &len);
        if (r == -ENOENT || r == -ENOTDIR) {
            int w = snprintf(tried + tl, sizeof(tried) - tl, "%s%s", tl ? ", " : "", names[i]);
            if (w > 0 && (size_t)w < sizeof(tried) - tl)
                tl += (size_t)w;
            continue;
        }
        if (r != 0) {
            espfab_fault_errno(f, r == -EFBIG || r == -EISDIR ? ESPFAB_E_STUB_BAD : ESPFAB_E_STUB_NOT_FOUND,
                               -r, "%s: cannot read the stub file", path);
            return f ? f->code : r;
        }
        snprintf(out->path, sizeof(out->path), "%s", path);
        espfab_sha256_hex(json, len, out->sha256);
        r = parse_json(json, len, path, out, f);
        free(json);
        if (r != 0) {
            espfab_stub_free(out);
            return r;
        }
        return 0;
    }
    /* The detail is what the user sees: the directory, every name tried and
     * how the directory was chosen. */
    const char *src = (dir && *dir)               ? "--stub-dir"
                      : (getenv("ESPFAB_STUB_DIR") && *getenv("ESPFAB_STUB_DIR")) ? "$ESPFAB_STUB_DIR"
                      : espfab_build_installed_stub_dir()                         ? "installed"
                                                                                : "built-in default";
    return espfab_fault_set(f, ESPFAB_E_STUB_NOT_FOUND, "%s stub: tried %s in %s (%s)",
                            chip->name ? chip->name : chip->key, tried, d, src);
}

/* ---- a run's stubs ---------------------------------------------------------- */

/* Keyed by chip and, for the P4, by the revision family that picks the file.
 * Entries never move (sessions hold pointers to them).  Only successes are
 * kept: a board whose stub is missing fails, and the next board of that chip
 * looks again (the operator may have fixed the folder meanwhile). */
typedef struct stub_entry {
    struct stub_entry *next;
    int chip_id;
    bool p4_rev1;
    espfab_stub_t stub;
} stub_entry_t;

struct espfab_stub_cache {
    char *dir;
    stub_entry_t *head;
    size_t n;
};

espfab_stub_cache_t *espfab_stub_cache_new(const char *dir)
{
    espfab_stub_cache_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (dir && !(c->dir = strdup(dir))) {
        free(c);
        return NULL;
    }
    return c;
}

const espfab_stub_t *espfab_stub_cache_get(espfab_stub_cache_t *c, const espfab_chip_t *chip, int rev_full,
                                           espfab_fault_t *f)
{
    if (!c || !chip) {
        espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_stub_cache_get: cache or chip is NULL");
        return NULL;
    }
    bool p4_rev1 = chip->id == ESPFAB_CHIP_ESP32P4 && rev_full >= 0 && rev_full < 300;
    for (stub_entry_t *e = c->head; e; e = e->next)
        if (e->chip_id == (int)chip->id && e->p4_rev1 == p4_rev1)
            return &e->stub;
    stub_entry_t *e = calloc(1, sizeof(*e));
    if (!e) {
        espfab_fault_set(f, ESPFAB_E_NOMEM, "stub cache");
        return NULL;
    }
    if (espfab_stub_load(c->dir, chip, rev_full, &e->stub, f) < 0) {
        free(e);
        return NULL;
    }
    e->chip_id = (int)chip->id;
    e->p4_rev1 = p4_rev1;
    e->next = c->head;
    c->head = e;
    c->n++;
    return &e->stub;
}

size_t espfab_stub_cache_count(const espfab_stub_cache_t *c)
{
    return c ? c->n : 0;
}

void espfab_stub_cache_free(espfab_stub_cache_t *c)
{
    if (!c)
        return;
    while (c->head) {
        stub_entry_t *e = c->head;
        c->head = e->next;
        espfab_stub_free(&e->stub);
        free(e);
    }
    free(c->dir);
    free(c);
}

/*
 * chain.c - the tamper-evident chain of completed attempts, the maintenance
 * log and the triggers the migrations create (see store_int.h,
 * docs/record.md).
 *
 * Canonical encoding of link seq (version 1; never change it: add a
 * version 2 beside it).  The link's sha256 is SHA-256 over these bytes:
 *
 *   "espfab-chain-1\n"
 *   field(seq) field(prev)                      prev: the hex hash of link seq-1,
 *                                               64 '0' for the first link
 *   field(c) for each attempts column c, in CHAIN_ATTEMPT_COLS order
 *   then per region, in idx order: "region\n" and field(c) for each
 *                                  attempt_regions column in CHAIN_REGION_COLS order
 *   "end\n"
 *
 *   field(c) = <column name> "=" value "\n", where value is the stored value
 *   by its SQLite storage class: NULL "N"; integer "I" and its decimal digits
 *   (with '-' when negative); real "R" and printf("%.17g"); text "T", its
 *   length in bytes in decimal, ":" and the bytes; blob "B", length, ":",
 *   bytes.  Text is length-prefixed, so no value can imitate a separator.
 *
 * The values are read back from the database after the row was written, in
 * the same transaction, so `db check` recomputes exactly what was hashed.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

#define CHAIN_ATTEMPT_COLS                                                              \
    "id, run_id, station, line, slot, port, operator, lot, profile_name, "              \
    "profile_sha256, chip, rev_full, mac, chip_id, has_secinfo, secinfo_flags, "        \
    "flash_jedec, flash_size, xtal_mhz, loader, baud, started_at, start_ms, ended_at, " \
    "end_ms, ms_connect, ms_identify, ms_stub, ms_baud, ms_erase, ms_write, ms_verify, " \
    "ms_reset, bytes_sent, bytes_received, outcome, error_code, error_name, "           \
    "rom_status, rom_error, stub_error, sys_errno, retries, detail, message"
#define CHAIN_REGION_COLS                                                               \
    "idx, flash_offset, file, sha256, md5_expected, md5_device, size, wire_size, "      \
    "compressed, written, verified"

static const char zero_hash[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static void put(EVP_MD_CTX *md, const void *p, size_t n) { EVP_DigestUpdate(md, p, n); }

static void put_str(EVP_MD_CTX *md, const char *s) { put(md, s, strlen(s)); }

/* field(name) of column i of st. */
static void put_field(EVP_MD_CTX *md, sqlite3_stmt *st, int i)
{
    char num[64];
    put_str(md, sqlite3_column_name(st, i));
    put_str(md, "=");
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL: put_str(md, "N"); break;
    case SQLITE_INTEGER:
        snprintf(num, sizeof num, "I%lld", (long long)sqlite3_column_int64(st, i));
        put_str(md, num);
        break;
    case SQLITE_FLOAT:
        snprintf(num, sizeof num, "R%.17g", sqlite3_column_double(st, i));
        put_str(md, num);
        break;
    default: {
        bool text = sqlite3_column_type(st, i) == SQLITE_TEXT;
        const void *p = text ? (const void *)sqlite3_column_text(st, i) : sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);
        snprintf(num, sizeof num, "%c%d:", text ? 'T' : 'B', n);
        put_str(md, num);
        if (n > 0)
            put(md, p, (size_t)n);
        break;
    }
    }
    put_str(md, "\n");
}

static void put_named(EVP_MD_CTX *md, const char *name, const char *value_enc)
{
    put_str(md, name);
    put_str(md, "=");
    put_str(md, value_enc);
    put_str(md, "\n");
}

int store_chain_hash(espfab_store_t *s, int64_t seq, const char *prev, int64_t attempt_id,
                     char out[65], bool *found, bool *running, espfab_fault_t *f)
{
    *found = false;
    *running = false;
    out[0] = 0;
    sqlite3_stmt *a = NULL, *r = NULL;
    int rc = store_prepare(s, "SELECT " CHAIN_ATTEMPT_COLS " FROM attempts WHERE id=?1", &a,
                           ESPFAB_E_STORE_OPEN, f);
    if (!rc)
        rc = store_prepare(s, "SELECT " CHAIN_REGION_COLS " FROM attempt_regions "
                              "WHERE attempt_id=?1 ORDER BY idx", &r, ESPFAB_E_STORE_OPEN, f);
    EVP_MD_CTX *md = rc ? NULL : EVP_MD_CTX_new();
    if (!rc && (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1))
        rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: SHA-256", s->path);
    int step = SQLITE_DONE;
    if (!rc) {
        sqlite3_bind_int64(a, 1, attempt_id);
        step = sqlite3_step(a);
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = store_sql_fault(s, f, ESPFAB_E_STORE_OPEN, "read chained attempt");
    }
    if (!rc && step == SQLITE_ROW) {
        *found = true;
        char enc[96];
        put_str(md, "espfab-chain-1\n");
        snprintf(enc, sizeof enc, "I%lld", (long long)seq);
        put_named(md, "seq", enc);
        snprintf(enc, sizeof enc, "T%zu:%s", strlen(prev), prev);
        put_named(md, "prev", enc);
        for (int i = 0; i < sqlite3_column_count(a); i++) {
            put_field(md, a, i);
            if (!strcmp(sqlite3_column_name(a, i), "outcome"))
                *running = !strcmp((const char *)sqlite3_column_text(a, i), "running");
        }
        sqlite3_bind_int64(r, 1, attempt_id);
        while ((step = sqlite3_step(r)) == SQLITE_ROW) {
            put_str(md, "region\n");
            for (int i = 0; i < sqlite3_column_count(r); i++)
                put_field(md, r, i);
        }
        if (step != SQLITE_DONE)
            rc = store_sql_fault(s, f, ESPFAB_E_STORE_OPEN, "read chained regions");
        put_str(md, "end\n");
        unsigned char h[EVP_MAX_MD_SIZE];
        unsigned hn = 0;
        if (!rc && (EVP_DigestFinal_ex(md, h, &hn) != 1 || hn != 32))
            rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: SHA-256", s->path);
        for (unsigned i = 0; !rc && i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", h[i]);
    }
    EVP_MD_CTX_free(md);
    sqlite3_finalize(a);
    sqlite3_finalize(r);
    return rc;
}

int store_maintenance(espfab_store_t *s, const char *action, const char *detail,
                      espfab_fault_t *f)
{
    if (!s->chain)
        return 0;
    sqlite3_stmt *st;
    int rc = store_prepare(s, "INSERT INTO maintenance(at, at_ms, host, pid, action, detail) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st, ESPFAB_E_STORE_WRITE, f);
    if (rc)
        return rc;
    int64_t now = espfab_store_now_ms();
    char iso[32];
    espfab_store_iso8601(now, iso);
    sqlite3_bind_text(st, 1, iso, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_text(st, 3, s->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)getpid());
    sqlite3_bind_text(st, 5, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, detail ? detail : "", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "record maintenance");
    sqlite3_finalize(st);
    return rc;
}

int store_chain_append(espfab_store_t *s, int64_t attempt_id, const char *origin,
                       char out[65], espfab_fault_t *f)
{
    if (out)
        out[0] = '\0';
    if (!s->chain)
        return 0;
    /* The next seq is past every seq ever used (AUTOINCREMENT's own record),
     * so a deleted last link stays a visible gap. */
    int64_t last = 0, used = 0;
    char prev[65];
    snprintf(prev, sizeof prev, "%s", zero_hash);
    sqlite3_stmt *st;
    int rc = store_query_int(s, "SELECT seq FROM sqlite_sequence WHERE name='attempt_chain'",
                             &used, f);
    if (!rc)
        rc = store_prepare(s, "SELECT seq, sha256 FROM attempt_chain ORDER BY seq DESC LIMIT 1",
                           &st, ESPFAB_E_STORE_WRITE, f);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        last = sqlite3_column_int64(st, 0);
        store_copy_text(st, 1, prev, sizeof prev);
    } else if (step != SQLITE_DONE) {
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "read chain head");
    }
    sqlite3_finalize(st);
    if (rc)
        return rc;
    int64_t seq = (used > last ? used : last) + 1;
    char hash[65];
    bool found, running;
    rc = store_chain_hash(s, seq, prev, attempt_id, hash, &found, &running, f);
    if (!rc && (!found || running))
        rc = espfab_fault_set(f, ESPFAB_E_STORE_WRITE, "%s: attempt %lld is %s: not chained",
                              s->path, (long long)attempt_id, found ? "still running" : "missing");
    if (rc)
        return rc;
    rc = store_prepare(s, "INSERT INTO attempt_chain(seq, attempt_id, prev_sha256, sha256, "
                          "origin, chained_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                       &st, ESPFAB_E_STORE_WRITE, f);
    if (rc)
        return rc;
    char iso[32];
    espfab_store_iso8601(espfab_store_now_ms(), iso);
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, attempt_id);
    sqlite3_bind_text(st, 3, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, origin, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, iso, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "append to the attempt chain");
    sqlite3_finalize(st);
    if (!rc && out)
        memcpy(out, hash, 65);
    return rc;
}

int store_chain_backfill(espfab_store_t *s, int64_t *n, espfab_fault_t *f)
{
    *n = 0;
    if (!s->chain)
        return 0;
    /* ids first, links after (never write under an open scan) */
    int64_t *ids = NULL;
    size_t nids = 0, cap = 0;
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT id FROM attempts a WHERE outcome <> 'running' AND NOT "
                              "EXISTS (SELECT 1 FROM attempt_chain c WHERE c.attempt_id = a.id) "
                              "ORDER BY id", &st, ESPFAB_E_STORE_WRITE, f);
    while (!rc) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "scan unchained attempts");
            break;
        }
        if (nids == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            int64_t *p = realloc(ids, ncap * sizeof *p);
            if (!p) {
                rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: chain", s->path);
                break;
            }
            ids = p;
            cap = ncap;
        }
        ids[nids++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    for (size_t i = 0; !rc && i < nids; i++)
        rc = store_chain_append(s, ids[i], "migration", NULL, f);
    free(ids);
    if (!rc && nids) {
        char detail[200];
        snprintf(detail, sizeof detail, "chain started: %zu attempts completed before schema "
                 "version 2 chained in id order", nids);
        rc = store_maintenance(s, "chain-start", detail, f);
    }
    if (!rc)
        *n = (int64_t)nids;
    return rc;
}

int espfab_store_chain_head(espfab_store_t *s, espfab_store_chain_head_t *h, espfab_fault_t *f)
{
    if (!s || !h)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_chain_head");
    memset(h, 0, sizeof *h);
    if (!s->chain)
        return 0;
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT seq, attempt_id, sha256 FROM attempt_chain ORDER BY seq "
                              "DESC LIMIT 1", &st, ESPFAB_E_STORE_OPEN, f);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        h->seq = sqlite3_column_int64(st, 0);
        h->attempt_id = sqlite3_column_int64(st, 1);
        store_copy_text(st, 2, h->sha256, sizeof h->sha256);
    } else if (step != SQLITE_DONE) {
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_OPEN, "read chain head");
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- triggers ---- */

size_t store_triggers_expected(const espfab_store_t *s, store_trigger_t *t, size_t cap)
{
    size_t n = 0;
    static const char kw[] = "CREATE TRIGGER ";
    for (unsigned i = 0; i < s->nmigrations; i++) {
        if (s->migrations[i].version > s->version)
            continue;
        const char *p = s->migrations[i].sql;
        while ((p = strstr(p, kw)) != NULL) {
            const char *name = p + sizeof kw - 1;
            size_t nl = strcspn(name, " \t\n");
            const char *end = strstr(name, "\nEND;");
            if (!end)
                break;
            end += 4; /* through "END" (sqlite_master keeps no ';') */
            if (n < cap && nl < sizeof t[n].name) {
                memcpy(t[n].name, name, nl);
                t[n].name[nl] = 0;
                t[n].sql = p;
                t[n].len = (size_t)(end - p);
                n++;
            }
            p = end;
        }
    }
    return n;
}

int espfab_store_repair_triggers(espfab_store_t *s, int *repaired, espfab_fault_t *f)
{
    if (repaired)
        *repaired = 0;
    if (!s)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_repair_triggers");
    if (s->flags & ESPFAB_STORE_READONLY)
        return espfab_fault_set(f, ESPFAB_E_STORE_WRITE, "%s: opened read-only: triggers "
                                "cannot be repaired", s->path);
    store_trigger_t t[64];
    size_t n = store_triggers_expected(s, t, 64);
    char detail[1024] = "";
    size_t dl = 0;
    int fixed = 0;
    int rc = store_exec(s, "BEGIN IMMEDIATE", ESPFAB_E_STORE_WRITE, "begin trigger repair", f);
    sqlite3_stmt *q = NULL;
    if (!rc)
        rc = store_prepare(s, "SELECT sql FROM sqlite_master WHERE type='trigger' AND name=?1",
                           &q, ESPFAB_E_STORE_WRITE, f);
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, t[i].name, -1, SQLITE_STATIC);
        int step = sqlite3_step(q);
        const char *have = step == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
        bool same = have && strlen(have) == t[i].len && !memcmp(have, t[i].sql, t[i].len);
        sqlite3_reset(q);
        if (same)
            continue;
        char *sql = malloc(t[i].len + 64 + sizeof t[i].name);
        if (!sql) {
            rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: trigger repair", s->path);
            break;
        }
        snprintf(sql, t[i].len + 64 + sizeof t[i].name, "DROP TRIGGER IF EXISTS %s; %.*s;",
                 t[i].name, (int)t[i].len, t[i].sql);
        rc = store_exec(s, sql, ESPFAB_E_STORE_WRITE, "recreate trigger", f);
        free(sql);
        if (dl < sizeof detail)
            dl += (size_t)snprintf(detail + dl, sizeof detail - dl, "%s%s (%s)", fixed ? ", " : "",
                                   t[i].name, have ? "altered" : "missing");
        fixed++;
    }
    sqlite3_finalize(q);
    if (!rc && fixed) {
        char what[1100];
        snprintf(what, sizeof what, "db check --repair-triggers recreated %d: %s", fixed, detail);
        rc = store_maintenance(s, "repair-triggers", what, f);
    }
    if (!rc)
        rc = store_exec(s, "COMMIT", ESPFAB_E_STORE_WRITE, "commit trigger repair", f);
    if (rc) {
        store_rollback(s);
        return rc;
    }
    if (repaired)
        *repaired = fixed;
    return 0;
}

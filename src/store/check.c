/*
 * check.c - what `espfab db check` asks of the store (store.h): the health
 * counts and espfab_store_verify(), which recomputes the attempt chain
 * (chain.c) and looks for deleted rows, reused ids, attempts completed
 * outside espfab, run heads no longer in the chain and missing or altered
 * triggers.  Read-only: works on a database opened ESPFAB_STORE_READONLY.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

int espfab_store_check(espfab_store_t *s, espfab_store_health_t *h, espfab_fault_t *f)
{
    if (!s || !h)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_check");
    memset(h, 0, sizeof *h);
    h->schema_version = s->version;
    h->chain = s->chain;
    sqlite3_stmt *st;
    int rc = store_prepare(s, "PRAGMA integrity_check", &st, ESPFAB_E_STORE_CORRUPT, f);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        store_copy_text(st, 0, h->integrity, sizeof h->integrity);
        h->integrity_ok = strcmp(h->integrity, "ok") == 0;
    } else {
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_CORRUPT, "integrity_check");
    }
    sqlite3_finalize(st);
    if (rc)
        return rc;
    /* open interrupted boards: identified (a MAC), not passed since, and not
     * a board that had only come back after its pass (espfab_attempt_came_back).
     * An attempt interrupted before its MAC was read names no board: it is
     * closed history (unidentified), not an open board. */
    char sql[800];
    snprintf(sql, sizeof sql,
             "SELECT count(*), coalesce(sum(outcome='running'),0), "
             "coalesce(sum(outcome='interrupted'),0), coalesce(sum(outcome='pass'),0), "
             "coalesce(sum(outcome='fail'),0), (SELECT count(*) FROM runs), "
             "(SELECT count(*) FROM attempts a WHERE a.outcome = 'interrupted' "
             " AND a.error_code IS NOT %d AND a.mac <> '' AND NOT "
             " EXISTS (SELECT 1 FROM attempts b WHERE b.mac = a.mac "
             "  AND b.id > a.id AND b.outcome = 'pass')), "
             "coalesce(sum(outcome='interrupted' AND mac='' AND error_code IS NOT %d),0) "
             "FROM attempts",
             espfab_err_number(ESPFAB_E_ALREADY_PASSED), espfab_err_number(ESPFAB_E_ALREADY_PASSED));
    rc = store_prepare(s, sql, &st, ESPFAB_E_STORE_CORRUPT, f);
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        h->attempts = sqlite3_column_int64(st, 0);
        h->running = sqlite3_column_int64(st, 1);
        h->interrupted = sqlite3_column_int64(st, 2);
        h->passed = sqlite3_column_int64(st, 3);
        h->failed = sqlite3_column_int64(st, 4);
        h->runs = sqlite3_column_int64(st, 5);
        h->interrupted_open = sqlite3_column_int64(st, 6);
        h->interrupted_unidentified = sqlite3_column_int64(st, 7);
    } else {
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_CORRUPT, "count attempts");
    }
    sqlite3_finalize(st);
    if (!rc && s->chain) {
        rc = store_query_int(s, "SELECT count(*) FROM attempt_chain", &h->chained, f);
        if (!rc)
            rc = store_query_int(s, "SELECT count(*) FROM maintenance", &h->maintenance, f);
    }
    return rc;
}

/* ---- verify ---- */

typedef struct {
    espfab_store_t *s;
    espfab_store_finding_cb cb;
    void *data;
    int64_t n;
} vctx_t;

static void finding(vctx_t *v, espfab_store_finding_kind_t kind, int64_t attempt_id, int64_t seq,
                    int64_t run_id, const char *fmt, ...)
{
    espfab_store_finding_t x;
    memset(&x, 0, sizeof x);
    x.kind = kind;
    x.attempt_id = attempt_id;
    x.seq = seq;
    x.run_id = run_id;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x.text, sizeof x.text, fmt, ap);
    va_end(ap);
    v->n++;
    if (v->cb)
        v->cb(&x, v->data);
}

/* Runs sql and calls row() for each row; a scan error is a fault. */
static int each_row(vctx_t *v, const char *sql, void (*row)(vctx_t *, sqlite3_stmt *),
                    espfab_fault_t *f)
{
    sqlite3_stmt *st;
    int rc = store_prepare(v->s, sql, &st, ESPFAB_E_STORE_OPEN, f);
    while (!rc) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW)
            rc = store_sql_fault(v->s, f, ESPFAB_E_STORE_OPEN, "verify");
        else
            row(v, st);
    }
    sqlite3_finalize(st);
    return rc;
}

static int verify_triggers(vctx_t *v, espfab_fault_t *f)
{
    store_trigger_t t[64];
    size_t n = store_triggers_expected(v->s, t, 64);
    sqlite3_stmt *q;
    int rc = store_prepare(v->s, "SELECT sql FROM sqlite_master WHERE type='trigger' AND name=?1",
                           &q, ESPFAB_E_STORE_OPEN, f);
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, t[i].name, -1, SQLITE_STATIC);
        int step = sqlite3_step(q);
        if (step == SQLITE_DONE) {
            finding(v, ESPFAB_FINDING_TRIGGER_MISSING, 0, 0, 0,
                    "trigger %s is missing: the record was not protected against rewrites "
                    "(espfab db check --repair-triggers puts it back)", t[i].name);
        } else if (step == SQLITE_ROW) {
            const char *have = (const char *)sqlite3_column_text(q, 0);
            if (!have || strlen(have) != t[i].len || memcmp(have, t[i].sql, t[i].len))
                finding(v, ESPFAB_FINDING_TRIGGER_ALTERED, 0, 0, 0,
                        "trigger %s is not the one espfab created "
                        "(espfab db check --repair-triggers puts it back)", t[i].name);
        } else {
            rc = store_sql_fault(v->s, f, ESPFAB_E_STORE_OPEN, "read triggers");
        }
    }
    sqlite3_finalize(q);
    return rc;
}

/* Walks the links in seq order, recomputing each hash. */
static int verify_links(vctx_t *v, espfab_fault_t *f)
{
    sqlite3_stmt *st;
    int rc = store_prepare(v->s, "SELECT seq, attempt_id, prev_sha256, sha256 FROM "
                                 "attempt_chain ORDER BY seq", &st, ESPFAB_E_STORE_OPEN, f);
    char expect_prev[65];
    memset(expect_prev, '0', 64);
    expect_prev[64] = 0;
    int64_t last = 0;
    bool mismatch_named = false;
    while (!rc) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = store_sql_fault(v->s, f, ESPFAB_E_STORE_OPEN, "read the attempt chain");
            break;
        }
        int64_t seq = sqlite3_column_int64(st, 0), id = sqlite3_column_int64(st, 1);
        char prev[65], sha[65], now[65];
        store_copy_text(st, 2, prev, sizeof prev);
        store_copy_text(st, 3, sha, sizeof sha);
        if (seq != last + 1)
            finding(v, ESPFAB_FINDING_CHAIN_GAP, 0, last + 1, 0,
                    "chain links %lld..%lld are missing (deleted)", (long long)(last + 1),
                    (long long)(seq - 1));
        else if (strcmp(prev, expect_prev) != 0)
            finding(v, ESPFAB_FINDING_CHAIN_BROKEN, id, seq, 0,
                    "chain link %lld (attempt #%lld) does not follow link %lld: the chain was "
                    "rewritten from here", (long long)seq, (long long)id, (long long)last);
        bool found, running;
        rc = store_chain_hash(v->s, seq, prev, id, now, &found, &running, f);
        if (rc)
            break;
        if (!found)
            finding(v, ESPFAB_FINDING_CHAIN_ORPHAN, id, seq, 0,
                    "attempt #%lld (chain link %lld) is gone: deleted", (long long)id,
                    (long long)seq);
        else if (running)
            finding(v, ESPFAB_FINDING_CHAIN_ORPHAN, id, seq, 0,
                    "attempt #%lld (chain link %lld) completed but is 'running' again: rewritten",
                    (long long)id, (long long)seq);
        else if (strcmp(now, sha) != 0) {
            finding(v, ESPFAB_FINDING_CHAIN_MISMATCH, id, seq, 0,
                    "%sattempt #%lld does not match its chain link %lld: it (or its regions) "
                    "changed after it completed", mismatch_named ? "" : "first changed row: ",
                    (long long)id, (long long)seq);
            mismatch_named = true;
        }
        snprintf(expect_prev, sizeof expect_prev, "%s", sha);
        last = seq;
    }
    sqlite3_finalize(st);
    int64_t used = 0;
    if (!rc)
        rc = store_query_int(v->s, "SELECT seq FROM sqlite_sequence WHERE name='attempt_chain'",
                             &used, f);
    if (!rc && used > last)
        finding(v, ESPFAB_FINDING_CHAIN_GAP, 0, last + 1, 0,
                "chain links %lld..%lld, the newest, are missing (deleted)",
                (long long)(last + 1), (long long)used);
    return rc;
}

static void row_unchained(vctx_t *v, sqlite3_stmt *st)
{
    int64_t id = sqlite3_column_int64(st, 0);
    finding(v, ESPFAB_FINDING_UNCHAINED, id, 0, 0,
            "attempt #%lld is completed (%s) but was never chained: it was completed outside "
            "espfab", (long long)id, (const char *)sqlite3_column_text(st, 1));
}

static void row_reused(vctx_t *v, sqlite3_stmt *st)
{
    int64_t id = sqlite3_column_int64(st, 0);
    finding(v, ESPFAB_FINDING_REUSED_ID, id, sqlite3_column_int64(st, 1), 0,
            "attempt id #%lld is chained %lld times (links %s): the row was deleted and its "
            "id reused", (long long)id, (long long)sqlite3_column_int64(st, 2),
            (const char *)sqlite3_column_text(st, 3));
}

static void row_id_gap(vctx_t *v, sqlite3_stmt *st)
{
    const char *table = (const char *)sqlite3_column_text(st, 0);
    int64_t from = sqlite3_column_int64(st, 1), to = sqlite3_column_int64(st, 2);
    bool run = table && table[0] == 'r';
    finding(v, ESPFAB_FINDING_ID_GAP, run ? 0 : from, 0, run ? from : 0,
            "%s ids skip #%lld..#%lld: rows deleted", table ? table : "?", (long long)from,
            (long long)to);
}

static void row_run_head(vctx_t *v, sqlite3_stmt *st)
{
    int64_t run = sqlite3_column_int64(st, 0), seq = sqlite3_column_int64(st, 1);
    const char *now = (const char *)sqlite3_column_text(st, 3);
    finding(v, ESPFAB_FINDING_RUN_HEAD, 0, seq, run,
            "run #%lld ended with chain head %lld:%.16s..., the chain now has %s there",
            (long long)run, (long long)seq, (const char *)sqlite3_column_text(st, 2),
            now ? "another hash" : "no link");
}

int espfab_store_verify(espfab_store_t *s, espfab_store_finding_cb cb, void *data, int64_t *n,
                        espfab_fault_t *f)
{
    if (n)
        *n = 0;
    if (!s)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_verify");
    vctx_t v = {s, cb, data, 0};
    int rc = verify_triggers(&v, f);
    /* ids are never reused or skipped by espfab (rows are never deleted). */
    if (!rc)
        rc = each_row(&v, "SELECT 'attempt', coalesce((SELECT max(b.id) FROM attempts b WHERE "
                          "b.id < a.id), 0) + 1, a.id - 1 FROM attempts a WHERE a.id > 1 AND "
                          "NOT EXISTS (SELECT 1 FROM attempts b WHERE b.id = a.id - 1) "
                          "UNION ALL SELECT 'run', coalesce((SELECT max(b.id) FROM runs b WHERE "
                          "b.id < a.id), 0) + 1, a.id - 1 FROM runs a WHERE a.id > 1 AND "
                          "NOT EXISTS (SELECT 1 FROM runs b WHERE b.id = a.id - 1)",
                      row_id_gap, f);
    if (!rc && s->chain)
        rc = verify_links(&v, f);
    if (!rc && s->chain)
        rc = each_row(&v, "SELECT attempt_id, min(seq), count(*), group_concat(seq) FROM "
                          "attempt_chain GROUP BY attempt_id HAVING count(*) > 1 "
                          "ORDER BY attempt_id", row_reused, f);
    if (!rc && s->chain)
        rc = each_row(&v, "SELECT id, outcome FROM attempts a WHERE outcome <> 'running' AND "
                          "NOT EXISTS (SELECT 1 FROM attempt_chain c WHERE c.attempt_id = a.id) "
                          "ORDER BY id", row_unchained, f);
    if (!rc && s->chain)
        rc = each_row(&v, "SELECT r.id, r.chain_seq, r.chain_head, c.sha256 FROM runs r "
                          "LEFT JOIN attempt_chain c ON c.seq = r.chain_seq "
                          "WHERE r.chain_seq > 0 AND c.sha256 IS NOT r.chain_head ORDER BY r.id",
                      row_run_head, f);
    if (n)
        *n = v.n;
    return rc;
}

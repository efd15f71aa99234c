/*
 * query.c - reading the record (see store.h): espfab_store_query() streams
 * attempts with their regions; the report's queries aggregate in SQLite
 * (boards per MAC with window functions, tallies per lot / station / line /
 * day with GROUP BY) so that no caller holds a table the size of the
 * database: SQLite sorts and groups within its page cache and spills to
 * temporary files.  Read-only; the snapshot functions wrap several queries
 * in one read transaction.
 */
#include "espfab/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

static espfab_outcome_t outcome_parse(const char *t)
{
    if (!t)
        return ESPFAB_OUTCOME_RUNNING;
    if (!strcmp(t, "pass"))
        return ESPFAB_OUTCOME_PASS;
    if (!strcmp(t, "fail"))
        return ESPFAB_OUTCOME_FAIL;
    if (!strcmp(t, "interrupted"))
        return ESPFAB_OUTCOME_INTERRUPTED;
    return ESPFAB_OUTCOME_RUNNING;
}

/* Column i of ATTEMPT_COLS in the SELECT (after id, run_id); the chain link,
 * espfab version and stub follow at C_COUNT + 2 .. C_COUNT + 4. */
#define COL(c) (C_##c + 2)

static void read_attempt(sqlite3_stmt *st, espfab_attempt_t *a, int64_t *run_id)
{
    espfab_attempt_init(a);
    a->id = sqlite3_column_int64(st, 0);
    *run_id = sqlite3_column_int64(st, 1);
    store_copy_text(st, COL(station), a->station, sizeof a->station);
    store_copy_text(st, COL(line), a->line, sizeof a->line);
    store_copy_text(st, COL(slot), a->slot, sizeof a->slot);
    store_copy_text(st, COL(port), a->port, sizeof a->port);
    store_copy_text(st, COL(operator), a->operator_name, sizeof a->operator_name);
    store_copy_text(st, COL(lot), a->lot, sizeof a->lot);
    store_copy_text(st, COL(profile_name), a->profile_name, sizeof a->profile_name);
    store_copy_text(st, COL(profile_sha256), a->profile_sha256, sizeof a->profile_sha256);
    store_copy_text(st, COL(chip), a->chip, sizeof a->chip);
    a->rev_full = sqlite3_column_type(st, COL(rev_full)) == SQLITE_NULL
                      ? -1 : sqlite3_column_int(st, COL(rev_full));
    store_copy_text(st, COL(mac), a->mac, sizeof a->mac);
    store_copy_text(st, COL(chip_id), a->chip_id, sizeof a->chip_id);
    a->has_secinfo = sqlite3_column_int(st, COL(has_secinfo)) != 0;
    a->secinfo_flags = (uint32_t)sqlite3_column_int64(st, COL(secinfo_flags));
    a->flash_jedec = (uint32_t)sqlite3_column_int64(st, COL(flash_jedec));
    a->flash_size = (uint32_t)sqlite3_column_int64(st, COL(flash_size));
    a->xtal_mhz = sqlite3_column_int(st, COL(xtal_mhz));
    store_copy_text(st, COL(loader), a->loader, sizeof a->loader);
    a->baud = (uint32_t)sqlite3_column_int64(st, COL(baud));
    a->start_ms = sqlite3_column_int64(st, COL(start_ms));
    a->end_ms = sqlite3_column_int64(st, COL(end_ms));
    for (int p = 0; p < ESPFAB_PHASE_COUNT; p++)
        a->phase_ms[p] = (uint32_t)sqlite3_column_int64(st, COL(ms_connect) + p);
    a->bytes_sent = (uint64_t)sqlite3_column_int64(st, COL(bytes_sent));
    a->bytes_received = (uint64_t)sqlite3_column_int64(st, COL(bytes_received));
    a->outcome = outcome_parse((const char *)sqlite3_column_text(st, COL(outcome)));
    a->fault.code = -sqlite3_column_int(st, COL(error_code));
    a->fault.rom_status = sqlite3_column_type(st, COL(rom_status)) == SQLITE_NULL
                              ? -1 : sqlite3_column_int(st, COL(rom_status));
    a->fault.rom_error = sqlite3_column_type(st, COL(rom_error)) == SQLITE_NULL
                             ? -1 : sqlite3_column_int(st, COL(rom_error));
    a->fault.stub_error = sqlite3_column_int(st, COL(stub_error));
    a->fault.sys_errno = sqlite3_column_int(st, COL(sys_errno));
    a->fault.retries = sqlite3_column_int(st, COL(retries));
    store_copy_text(st, COL(detail), a->fault.detail, sizeof a->fault.detail);
    store_copy_text(st, COL(message), a->message, sizeof a->message);
    store_copy_text(st, C_COUNT + 2, a->chain_sha256, sizeof a->chain_sha256);
    store_copy_text(st, C_COUNT + 3, a->espfab_version, sizeof a->espfab_version);
    store_copy_text(st, C_COUNT + 4, a->stub_sha256, sizeof a->stub_sha256);
}

static int read_regions(espfab_store_t *s, sqlite3_stmt *rs, espfab_attempt_t *a,
                        espfab_fault_t *f)
{
    sqlite3_reset(rs);
    sqlite3_bind_int64(rs, 1, a->id);
    a->nregions = 0;
    for (;;) {
        int step = sqlite3_step(rs);
        if (step == SQLITE_DONE)
            return 0;
        if (step != SQLITE_ROW)
            return store_sql_fault(s, f, ESPFAB_E_STORE_OPEN, "read attempt regions");
        if (a->nregions >= ESPFAB_MAX_REGIONS)
            continue;
        espfab_region_result_t *r = &a->regions[a->nregions++];
        r->offset = (uint32_t)sqlite3_column_int64(rs, 0);
        store_copy_text(rs, 1, r->file, sizeof r->file);
        store_copy_text(rs, 2, r->sha256, sizeof r->sha256);
        store_copy_text(rs, 3, r->md5_expected, sizeof r->md5_expected);
        store_copy_text(rs, 4, r->md5_device, sizeof r->md5_device);
        r->size = (uint32_t)sqlite3_column_int64(rs, 5);
        r->wire_size = (uint32_t)sqlite3_column_int64(rs, 6);
        r->compressed = sqlite3_column_int(rs, 7) != 0;
        r->written = sqlite3_column_int(rs, 8) != 0;
        r->verified = sqlite3_column_int(rs, 9) != 0;
    }
}

/* The filter as "AND col op ?k" terms (bound in the same order by where_bind). */
typedef struct where {
    struct { const char *col; const char *txt; int64_t num; const char *op; } w[16];
    int nw;
    int outcome; /* -1 any */
} where_t;

/* Appends the filter's terms, columns prefixed with t ("attempts", "a"). */
static size_t where_sql(const espfab_store_filter_t *flt, where_t *w, const char *t, char *sql,
                        size_t cap, size_t n)
{
    w->nw = 0;
#define WTXT(c, v) do { if ((v) && (v)[0]) { w->w[w->nw].col = c; w->w[w->nw].txt = v; w->w[w->nw].op = "="; w->nw++; } } while (0)
#define WNUM(c, v, o) do { if (v) { w->w[w->nw].col = c; w->w[w->nw].txt = NULL; w->w[w->nw].num = v; w->w[w->nw].op = o; w->nw++; } } while (0)
    WNUM("id", flt->id, "=");
    WNUM("run_id", flt->run_id, "=");
    WTXT("lot", flt->lot);
    WTXT("profile_name", flt->profile_name);
    WTXT("station", flt->station);
    WTXT("slot", flt->slot);
    WTXT("mac", flt->mac);
    WTXT("chip", flt->chip);
    WNUM("start_ms", flt->from_ms, ">=");
    WNUM("start_ms", flt->to_ms, "<");
#undef WTXT
#undef WNUM
    for (int i = 0; i < w->nw && n < cap; i++)
        n += (size_t)snprintf(sql + n, cap - n, " AND %s.%s %s ?%d", t, w->w[i].col, w->w[i].op,
                              i + 1);
    w->outcome = flt->outcome;
    if (flt->outcome >= 0 && n < cap)
        n += (size_t)snprintf(sql + n, cap - n, " AND %s.outcome = ?%d", t, w->nw + 1);
    return n;
}

static void where_bind(sqlite3_stmt *st, const where_t *w)
{
    for (int i = 0; i < w->nw; i++) {
        if (w->w[i].txt)
            sqlite3_bind_text(st, i + 1, w->w[i].txt, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, i + 1, w->w[i].num);
    }
    if (w->outcome >= 0)
        sqlite3_bind_text(st, w->nw + 1, espfab_outcome_name((espfab_outcome_t)w->outcome), -1,
                          SQLITE_STATIC);
}

/* Appends "SELECT t.id, ..." reading every column read_attempt() expects. */
static size_t attempt_select(espfab_store_t *s, const char *t, char *sql, size_t cap, size_t n)
{
    n += (size_t)snprintf(sql + n, cap - n, "SELECT %s.id, coalesce(%s.run_id, 0)", t, t);
    for (int i = 0; i < C_COUNT && n < cap; i++)
        n += (size_t)snprintf(sql + n, cap - n, ", %s.%s", t, store_col_names[i]);
    if (n < cap && s->chain)
        n += (size_t)snprintf(sql + n, cap - n, ", (SELECT c.sha256 FROM attempt_chain c WHERE "
                              "c.attempt_id = %s.id ORDER BY c.seq DESC LIMIT 1)", t);
    else if (n < cap)
        n += (size_t)snprintf(sql + n, cap - n, ", NULL");
    if (n < cap && s->build)
        n += (size_t)snprintf(sql + n, cap - n, ", %s.espfab_version, %s.stub_sha256", t, t);
    else if (n < cap)
        n += (size_t)snprintf(sql + n, cap - n, ", NULL, NULL");
    return n;
}

static int prepare_sized(espfab_store_t *s, const char *sql, size_t n, size_t cap,
                         sqlite3_stmt **st, espfab_fault_t *f)
{
    if (n >= cap)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "%s: query too long", s->path);
    return store_prepare(s, sql, st, ESPFAB_E_STORE_OPEN, f);
}

static int prepare_regions(espfab_store_t *s, sqlite3_stmt **rs, espfab_fault_t *f)
{
    return store_prepare(s, "SELECT " REGION_COLS " FROM attempt_regions WHERE attempt_id=?1 "
                            "ORDER BY idx", rs, ESPFAB_E_STORE_OPEN, f);
}

/* A cursor over attempt rows (attempt_select's columns first) with their
 * regions: opened on sql (n bytes of a cap-byte buffer, parameters in w). */
typedef struct attempt_cursor {
    sqlite3_stmt *st, *rs;
    espfab_attempt_t *a;
    int64_t run_id;
    const char *what;
} attempt_cursor_t;

static int cursor_open(espfab_store_t *s, const char *sql, size_t n, size_t cap, const where_t *w,
                       const char *what, attempt_cursor_t *c, espfab_fault_t *f)
{
    memset(c, 0, sizeof *c);
    c->what = what;
    int rc = prepare_sized(s, sql, n, cap, &c->st, f);
    if (!rc)
        rc = prepare_regions(s, &c->rs, f);
    if (!rc) {
        where_bind(c->st, w);
        c->a = malloc(sizeof *c->a);
        if (!c->a)
            rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: %s", s->path, what);
    }
    return rc;
}

/* The next row into c->a (regions read): 1, 0 at the end, or an error. */
static int cursor_next(espfab_store_t *s, attempt_cursor_t *c, espfab_fault_t *f)
{
    int step = sqlite3_step(c->st);
    if (step == SQLITE_DONE)
        return 0;
    if (step != SQLITE_ROW)
        return store_sql_fault(s, f, ESPFAB_E_STORE_OPEN, c->what);
    read_attempt(c->st, c->a, &c->run_id);
    int rc = read_regions(s, c->rs, c->a, f);
    return rc ? rc : 1;
}

static void cursor_close(attempt_cursor_t *c)
{
    free(c->a);
    sqlite3_finalize(c->st);
    sqlite3_finalize(c->rs);
}

int espfab_store_query(espfab_store_t *s, const espfab_store_filter_t *flt,
                       espfab_store_attempt_cb cb, void *data, espfab_fault_t *f)
{
    if (!s || !cb)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_query");
    espfab_store_filter_t none;
    if (!flt) {
        espfab_store_filter_init(&none);
        flt = &none;
    }
    char sql[4096];
    where_t w;
    size_t n = attempt_select(s, "attempts", sql, sizeof sql, 0);
    if (n < sizeof sql)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " FROM attempts WHERE 1");
    n = where_sql(flt, &w, "attempts", sql, sizeof sql, n);
    if (n < sizeof sql)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " ORDER BY id %s",
                              flt->newest_first ? "DESC" : "ASC");
    if (flt->limit > 0 && n < sizeof sql)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " LIMIT %d", flt->limit);

    attempt_cursor_t c;
    int rc = cursor_open(s, sql, n, sizeof sql, &w, "query attempts", &c, f);
    while (!rc && (rc = cursor_next(s, &c, f)) == 1)
        rc = cb(c.a, c.run_id, data);
    cursor_close(&c);
    return rc;
}

/* ---- the report's queries ---- */

int espfab_store_read_begin(espfab_store_t *s, espfab_fault_t *f)
{
    if (!s)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_read_begin");
    /* Inside the caller's own transaction: that one is the snapshot. */
    if (!sqlite3_get_autocommit(s->db))
        return 0;
    /* BEGIN is deferred: the snapshot is taken by the first read below it. */
    int rc = store_exec(s, "BEGIN", ESPFAB_E_STORE_OPEN, "begin read", f);
    s->read_snapshot = rc == 0;
    if (!rc)
        rc = store_exec(s, "SELECT count(*) FROM sqlite_master", ESPFAB_E_STORE_OPEN,
                        "begin read", f);
    if (rc)
        espfab_store_read_end(s);
    return rc;
}

void espfab_store_read_end(espfab_store_t *s)
{
    if (s && s->read_snapshot && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (s)
        s->read_snapshot = false;
}

/* Runs a one-row aggregate and copies up to n integer columns (NULL = 0). */
static int one_row(espfab_store_t *s, const char *sql, size_t len, size_t cap, const where_t *w,
                   int64_t *out, int n, espfab_fault_t *f)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_sized(s, sql, len, cap, &st, f);
    if (rc)
        return rc;
    where_bind(st, w);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        for (int i = 0; i < n; i++)
            out[i] = sqlite3_column_int64(st, i);
    } else if (step != SQLITE_DONE) {
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_OPEN, "report query");
    }
    sqlite3_finalize(st);
    return rc;
}

int espfab_store_max_regions(espfab_store_t *s, const espfab_store_filter_t *flt, int *nregions,
                             espfab_fault_t *f)
{
    *nregions = 0;
    if (!s || !flt)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_max_regions");
    char sql[2048];
    where_t w;
    size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT max(k) FROM (SELECT (SELECT count(*) "
                                "FROM attempt_regions r WHERE r.attempt_id = attempts.id) AS k "
                                "FROM attempts WHERE 1");
    n = where_sql(flt, &w, "attempts", sql, sizeof sql, n);
    if (n < sizeof sql)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ")");
    int64_t k = 0;
    int rc = one_row(s, sql, n, sizeof sql, &w, &k, 1, f);
    *nregions = k < 0 ? 0 : k > ESPFAB_MAX_REGIONS ? ESPFAB_MAX_REGIONS : (int)k;
    return rc;
}

/* "WITH b AS (...)": one row per board (non-empty MAC) matched by the
 * filter: id = its deciding attempt (latest passed by (start_ms, id), else
 * latest), n attempts, ever (any passed), fp (first attempt passed). */
static size_t boards_cte(const espfab_store_filter_t *flt, where_t *w, char *sql, size_t cap)
{
    size_t n = (size_t)snprintf(sql, cap,
        "WITH f AS (SELECT attempts.id AS id, attempts.mac AS mac, attempts.start_ms AS start_ms, "
        "attempts.outcome = 'pass' AS p FROM attempts WHERE attempts.mac <> ''");
    n = where_sql(flt, w, "attempts", sql, cap, n);
    if (n < cap)
        n += (size_t)snprintf(sql + n, cap - n,
            "), g AS (SELECT id, mac, count(*) OVER (PARTITION BY mac) AS n, "
            "max(p) OVER (PARTITION BY mac) AS ever, "
            "first_value(p) OVER (PARTITION BY mac ORDER BY start_ms, id) AS fp, "
            "row_number() OVER (PARTITION BY mac ORDER BY p DESC, start_ms DESC, id DESC) AS r "
            "FROM f), b AS (SELECT id, mac, n, ever, fp FROM g WHERE r = 1) ");
    return n;
}

int espfab_store_board_counts(espfab_store_t *s, const espfab_store_filter_t *flt,
                              int64_t *boards, int64_t *passed, int64_t *first_pass,
                              espfab_fault_t *f)
{
    *boards = *passed = *first_pass = 0;
    if (!s || !flt)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_board_counts");
    char sql[4096];
    where_t w;
    size_t n = boards_cte(flt, &w, sql, sizeof sql);
    if (n < sizeof sql)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "SELECT count(*), coalesce(sum(ever), 0), "
                              "coalesce(sum(fp), 0) FROM b");
    int64_t v[3] = {0, 0, 0};
    int rc = one_row(s, sql, n, sizeof sql, &w, v, 3, f);
    *boards = v[0];
    *passed = v[1];
    *first_pass = v[2];
    return rc;
}

int espfab_store_query_boards(espfab_store_t *s, const espfab_store_filter_t *flt,
                              bool never_passed_only, espfab_store_board_cb cb, void *data,
                              espfab_fault_t *f)
{
    if (!s || !flt || !cb)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_query_boards");
    char sql[8192];
    where_t w;
    size_t n = boards_cte(flt, &w, sql, sizeof sql);
    n = attempt_select(s, "a", sql, sizeof sql, n);
    if (n < sizeof sql)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", b.n, b.ever, b.fp FROM b JOIN attempts "
                              "a ON a.id = b.id%s ORDER BY a.start_ms, a.id",
                              never_passed_only ? " WHERE b.ever = 0" : "");
    attempt_cursor_t c;
    int rc = cursor_open(s, sql, n, sizeof sql, &w, "query boards", &c, f);
    while (!rc && (rc = cursor_next(s, &c, f)) == 1) {
        espfab_store_board_t b = {c.a->mac, sqlite3_column_int64(c.st, C_COUNT + 5),
                                  sqlite3_column_int(c.st, C_COUNT + 6) != 0,
                                  sqlite3_column_int(c.st, C_COUNT + 7) != 0};
        rc = cb(&b, c.a, data);
    }
    cursor_close(&c);
    return rc;
}

int espfab_store_query_tally(espfab_store_t *s, const espfab_store_filter_t *flt,
                             espfab_store_group_t by, espfab_store_tally_cb cb, void *data,
                             espfab_fault_t *f)
{
    static const char *const keys[] = {
        [ESPFAB_STORE_BY_LOT] = "attempts.lot",
        [ESPFAB_STORE_BY_STATION] = "attempts.station",
        [ESPFAB_STORE_BY_LINE] = "attempts.line",
        [ESPFAB_STORE_BY_DAY] = "coalesce(strftime('%Y-%m-%d', attempts.start_ms / 1000, "
                                "'unixepoch'), 'out-of-range')",
    };
    if (!s || !flt || !cb || (unsigned)by > ESPFAB_STORE_BY_DAY)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_query_tally");
    char sql[2048];
    where_t w;
    size_t n = (size_t)snprintf(sql, sizeof sql,
        "SELECT %s AS k, count(*), sum(outcome = 'pass'), sum(outcome = 'fail'), "
        "sum(outcome = 'interrupted'), count(DISTINCT nullif(mac, '')), "
        "count(DISTINCT CASE WHEN outcome = 'pass' AND mac <> '' THEN mac END) "
        "FROM attempts WHERE 1", keys[by]);
    n = where_sql(flt, &w, "attempts", sql, sizeof sql, n);
    if (n < sizeof sql)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " GROUP BY k ORDER BY k");
    sqlite3_stmt *st = NULL;
    int rc = prepare_sized(s, sql, n, sizeof sql, &st, f);
    if (rc)
        return rc;
    where_bind(st, &w);
    while (!rc) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = store_sql_fault(s, f, ESPFAB_E_STORE_OPEN, "query tallies");
            break;
        }
        const char *k = (const char *)sqlite3_column_text(st, 0);
        espfab_store_tally_t t = {k ? k : "", sqlite3_column_int64(st, 1),
                                  sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                                  sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5),
                                  sqlite3_column_int64(st, 6)};
        rc = cb(&t, data);
    }
    sqlite3_finalize(st);
    return rc;
}

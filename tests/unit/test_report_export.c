/* test_report_export.c - round trip through the database: attempts whose
 * every field has a distinct value are stored with the store API, exported
 * as CSV and JSON and parsed back (CSV with a small RFC 4180 parser here,
 * JSON with SQLite's json functions), then compared field by field with what
 * was stored; filters (lot, dates, outcome, profile, station); the HTML page
 * escapes what comes from the database. */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "espfab/report.h"
#include "espfab/store.h"

#define N 9
#define T0 1795392000000LL /* 2026-11-23T00:00:00Z */
#define HOUR 3600000LL

static espfab_attempt_t att[N + 1]; /* 1..N */
static int64_t run_ids[N + 1];
static char dbpath[256];

static void hexfill(char *out, size_t nhex, unsigned seed)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < nhex; i++)
        out[i] = hx[(seed * 7 + i * 3 + i / 5) % 16];
    out[nhex] = '\0';
}

static void fill_attempt(espfab_attempt_t *a, int k)
{
    espfab_attempt_init(a);
    snprintf(a->station, sizeof a->station, "station-%d, \"A\"", k);
    snprintf(a->line, sizeof a->line, "line-%d\nsecond", k);
    snprintf(a->slot, sizeof a->slot, "slot-%d", k);
    snprintf(a->port, sizeof a->port, "/dev/ttyUSB%d", k);
    snprintf(a->operator_name, sizeof a->operator_name, "op\xC3\xA9rateur-%d", k);
    snprintf(a->lot, sizeof a->lot, "%s", k % 2 ? "LOT-A" : "LOT-B");
    snprintf(a->profile_name, sizeof a->profile_name, "%s", k % 3 ? "prof-one" : "prof-two");
    hexfill(a->profile_sha256, 64, (unsigned)k);
    snprintf(a->chip, sizeof a->chip, "ESP32-C%d", k);
    a->rev_full = k == 3 ? -1 : k * 101;
    snprintf(a->mac, sizeof a->mac, "24:6f:28:00:00:%02x", k);
    snprintf(a->chip_id, sizeof a->chip_id, "cid%04x", k);
    a->has_secinfo = k % 2;
    a->secinfo_flags = 0x1000u + (unsigned)k;
    a->flash_jedec = 0xC84016u + (unsigned)k;
    a->flash_size = 4194304u * (unsigned)k;
    a->xtal_mhz = 40 + k;
    snprintf(a->loader, sizeof a->loader, "%s", k % 2 ? "stub" : "ROM");
    if (k % 2)
        hexfill(a->stub_sha256, 64, (unsigned)k + 7u);
    a->baud = 460800u + (unsigned)k;
    a->start_ms = T0 + k * 7 * HOUR + k;
    a->end_ms = a->start_ms + 30000 + k;
    for (int p = 0; p < ESPFAB_PHASE_COUNT; p++)
        a->phase_ms[p] = 1000u * (unsigned)(p + 1) + (unsigned)k;
    a->bytes_sent = 5000000000ULL + (uint64_t)k;
    a->bytes_received = 7000u + (unsigned)k;
    static const espfab_outcome_t oc[4] = {ESPFAB_OUTCOME_PASS, ESPFAB_OUTCOME_FAIL,
                                           ESPFAB_OUTCOME_INTERRUPTED, ESPFAB_OUTCOME_FAIL};
    a->outcome = k == N ? ESPFAB_OUTCOME_RUNNING : oc[k % 4];
    if (a->outcome == ESPFAB_OUTCOME_FAIL) {
        a->fault.code = k % 3 ? ESPFAB_E_IO : ESPFAB_E_STORE_BUSY;
        a->fault.rom_status = k == 3 ? -1 : 1;
        a->fault.rom_error = k == 3 ? -1 : 0x07 + k;
        a->fault.stub_error = k % 2;
        a->fault.sys_errno = 5 + k;
        a->fault.retries = k;
    } else if (a->outcome == ESPFAB_OUTCOME_INTERRUPTED) {
        a->fault.code = ESPFAB_E_INTERRUPTED;
    }
    snprintf(a->fault.detail, sizeof a->fault.detail, "detail-%d <b>&amp;</b>", k);
    snprintf(a->message, sizeof a->message,
             "message %d \"quoted\", comma\r\nCRLF \x01 ctl \\ back \xE2\x82\xAC <script>x</script>",
             k);
    a->nregions = k % 4;
    for (int i = 0; i < a->nregions; i++) {
        espfab_region_result_t *r = &a->regions[i];
        r->offset = 0x1000u * (unsigned)((i + 1) * k);
        snprintf(r->file, sizeof r->file, "file-%d-%d.bin, x", k, i);
        hexfill(r->sha256, 64, (unsigned)(k * 10 + i));
        hexfill(r->md5_expected, 32, (unsigned)(k * 10 + i + 3));
        if ((i + k) % 3)
            hexfill(r->md5_device, 32, (unsigned)(k * 10 + i + 5));
        r->size = 1000u * (unsigned)k + (unsigned)i;
        r->wire_size = 500u * (unsigned)k + (unsigned)i;
        r->compressed = (i + k) % 2;
        r->written = true;
        r->verified = (i + k) % 2 == 0;
    }
}

static int make_db(void)
{
    char dir[] = "/tmp/test_report_XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/espfab.db", dir);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    if (espfab_store_open(dbpath, 0, &s, NULL, &f) != 0) {
        fprintf(stderr, "open: %s\n", f.detail);
        return -1;
    }
    int rc = 0;
    for (int k = 1; k <= N && !rc; k++) {
        fill_attempt(&att[k], k);
        int64_t run = 0;
        if (k != 4) { /* attempt 4 has no run */
            espfab_run_t r = {0};
            snprintf(r.station, sizeof r.station, "%s", att[k].station);
            snprintf(r.mode, sizeof r.mode, "batch");
            r.start_ms = att[k].start_ms - 1000;
            rc = espfab_store_run_begin(s, &r, &f);
            run = r.id;
        }
        run_ids[k] = run;
        espfab_attempt_t tmp = att[k];
        if (!rc)
            rc = espfab_store_attempt_begin(s, run, &tmp, &f);
        att[k].id = tmp.id;
        if (!rc && att[k].outcome != ESPFAB_OUTCOME_RUNNING)
            rc = espfab_store_attempt_finish(s, &att[k], &f);
    }
    if (rc)
        fprintf(stderr, "fill: %s\n", f.detail);
    espfab_store_close(s);
    return rc;
}

/* Exports with flt into a malloc'd string. */
static char *export(espfab_report_format_t fmt, const espfab_store_filter_t *flt, int64_t *rows)
{
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    CHECK_EQ(espfab_store_open(dbpath, ESPFAB_STORE_READONLY, &s, NULL, &f), 0);
    if (!s)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    espfab_report_opts_t o = {0};
    o.format = fmt;
    if (flt)
        o.filter = *flt;
    else
        espfab_store_filter_init(&o.filter);
    o.db_label = dbpath;
    o.now_ms = T0;
    int rc = espfab_report_write(s, &o, m, rows, &f);
    CHECK_EQ(rc, 0);
    if (rc)
        fprintf(stderr, "export: %s\n", f.detail);
    fclose(m);
    espfab_store_close(s);
    return buf;
}

/* ---- expectations, built here independently of src/report/fields.c ---- */

typedef struct expect {
    char name[40];
    bool null;
    char value[600];
} expect_t;

static expect_t ex[200];
static int nex;

static void E(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void E(const char *name, const char *fmt, ...)
{
    expect_t *e = &ex[nex++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->null = fmt == NULL;
    e->value[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->value, sizeof e->value, fmt, ap);
        va_end(ap);
    }
}

static void expectations(int k)
{
    const espfab_attempt_t *a = &att[k];
    char iso[32];
    nex = 0;
    E("id", "%lld", (long long)a->id);
    if (run_ids[k])
        E("run_id", "%lld", (long long)run_ids[k]);
    else
        E("run_id", NULL);
    E("station", "%s", a->station);
    E("line", "%s", a->line);
    E("slot", "%s", a->slot);
    E("port", "%s", a->port);
    E("operator", "%s", a->operator_name);
    E("lot", "%s", a->lot);
    E("profile_name", "%s", a->profile_name);
    E("profile_sha256", "%s", a->profile_sha256);
    E("chip", "%s", a->chip);
    if (a->rev_full >= 0)
        E("rev_full", "%d", a->rev_full);
    else
        E("rev_full", NULL);
    E("mac", "%s", a->mac);
    E("chip_id", "%s", a->chip_id);
    E("has_secinfo", "%d", a->has_secinfo);
    E("secinfo_flags", "%u", a->secinfo_flags);
    E("flash_jedec", "%u", a->flash_jedec);
    E("flash_size", "%u", a->flash_size);
    E("xtal_mhz", "%d", a->xtal_mhz);
    E("loader", "%s", a->loader);
    E("baud", "%u", a->baud);
    E("start_ms", "%lld", (long long)a->start_ms);
    espfab_store_iso8601(a->start_ms, iso);
    E("started_at", "%s", iso);
    if (a->outcome == ESPFAB_OUTCOME_RUNNING) {
        E("end_ms", NULL);
        E("ended_at", NULL);
    } else {
        E("end_ms", "%lld", (long long)a->end_ms);
        espfab_store_iso8601(a->end_ms, iso);
        E("ended_at", "%s", iso);
    }
    static const char *ph[] = {"ms_connect", "ms_identify", "ms_stub", "ms_baud",
                               "ms_erase", "ms_write", "ms_verify", "ms_reset"};
    for (int p = 0; p < 8; p++)
        E(ph[p], "%u", a->phase_ms[p]);
    E("bytes_sent", "%llu", (unsigned long long)a->bytes_sent);
    E("bytes_received", "%llu", (unsigned long long)a->bytes_received);
    static const char *ocn[] = {"running", "pass", "fail", "interrupted"};
    E("outcome", "%s", ocn[a->outcome]);
    E("error_code", "%d", -a->fault.code);
    E("error_name", "%s", a->fault.code ? espfab_err_name(a->fault.code) : "");
    E("error_message", "%s", a->fault.code ? espfab_strerror(a->fault.code) : "");
    if (a->fault.rom_status >= 0)
        E("rom_status", "%d", a->fault.rom_status);
    else
        E("rom_status", NULL);
    if (a->fault.rom_error >= 0) {
        E("rom_error", "%d", a->fault.rom_error);
        E("rom_error_name", "%s", a->fault.stub_error ? espfab_stub_error_name(a->fault.rom_error)
                                                      : espfab_rom_error_name(a->fault.rom_error));
    } else {
        E("rom_error", NULL);
        E("rom_error_name", NULL);
    }
    E("stub_error", "%d", a->fault.stub_error);
    E("errno", "%d", a->fault.sys_errno);
    E("retries", "%d", a->fault.retries);
    E("detail", "%s", a->fault.detail);
    E("message", "%s", a->message);
    E("espfab_version", "%s", a->espfab_version);
    E("stub_sha256", "%s", a->stub_sha256);
    E("nregions", "%d", a->nregions);
}

static void region_expectations(const espfab_region_result_t *r)
{
    nex = 0;
    E("offset", "%u", r->offset);
    E("file", "%s", r->file);
    E("sha256", "%s", r->sha256);
    E("md5_expected", "%s", r->md5_expected);
    E("md5_device", "%s", r->md5_device);
    E("size", "%u", r->size);
    E("wire_size", "%u", r->wire_size);
    E("compressed", "%d", r->compressed);
    E("written", "%d", r->written);
    E("verified", "%d", r->verified);
}

/* ---- a small RFC 4180 parser ---- */

typedef struct csv {
    char ***rows; /* rows[r][c] */
    int *ncols;
    int nrows;
    bool crlf_only; /* every record ended with CRLF */
} csv_t;

static void csv_parse(const char *s, csv_t *c)
{
    memset(c, 0, sizeof *c);
    c->crlf_only = true;
    size_t cap = strlen(s) + 1;
    char *field = malloc(cap);
    size_t fl = 0;
    char **row = NULL;
    int nc = 0;
    bool inq = false, any = false;
    for (const char *p = s;; p++) {
        if (inq) {
            if (*p == '\0')
                break; /* unterminated: the checks below will fail */
            if (*p == '"' && p[1] == '"') {
                field[fl++] = '"';
                p++;
            } else if (*p == '"') {
                inq = false;
            } else {
                field[fl++] = *p;
            }
            continue;
        }
        if (*p == '"' && fl == 0) {
            inq = true;
            any = true;
            continue;
        }
        if (*p == ',' || *p == '\n' || *p == '\r' || *p == '\0') {
            if (*p == '\0' && !any && nc == 0)
                break;
            field[fl] = '\0';
            row = realloc(row, (size_t)(nc + 1) * sizeof *row);
            row[nc++] = strdup(field);
            fl = 0;
            any = false;
            if (*p == ',')
                continue;
            if (*p == '\n')
                c->crlf_only = false;
            if (*p == '\r') {
                if (p[1] == '\n')
                    p++;
                else
                    c->crlf_only = false;
            }
            c->rows = realloc(c->rows, (size_t)(c->nrows + 1) * sizeof *c->rows);
            c->ncols = realloc(c->ncols, (size_t)(c->nrows + 1) * sizeof *c->ncols);
            c->rows[c->nrows] = row;
            c->ncols[c->nrows++] = nc;
            row = NULL;
            nc = 0;
            if (*p == '\0')
                break;
            if (p[1] == '\0')
                break;
            continue;
        }
        field[fl++] = *p;
        any = true;
    }
    free(row);
    free(field);
}

static void csv_free(csv_t *c)
{
    for (int r = 0; r < c->nrows; r++) {
        for (int i = 0; i < c->ncols[r]; i++)
            free(c->rows[r][i]);
        free(c->rows[r]);
    }
    free(c->rows);
    free(c->ncols);
}

static int csv_col(const csv_t *c, const char *name)
{
    for (int i = 0; c->nrows && i < c->ncols[0]; i++)
        if (!strcmp(c->rows[0][i], name))
            return i;
    return -1;
}

static void check_csv_value(const csv_t *c, int row, const char *col, const expect_t *e)
{
    int i = csv_col(c, col);
    if (i < 0 || i >= c->ncols[row]) {
        fprintf(stderr, "CSV has no column %s\n", col);
        CHECK(0);
        return;
    }
    const char *want = e->null ? "" : e->value;
    if (strcmp(c->rows[row][i], want) != 0)
        fprintf(stderr, "CSV row %d %s: got '%s' want '%s'\n", row, col, c->rows[row][i], want);
    CHECK_STR(c->rows[row][i], want);
}

static void test_csv_round_trip(void)
{
    int64_t rows = 0;
    char *out = export(ESPFAB_REPORT_CSV, NULL, &rows);
    CHECK(out != NULL);
    if (!out)
        return;
    CHECK_EQ(rows, N);
    csv_t c;
    csv_parse(out, &c);
    CHECK(c.crlf_only);
    CHECK_EQ(c.nrows, N + 1);
    /* The widest attempt has 3 regions: 10 columns each. */
    CHECK(csv_col(&c, "region3_verified") >= 0);
    CHECK(csv_col(&c, "region4_offset") < 0);
    for (int r = 1; r < c.nrows; r++)
        CHECK_EQ(c.ncols[r], c.ncols[0]);
    for (int k = 1; k <= N && k < c.nrows; k++) {
        expectations(k);
        for (int e = 0; e < nex; e++)
            check_csv_value(&c, k, ex[e].name, &ex[e]);
        for (int i = 0; i < 3; i++) {
            espfab_region_result_t none = {0};
            bool have = i < att[k].nregions;
            region_expectations(have ? &att[k].regions[i] : &none);
            for (int e = 0; e < nex; e++) {
                char col[64];
                snprintf(col, sizeof col, "region%d_%.39s", i + 1, ex[e].name);
                if (!have)
                    ex[e].null = true; /* padding: empty fields */
                check_csv_value(&c, k, col, &ex[e]);
            }
        }
    }
    csv_free(&c);
    free(out);
}

/* json_extract(doc, path) as text (NULL for JSON null), into buf. */
static const char *jget(sqlite3 *db, const char *doc, const char *path, char *buf, size_t len,
                        char *type, size_t tlen)
{
    sqlite3_stmt *st;
    buf[0] = type[0] = '\0';
    if (sqlite3_prepare_v2(db, "SELECT json_extract(?1, ?2), json_type(?1, ?2)", -1, &st, NULL))
        return NULL;
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
    const char *ret = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 1) != SQLITE_NULL)
            snprintf(type, tlen, "%s", (const char *)sqlite3_column_text(st, 1));
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
            ret = buf;
        }
    }
    sqlite3_finalize(st);
    return ret;
}

static void check_json_value(sqlite3 *db, const char *doc, const char *path, const expect_t *e)
{
    char buf[1024], type[16];
    const char *got = jget(db, doc, path, buf, sizeof buf, type, sizeof type);
    if (e->null) {
        if (strcmp(type, "null") != 0)
            fprintf(stderr, "JSON %s: type '%s', want null\n", path, type);
        CHECK_STR(type, "null");
        return;
    }
    if (!got || strcmp(got, e->value) != 0)
        fprintf(stderr, "JSON %s: got '%s' want '%s'\n", path, got ? got : "(null)", e->value);
    CHECK(got && !strcmp(got, e->value));
}

static sqlite3 *memdb(void)
{
    sqlite3 *db = NULL;
    CHECK_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
    return db;
}

static int64_t sql_int(sqlite3 *db, const char *sql, const char *doc)
{
    sqlite3_stmt *st;
    int64_t v = -12345;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

static void test_json_round_trip(void)
{
    int64_t rows = 0;
    char *out = export(ESPFAB_REPORT_JSON, NULL, &rows);
    CHECK(out != NULL);
    if (!out)
        return;
    CHECK_EQ(rows, N);
    sqlite3 *db = memdb();
    CHECK_EQ(sql_int(db, "SELECT json_valid(?1)", out), 1);
    CHECK_EQ(sql_int(db, "SELECT json_array_length(?1)", out), N);
    char path[128];
    for (int k = 1; k <= N; k++) {
        expectations(k);
        for (int e = 0; e < nex; e++) {
            snprintf(path, sizeof path, "$[%d].%.39s", k - 1, ex[e].name);
            check_json_value(db, out, path, &ex[e]);
        }
        snprintf(path, sizeof path, "SELECT json_array_length(?1, '$[%d].regions')", k - 1);
        CHECK_EQ(sql_int(db, path, out), att[k].nregions);
        for (int i = 0; i < att[k].nregions; i++) {
            region_expectations(&att[k].regions[i]);
            for (int e = 0; e < nex; e++) {
                snprintf(path, sizeof path, "$[%d].regions[%d].%.39s", k - 1, i, ex[e].name);
                check_json_value(db, out, path, &ex[e]);
            }
        }
        /* Flags are JSON booleans, not numbers. */
        char buf[64], type[16];
        snprintf(path, sizeof path, "$[%d].has_secinfo", k - 1);
        jget(db, out, path, buf, sizeof buf, type, sizeof type);
        CHECK_STR(type, att[k].has_secinfo ? "true" : "false");
    }
    /* Every object has the same keys (one field list). */
    CHECK_EQ(sql_int(db, "SELECT count(*) FROM (SELECT DISTINCT (SELECT group_concat(k.key) "
                         "FROM json_each(j.value) AS k) FROM json_each(?1) AS j)", out), 1);
    sqlite3_close(db);
    free(out);
}

/* Ids exported (JSON) with flt, as a bitmask of k. */
static unsigned ids_for(const espfab_store_filter_t *flt)
{
    char *out = export(ESPFAB_REPORT_JSON, flt, NULL);
    if (!out)
        return 0xFFFFFFFFu;
    sqlite3 *db = memdb();
    sqlite3_stmt *st;
    unsigned mask = 0;
    if (sqlite3_prepare_v2(db, "SELECT json_extract(value, '$.id') FROM json_each(?1)", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, out, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(st, 0);
            for (int k = 1; k <= N; k++)
                if (att[k].id == id)
                    mask |= 1u << k;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    free(out);
    return mask;
}

/* The same selection computed from the stored attempts. */
static unsigned ids_expected(const char *lot, const char *profile, const char *station,
                             int outcome, int64_t from, int64_t to)
{
    unsigned mask = 0;
    for (int k = 1; k <= N; k++) {
        const espfab_attempt_t *a = &att[k];
        if ((lot && strcmp(a->lot, lot)) || (profile && strcmp(a->profile_name, profile)) ||
            (station && strcmp(a->station, station)) ||
            (outcome >= 0 && (int)a->outcome != outcome) || (from && a->start_ms < from) ||
            (to && a->start_ms >= to))
            continue;
        mask |= 1u << k;
    }
    return mask;
}

static void test_filters(void)
{
    char err[512];
    espfab_report_args_t a;
    const char *argv_lot[] = {"report", "--format", "json", "--lot", "LOT-A"};
    CHECK_EQ(espfab_report_args_parse(5, (char **)argv_lot, &a, err, sizeof err), 0);
    unsigned got = ids_for(&a.filter);
    CHECK_EQ(got, ids_expected("LOT-A", NULL, NULL, -1, 0, 0));
    CHECK(got != 0 && got != ids_expected(NULL, NULL, NULL, -1, 0, 0));

    const char *argv_prof[] = {"report", "--format", "json", "--profile", "prof-two",
                               "--outcome", "fail"};
    CHECK_EQ(espfab_report_args_parse(7, (char **)argv_prof, &a, err, sizeof err), 0);
    got = ids_for(&a.filter);
    CHECK_EQ(got, ids_expected(NULL, "prof-two", NULL, ESPFAB_OUTCOME_FAIL, 0, 0));
    CHECK(got != 0);

    const char *argv_oc[] = {"report", "--format", "json", "--outcome", "interrupted"};
    CHECK_EQ(espfab_report_args_parse(5, (char **)argv_oc, &a, err, sizeof err), 0);
    got = ids_for(&a.filter);
    CHECK_EQ(got, ids_expected(NULL, NULL, NULL, ESPFAB_OUTCOME_INTERRUPTED, 0, 0));
    CHECK(got != 0);

    /* Attempt k starts at T0 + 7k hours: 2026-11-23 holds k = 1..3;
     * --to as a date includes the whole day. */
    const char *argv_day[] = {"report", "--format", "json", "--from", "2026-11-23", "--to",
                              "2026-11-23"};
    CHECK_EQ(espfab_report_args_parse(7, (char **)argv_day, &a, err, sizeof err), 0);
    got = ids_for(&a.filter);
    CHECK_EQ(got, ids_expected(NULL, NULL, NULL, -1, T0, T0 + 24 * HOUR));
    CHECK_EQ(got, (1u << 1) | (1u << 2) | (1u << 3));

    /* A time range: [T0+14h, T0+35h+5ms) holds k = 2..5 (k=5 starts at 35h+5ms
     * and is excluded by the exclusive end at 35h+5ms). */
    const char *argv_time[] = {"report", "--format", "json", "--from", "2026-11-23T14:00:00Z",
                               "--to", "2026-11-24T11:00:00.005Z"};
    CHECK_EQ(espfab_report_args_parse(7, (char **)argv_time, &a, err, sizeof err), 0);
    got = ids_for(&a.filter);
    CHECK_EQ(got, (1u << 2) | (1u << 3) | (1u << 4));

    const char *argv_st[] = {"report", "--format", "json", "--station", "station-5, \"A\""};
    CHECK_EQ(espfab_report_args_parse(5, (char **)argv_st, &a, err, sizeof err), 0);
    CHECK_EQ(ids_for(&a.filter), 1u << 5);

    const char *argv_none[] = {"report", "--format", "json", "--lot", "NO-SUCH-LOT"};
    CHECK_EQ(espfab_report_args_parse(5, (char **)argv_none, &a, err, sizeof err), 0);
    CHECK_EQ(ids_for(&a.filter), 0);
    char *out = export(ESPFAB_REPORT_CSV, &a.filter, NULL);
    /* Header only. */
    CHECK(out && strchr(out, '\n') == out + strlen(out) - 1);
    free(out);
}

static void test_html(void)
{
    int64_t rows = 0;
    char *out = export(ESPFAB_REPORT_HTML, NULL, &rows);
    CHECK(out != NULL);
    if (!out)
        return;
    CHECK_EQ(rows, N);
    CHECK(strstr(out, "<script") == NULL); /* the message's <script> is escaped */
    CHECK_CONTAINS(out, "&lt;script&gt;x&lt;/script&gt;");
    CHECK(strstr(out, "http://") == NULL || strstr(out, "http://www.w3.org/2000/svg"));
    CHECK(strstr(out, "https://") == NULL);
    CHECK(strstr(out, "src=") == NULL);
    CHECK(strstr(out, "\x01") == NULL);
    char want[64];
    snprintf(want, sizeof want, "id=\"s-attempts\" data-value=\"%d\"", N);
    CHECK_CONTAINS(out, want);
    snprintf(want, sizeof want, "id=\"s-boards\" data-value=\"%d\"", N);
    CHECK_CONTAINS(out, want);
    CHECK_CONTAINS(out, "<svg id=\"pareto\"");
    CHECK_CONTAINS(out, "<svg id=\"throughput\"");
    CHECK_CONTAINS(out, "data-cause=\"IO\"");
    CHECK_CONTAINS(out, "</html>");
    free(out);
}

/* ---- a station writing while the report reads ---- */

static espfab_store_t *live_writer;
static int live_calls, live_rc = 1;

/* Output sink: on the second write (the first attempt, i.e. inside the
 * store query) the "station" records a whole attempt through its own
 * read-write connection. */
static ssize_t live_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    (void)buf;
    if (++live_calls == 2) {
        espfab_attempt_t a;
        espfab_attempt_init(&a);
        snprintf(a.mac, sizeof a.mac, "24:6f:28:aa:bb:cc");
        snprintf(a.station, sizeof a.station, "live");
        a.start_ms = T0 + 100 * HOUR;
        espfab_fault_t f;
        live_rc = espfab_store_attempt_begin(live_writer, 0, &a, &f);
        if (!live_rc) {
            a.outcome = ESPFAB_OUTCOME_PASS;
            live_rc = espfab_store_attempt_finish(live_writer, &a, &f);
        }
        if (live_rc)
            fprintf(stderr, "station write during the report: %s\n", f.detail);
    }
    return (ssize_t)n;
}

static void test_station_not_blocked(void)
{
    espfab_fault_t f;
    CHECK_EQ(espfab_store_open(dbpath, 0, &live_writer, NULL, &f), 0);
    espfab_store_t *r = NULL;
    CHECK_EQ(espfab_store_open(dbpath, ESPFAB_STORE_READONLY, &r, NULL, &f), 0);
    if (!live_writer || !r)
        return;
    cookie_io_functions_t io = {NULL, live_write, NULL, NULL};
    FILE *out = fopencookie(NULL, "w", io);
    setvbuf(out, NULL, _IONBF, 0);
    espfab_report_opts_t o = {0};
    o.format = ESPFAB_REPORT_JSON;
    espfab_store_filter_init(&o.filter);
    int64_t rows = 0;
    CHECK_EQ(espfab_report_write(r, &o, out, &rows, &f), 0);
    fclose(out);
    espfab_store_close(r);
    espfab_store_close(live_writer);
    CHECK(live_calls > 2);
    CHECK_EQ(live_rc, 0); /* the station's write went through (WAL), no STORE_BUSY */
    CHECK_EQ(rows, N);    /* the report read one consistent snapshot */
    int64_t after = 0;
    free(export(ESPFAB_REPORT_CSV, NULL, &after));
    CHECK_EQ(after, N + 1); /* the next report sees it */
}

int main(void)
{
    if (make_db() != 0) {
        fprintf(stderr, "could not build the test database\n");
        return 1;
    }
    RUN(test_csv_round_trip);
    RUN(test_json_round_trip);
    RUN(test_filters);
    RUN(test_html);
    RUN(test_station_not_blocked); /* last: it adds an attempt */
    char dir[256];
    snprintf(dir, sizeof dir, "%s", dbpath);
    *strrchr(dir, '/') = '\0';
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}

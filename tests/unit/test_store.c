/* test_store.c - traceability database: schema, round trip, append-only
 * triggers, crash recovery (fork + SIGKILL), queries, health check. */
#include <openssl/evp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "espfab/store.h"
#include "store/schema.h"

static char tmpdir[256];
static int dbn;

static const char *new_db(char *buf, size_t len)
{
    snprintf(buf, len, "%s/t%d.db", tmpdir, dbn++);
    return buf;
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return NULL;
    return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -12345;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return v;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Fills every field of a with values distinct from the defaults and from
 * each other (k varies them between attempts). */
static void fill_attempt(espfab_attempt_t *a, int k)
{
    espfab_attempt_init(a);
    snprintf(a->station, sizeof a->station, "st-%d", k);
    snprintf(a->line, sizeof a->line, "line-%d", k);
    snprintf(a->slot, sizeof a->slot, "A%d", k);
    snprintf(a->port, sizeof a->port, "/dev/serial/by-path/usb-0:1.%d:1.0-port0", k);
    snprintf(a->operator_name, sizeof a->operator_name, "op-%d", k);
    snprintf(a->lot, sizeof a->lot, "WO-%d", k);
    snprintf(a->profile_name, sizeof a->profile_name, "prof-%d", k);
    for (int i = 0; i < 64; i++)
        a->profile_sha256[i] = "0123456789abcdef"[(i + k) % 16];
    for (int i = 0; i < 64; i++)
        a->stub_sha256[i] = "fedcba9876543210"[(i + k) % 16];
    snprintf(a->espfab_version, sizeof a->espfab_version, "9.%d.0", k);
    snprintf(a->chip, sizeof a->chip, "ESP32-S3");
    a->rev_full = 2 + k;
    snprintf(a->mac, sizeof a->mac, "24:6f:28:00:00:%02x", k & 0xff);
    snprintf(a->chip_id, sizeof a->chip_id, "0x%x", 0x9 + k);
    a->has_secinfo = true;
    a->secinfo_flags = 0x80000005u + (uint32_t)k;
    a->flash_jedec = 0xEF4016 + (uint32_t)k;
    a->flash_size = 4194304u * (uint32_t)(k + 1);
    a->xtal_mhz = 40;
    snprintf(a->loader, sizeof a->loader, "stub");
    a->baud = 921600 + (uint32_t)k;
    a->nregions = 3;
    for (int r = 0; r < 3; r++) {
        espfab_region_result_t *g = &a->regions[r];
        g->offset = 0x10000u * (uint32_t)r;
        snprintf(g->file, sizeof g->file, "img%d-%d.bin", k, r);
        for (int i = 0; i < 64; i++)
            g->sha256[i] = "fedcba9876543210"[(i + r + k) % 16];
        for (int i = 0; i < 32; i++) {
            g->md5_expected[i] = "0123456789abcdef"[(i * 3 + r) % 16];
            g->md5_device[i] = "0123456789abcdef"[(i * 5 + r) % 16];
        }
        g->size = 1000u + (uint32_t)r;
        g->wire_size = 500u + (uint32_t)r;
        g->compressed = r != 1;
        g->written = r != 2;
        g->verified = r == 0;
    }
    a->start_ms = 1790000000000LL + k * 1000;
    a->end_ms = a->start_ms + 12345;
    for (int p = 0; p < ESPFAB_PHASE_COUNT; p++)
        a->phase_ms[p] = (uint32_t)(100 * (p + 1) + k);
    a->bytes_sent = 5000000000ULL + (uint64_t)k;
    a->bytes_received = 7000 + (uint64_t)k;
    a->outcome = ESPFAB_OUTCOME_FAIL;
    a->fault.code = ESPFAB_E_MD5_MISMATCH;
    a->fault.rom_status = 1;
    a->fault.rom_error = 0xC1;
    a->fault.stub_error = 1;
    a->fault.sys_errno = 5;
    a->fault.retries = 3;
    snprintf(a->fault.detail, sizeof a->fault.detail, "region 0x%x differs", 0x10000 * k);
    snprintf(a->message, sizeof a->message, "board %d failed verification", k);
}

typedef struct {
    int n;
    espfab_attempt_t last;
    int64_t run_id;
    int64_t ids[16];
} collect_t;

static int collect_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    collect_t *c = data;
    if (c->n < 16)
        c->ids[c->n] = a->id;
    c->n++;
    c->last = *a;
    c->run_id = run_id;
    return 0;
}

static void compare_attempts(const espfab_attempt_t *a, const espfab_attempt_t *b)
{
    CHECK_EQ(a->id, b->id);
    CHECK_STR(a->station, b->station);
    CHECK_STR(a->line, b->line);
    CHECK_STR(a->slot, b->slot);
    CHECK_STR(a->port, b->port);
    CHECK_STR(a->operator_name, b->operator_name);
    CHECK_STR(a->lot, b->lot);
    CHECK_STR(a->profile_name, b->profile_name);
    CHECK_STR(a->profile_sha256, b->profile_sha256);
    CHECK_STR(a->stub_sha256, b->stub_sha256);
    CHECK_STR(a->espfab_version, b->espfab_version);
    CHECK_STR(a->chip, b->chip);
    CHECK_EQ(a->rev_full, b->rev_full);
    CHECK_STR(a->mac, b->mac);
    CHECK_STR(a->chip_id, b->chip_id);
    CHECK_EQ(a->has_secinfo, b->has_secinfo);
    CHECK_EQ(a->secinfo_flags, b->secinfo_flags);
    CHECK_EQ(a->flash_jedec, b->flash_jedec);
    CHECK_EQ(a->flash_size, b->flash_size);
    CHECK_EQ(a->xtal_mhz, b->xtal_mhz);
    CHECK_STR(a->loader, b->loader);
    CHECK_EQ(a->baud, b->baud);
    CHECK_EQ(a->nregions, b->nregions);
    for (int r = 0; r < a->nregions && r < b->nregions; r++) {
        const espfab_region_result_t *x = &a->regions[r], *y = &b->regions[r];
        CHECK_EQ(x->offset, y->offset);
        CHECK_STR(x->file, y->file);
        CHECK_STR(x->sha256, y->sha256);
        CHECK_STR(x->md5_expected, y->md5_expected);
        CHECK_STR(x->md5_device, y->md5_device);
        CHECK_EQ(x->size, y->size);
        CHECK_EQ(x->wire_size, y->wire_size);
        CHECK_EQ(x->compressed, y->compressed);
        CHECK_EQ(x->written, y->written);
        CHECK_EQ(x->verified, y->verified);
    }
    CHECK_EQ(a->start_ms, b->start_ms);
    CHECK_EQ(a->end_ms, b->end_ms);
    for (int p = 0; p < ESPFAB_PHASE_COUNT; p++)
        CHECK_EQ(a->phase_ms[p], b->phase_ms[p]);
    CHECK(a->bytes_sent == b->bytes_sent);
    CHECK(a->bytes_received == b->bytes_received);
    CHECK_EQ(a->outcome, b->outcome);
    CHECK_EQ(a->fault.code, b->fault.code);
    CHECK_EQ(a->fault.rom_status, b->fault.rom_status);
    CHECK_EQ(a->fault.rom_error, b->fault.rom_error);
    CHECK_EQ(a->fault.stub_error, b->fault.stub_error);
    CHECK_EQ(a->fault.sys_errno, b->fault.sys_errno);
    CHECK_EQ(a->fault.retries, b->fault.retries);
    CHECK_STR(a->fault.detail, b->fault.detail);
    CHECK_STR(a->message, b->message);
}

static void test_fresh_schema(void)
{
    char path[300];
    new_db(path, sizeof path);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rec = -1;
    CHECK_EQ(espfab_store_open(path, 0, &s, &rec, &f), 0);
    CHECK(s != NULL);
    CHECK_EQ(rec, 0);
    CHECK(espfab_store_schema_latest() >= 1);
    CHECK_EQ(espfab_store_schema_version(s), espfab_store_schema_latest());
    espfab_store_close(s);

    sqlite3 *db = raw_open(path);
    CHECK(db != NULL);
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                         "('runs','attempts','attempt_regions','schema_version')"), 4);
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND tbl_name IN "
                         "('runs','attempts','attempt_regions')"), 8);
    /* schema 0002: the chain and the maintenance log are append-only too */
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND tbl_name IN "
                         "('attempt_chain','maintenance')"), 4);
    CHECK_EQ(raw_int(db, "SELECT max(version) FROM schema_version"), espfab_store_schema_latest());
    sqlite3_stmt *st;
    CHECK_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_reopen_idempotent(void)
{
    char path[300];
    new_db(path, sizeof path);
    espfab_fault_t f;
    for (int i = 0; i < 3; i++) {
        espfab_store_t *s = NULL;
        int rec = -1;
        espfab_fault_clear(&f);
        CHECK_EQ(espfab_store_open(path, 0, &s, &rec, &f), 0);
        CHECK_EQ(rec, 0);
        CHECK_EQ(espfab_store_schema_version(s), espfab_store_schema_latest());
        espfab_store_close(s);
    }
    sqlite3 *db = raw_open(path);
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM schema_version"), espfab_store_schema_latest());
    sqlite3_close(db);
    /* Read-only open of an up-to-date database works too. */
    espfab_store_t *ro = NULL;
    CHECK_EQ(espfab_store_open(path, ESPFAB_STORE_READONLY, &ro, NULL, &f), 0);
    espfab_store_close(ro);
}

static void test_future_schema_refused(void)
{
    char path[300];
    new_db(path, sizeof path);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), 0);
    espfab_store_close(s);
    sqlite3 *db = raw_open(path);
    char sql[200];
    int future = espfab_store_schema_latest() + 998;
    snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%d, 'future.sql', 'x')", future);
    CHECK_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s = NULL;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), ESPFAB_E_STORE_SCHEMA);
    CHECK(s == NULL);
    CHECK_EQ(f.code, ESPFAB_E_STORE_SCHEMA);
    char num[16];
    snprintf(num, sizeof num, "%d", future);
    CHECK_CONTAINS(f.detail, num);
    CHECK_CONTAINS(f.detail, path);
}

static void test_migrations_in_order(void)
{
    static const espfab_schema_migration_t m[] = {
        {1, "0001_a.sql", "CREATE TABLE a(x INTEGER);"},
        {2, "0002_b.sql", "CREATE TABLE b(y INTEGER); INSERT INTO a VALUES (2);"},
        {3, "0003_bad.sql", "CREATE TABLE c(z INTEGER); INSERT INTO a VALUES (3); NOT SQL AT ALL;"},
    };
    char path[300];
    new_db(path, sizeof path);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab__store_open_with(path, ESPFAB_STORE_NO_RECOVER, m, 1, &s, NULL, &f), 0);
    CHECK_EQ(espfab_store_schema_version(s), 1);
    espfab_store_close(s);
    /* v2 applies on top of v1 */
    CHECK_EQ(espfab__store_open_with(path, ESPFAB_STORE_NO_RECOVER, m, 2, &s, NULL, &f), 0);
    CHECK_EQ(espfab_store_schema_version(s), 2);
    espfab_store_close(s);
    /* a failing v3 is rolled back entirely: no table c, no row 3, still v2 */
    espfab_fault_clear(&f);
    CHECK_EQ(espfab__store_open_with(path, ESPFAB_STORE_NO_RECOVER, m, 3, &s, NULL, &f),
             ESPFAB_E_STORE_WRITE);
    CHECK(s == NULL);
    CHECK_CONTAINS(f.detail, "migration 0003_bad.sql");
    sqlite3 *db = raw_open(path);
    CHECK_EQ(raw_int(db, "SELECT max(version) FROM schema_version"), 2);
    CHECK_EQ(raw_int(db, "SELECT group_concat(version) = '1,2' FROM "
                         "(SELECT version FROM schema_version ORDER BY rowid)"), 1);
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'c'"), 0);
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM a"), 1);
    sqlite3_close(db);
    /* and a binary that only knows v1 refuses it */
    espfab_fault_clear(&f);
    CHECK_EQ(espfab__store_open_with(path, ESPFAB_STORE_NO_RECOVER, m, 1, &s, NULL, &f),
             ESPFAB_E_STORE_SCHEMA);
    /* a fresh file gets every migration in one go, in order */
    new_db(path, sizeof path);
    CHECK_EQ(espfab__store_open_with(path, ESPFAB_STORE_NO_RECOVER, m, 2, &s, NULL, &f), 0);
    CHECK_EQ(espfab_store_schema_version(s), 2);
    espfab_store_close(s);
    db = raw_open(path);
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM a WHERE x = 2"), 1);
    sqlite3_close(db);
}

static void test_not_a_database(void)
{
    char path[300];
    new_db(path, sizeof path);
    FILE *fp = fopen(path, "w");
    for (int i = 0; i < 200; i++)
        fputs("this is not an sqlite database at all. ", fp);
    fclose(fp);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rc = espfab_store_open(path, 0, &s, NULL, &f);
    CHECK(rc == ESPFAB_E_STORE_CORRUPT || rc == ESPFAB_E_STORE_OPEN);
    CHECK(s == NULL);
    CHECK_CONTAINS(f.detail, path);

    /* A missing directory cannot be opened. */
    espfab_fault_clear(&f);
    char bad[320];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.db", tmpdir);
    CHECK_EQ(espfab_store_open(bad, 0, &s, NULL, &f), ESPFAB_E_STORE_OPEN);
}

static void test_roundtrip_every_field(void)
{
    char path[300];
    new_db(path, sizeof path);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), 0);

    espfab_run_t run;
    memset(&run, 0, sizeof run);
    snprintf(run.station, sizeof run.station, "st-7");
    snprintf(run.mode, sizeof run.mode, "batch");
    CHECK_EQ(espfab_store_run_begin(s, &run, &f), 0);
    CHECK(run.id > 0);
    CHECK(run.start_ms > 0);
    CHECK(run.host[0] != '\0');

    espfab_attempt_t *full = malloc(sizeof *full), *a = malloc(sizeof *a);
    fill_attempt(full, 7);

    /* begin with only the "where and who" part known */
    espfab_attempt_init(a);
    memcpy(a->station, full->station, sizeof a->station);
    memcpy(a->slot, full->slot, sizeof a->slot);
    memcpy(a->port, full->port, sizeof a->port);
    a->start_ms = full->start_ms;
    CHECK_EQ(espfab_store_attempt_begin(s, run.id, a, &f), 0);
    CHECK(a->id > 0);

    collect_t *c = calloc(1, sizeof *c);
    espfab_store_filter_t flt;
    espfab_store_filter_init(&flt);
    flt.id = a->id;
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 1);
    CHECK_EQ(c->run_id, run.id);
    CHECK_EQ(c->last.outcome, ESPFAB_OUTCOME_RUNNING);
    CHECK_EQ(c->last.rev_full, -1);
    CHECK_EQ(c->last.fault.rom_status, -1);
    CHECK_EQ(c->last.fault.rom_error, -1);
    CHECK_EQ(c->last.end_ms, 0);
    CHECK_STR(c->last.slot, full->slot);

    /* update: the identity becomes known, still running */
    int64_t id = a->id;
    *a = *full;
    a->id = id;
    a->outcome = ESPFAB_OUTCOME_PASS; /* ignored by update: stays running */
    CHECK_EQ(espfab_store_attempt_update(s, a, &f), 0);
    memset(c, 0, sizeof *c);
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 1);
    CHECK_EQ(c->last.outcome, ESPFAB_OUTCOME_RUNNING);
    CHECK_STR(c->last.mac, full->mac);
    CHECK_EQ(c->last.nregions, 3);
    CHECK_EQ(c->last.end_ms, 0);

    /* an update from a copy without start_ms keeps the stored start */
    a->start_ms = 0;
    CHECK_EQ(espfab_store_attempt_update(s, a, &f), 0);
    a->start_ms = full->start_ms;

    /* finish: everything */
    a->outcome = ESPFAB_OUTCOME_FAIL;
    a->chain_sha256[0] = '\0';
    CHECK_EQ(espfab_store_attempt_finish(s, a, &f), 0);
    memset(c, 0, sizeof *c);
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 1);
    compare_attempts(&c->last, a);
    /* the finish hands back the attempt's chain link, as stored (the
     * station's live board event carries it) */
    CHECK_EQ(strlen(a->chain_sha256), 64u);
    CHECK_STR(a->chain_sha256, c->last.chain_sha256);

    /* the stored text columns a report reads directly */
    espfab_store_close(s);
    sqlite3 *db = raw_open(path);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT error_code FROM attempts WHERE id=%lld", (long long)id);
    CHECK_EQ(raw_int(db, sql), espfab_err_number(ESPFAB_E_MD5_MISMATCH));
    snprintf(sql, sizeof sql, "SELECT error_name = 'MD5_MISMATCH' AND outcome = 'fail' AND "
             "started_at LIKE '20__-__-__T__:__:__.___Z' AND ended_at IS NOT NULL "
             "FROM attempts WHERE id=%lld", (long long)id);
    CHECK_EQ(raw_int(db, sql), 1);
    sqlite3_close(db);
    free(full);
    free(a);
    free(c);
}

static void test_two_attempts_same_mac(void)
{
    char path[300];
    new_db(path, sizeof path);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), 0);
    espfab_attempt_t *a = malloc(sizeof *a);
    int64_t ids[2];
    for (int i = 0; i < 2; i++) {
        fill_attempt(a, 3);
        a->outcome = i ? ESPFAB_OUTCOME_PASS : ESPFAB_OUTCOME_FAIL;
        if (i)
            espfab_fault_clear(&a->fault);
        CHECK_EQ(espfab_store_attempt_begin(s, 0, a, &f), 0);
        CHECK_EQ(espfab_store_attempt_finish(s, a, &f), 0);
        ids[i] = a->id;
    }
    CHECK(ids[0] != ids[1]);
    collect_t *c = calloc(1, sizeof *c);
    espfab_store_filter_t flt;
    espfab_store_filter_init(&flt);
    flt.mac = "24:6f:28:00:00:03";
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 2);
    CHECK_EQ(c->ids[0], ids[0]);
    CHECK_EQ(c->ids[1], ids[1]);
    CHECK_EQ(c->last.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(c->last.fault.code, 0);
    espfab_store_close(s);
    free(a);
    free(c);
}

static void test_append_only(void)
{
    char path[300];
    new_db(path, sizeof path);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), 0);
    espfab_attempt_t *a = malloc(sizeof *a);
    fill_attempt(a, 1);
    a->outcome = ESPFAB_OUTCOME_PASS;
    CHECK_EQ(espfab_store_attempt_begin(s, 0, a, &f), 0);
    CHECK_EQ(espfab_store_attempt_finish(s, a, &f), 0);
    int64_t done = a->id;

    /* the API refuses to touch a completed attempt */
    espfab_fault_clear(&f);
    snprintf(a->mac, sizeof a->mac, "aa:aa:aa:aa:aa:aa");
    CHECK_EQ(espfab_store_attempt_update(s, a, &f), ESPFAB_E_STORE_WRITE);
    CHECK_CONTAINS(f.detail, "never rewritten");
    espfab_fault_clear(&f);
    a->outcome = ESPFAB_OUTCOME_FAIL;
    CHECK_EQ(espfab_store_attempt_finish(s, a, &f), ESPFAB_E_STORE_WRITE);
    /* finishing as running is a caller bug */
    a->outcome = ESPFAB_OUTCOME_RUNNING;
    CHECK_EQ(espfab_store_attempt_finish(s, a, &f), ESPFAB_E_INVALID_ARG);

    /* a second, still running attempt */
    fill_attempt(a, 2);
    CHECK_EQ(espfab_store_attempt_begin(s, 0, a, &f), 0);
    int64_t running = a->id;
    espfab_store_close(s);

    /* SQL itself refuses, whoever writes */
    sqlite3 *db = raw_open(path);
    char sql[200];
    snprintf(sql, sizeof sql, "DELETE FROM attempts WHERE id=%lld", (long long)done);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK);
    CHECK_CONTAINS(sqlite3_errmsg(db), "never deleted");
    snprintf(sql, sizeof sql, "DELETE FROM attempts WHERE id=%lld", (long long)running);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM attempt_regions", NULL, NULL, NULL) != SQLITE_OK);
    CHECK(sqlite3_exec(db, "INSERT INTO runs(started_at, start_ms) VALUES ('x', 1)", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM runs", NULL, NULL, NULL) != SQLITE_OK);
    snprintf(sql, sizeof sql, "UPDATE attempts SET outcome='pass' WHERE id=%lld", (long long)done);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK);
    CHECK_CONTAINS(sqlite3_errmsg(db), "never rewritten");
    snprintf(sql, sizeof sql, "UPDATE attempts SET mac='x' WHERE id=%lld", (long long)done);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK);
    snprintf(sql, sizeof sql, "UPDATE attempt_regions SET verified=0 WHERE attempt_id=%lld",
             (long long)done);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK);
    snprintf(sql, sizeof sql, "INSERT INTO attempt_regions(attempt_id, idx, flash_offset) "
             "VALUES (%lld, 9, 0)", (long long)done);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK);
    CHECK(sqlite3_exec(db, "INSERT INTO attempts(outcome, started_at, start_ms) "
                           "VALUES ('pass', 'x', 1)", NULL, NULL, NULL) != SQLITE_OK);
    /* the running one may still be completed */
    snprintf(sql, sizeof sql, "UPDATE attempts SET mac='bb' WHERE id=%lld", (long long)running);
    CHECK_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM attempts"), 2);
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM attempt_regions"), 6);
    snprintf(sql, sizeof sql, "SELECT mac = '24:6f:28:00:00:01' FROM attempts WHERE id=%lld",
             (long long)done);
    CHECK_EQ(raw_int(db, sql), 1);
    sqlite3_close(db);
    free(a);
}

/* Child: records some attempts and dies without closing anything. */
static void crash_child(const char *path)
{
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    if (espfab_store_open(path, 0, &s, NULL, &f) != 0)
        _exit(10);
    espfab_run_t run;
    memset(&run, 0, sizeof run);
    snprintf(run.station, sizeof run.station, "crashy");
    if (espfab_store_run_begin(s, &run, &f) != 0)
        _exit(11);
    espfab_attempt_t *a = malloc(sizeof *a);
    for (int i = 0; i < 5; i++) {
        fill_attempt(a, 20 + i);
        a->nregions = 1;
        a->end_ms = 0;
        if (espfab_store_attempt_begin(s, run.id, a, &f) != 0)
            _exit(12);
        if (i == 1 || i == 3) {
            a->outcome = ESPFAB_OUTCOME_PASS;
            espfab_fault_clear(&a->fault);
            a->regions[0].verified = true;
            if (espfab_store_attempt_finish(s, a, &f) != 0)
                _exit(13);
        } else if (i == 2) {
            a->nregions = 2; /* identity known, second region started */
            if (espfab_store_attempt_update(s, a, &f) != 0)
                _exit(14);
        }
    }
    kill(getpid(), SIGKILL);
    _exit(15);
}

static void test_crash_recovery(void)
{
    char path[300];
    new_db(path, sizeof path);
    pid_t pid = fork();
    if (pid == 0)
        crash_child(path);
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* a reader first: sees the open attempts and leaves them alone */
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    espfab_store_health_t h;
    CHECK_EQ(espfab_store_open(path, ESPFAB_STORE_NO_RECOVER, &s, NULL, &f), 0);
    CHECK_EQ(espfab_store_check(s, &h, &f), 0);
    CHECK(h.integrity_ok);
    CHECK_EQ(h.attempts, 5);
    CHECK_EQ(h.running, 3);
    CHECK_EQ(h.passed, 2);
    espfab_store_close(s);

    int rec = -1;
    CHECK_EQ(espfab_store_open(path, 0, &s, &rec, &f), 0);
    CHECK_EQ(rec, 3);
    CHECK_EQ(espfab_store_check(s, &h, &f), 0);
    CHECK(h.integrity_ok);
    CHECK_STR(h.integrity, "ok");
    CHECK_EQ(h.attempts, 5);
    CHECK_EQ(h.running, 0);
    CHECK_EQ(h.interrupted, 3);
    CHECK_EQ(h.interrupted_open, 3);
    CHECK_EQ(h.passed, 2);
    CHECK_EQ(h.runs, 1);

    collect_t *c = calloc(1, sizeof *c);
    espfab_store_filter_t flt;
    espfab_store_filter_init(&flt);
    flt.outcome = ESPFAB_OUTCOME_PASS;
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 2);
    CHECK_STR(c->last.mac, "24:6f:28:00:00:17"); /* k = 23 */
    CHECK_EQ(c->last.nregions, 1);
    CHECK(c->last.regions[0].verified);
    CHECK(c->last.end_ms > 0);

    memset(c, 0, sizeof *c);
    flt.outcome = ESPFAB_OUTCOME_INTERRUPTED;
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 3);
    CHECK_EQ(c->last.fault.code, ESPFAB_E_INTERRUPTED);
    CHECK_CONTAINS(c->last.message, "interrupted");
    CHECK(c->last.fault.detail[0] != '\0');
    espfab_store_close(s);

    /* the update of attempt k=22 (two regions) survived */
    sqlite3 *db = raw_open(path);
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM attempt_regions WHERE attempt_id = "
                         "(SELECT id FROM attempts WHERE mac='24:6f:28:00:00:16')"), 2);
    CHECK_EQ(raw_int(db, "SELECT count(*) FROM runs WHERE end_ms IS NOT NULL"), 1);
    sqlite3_close(db);

    /* a second reopen finds nothing more to do */
    CHECK_EQ(espfab_store_open(path, 0, &s, &rec, &f), 0);
    CHECK_EQ(rec, 0);
    /* reflashing one interrupted board (same MAC) and passing resolves it */
    espfab_attempt_t *a = malloc(sizeof *a);
    fill_attempt(a, 22);
    a->outcome = ESPFAB_OUTCOME_PASS;
    espfab_fault_clear(&a->fault);
    CHECK_EQ(espfab_store_attempt_begin(s, 0, a, &f), 0);
    CHECK_EQ(espfab_store_attempt_finish(s, a, &f), 0);
    CHECK_EQ(espfab_store_check(s, &h, &f), 0);
    CHECK_EQ(h.interrupted, 3);
    CHECK_EQ(h.interrupted_open, 2);
    free(a);
    espfab_store_close(s);
    free(c);
}

static void test_live_run_not_recovered(void)
{
    char path[300];
    new_db(path, sizeof path);
    espfab_store_t *s = NULL, *t = NULL;
    espfab_fault_t f;
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), 0);
    espfab_run_t run;
    memset(&run, 0, sizeof run);
    CHECK_EQ(espfab_store_run_begin(s, &run, &f), 0);
    espfab_attempt_t *a = malloc(sizeof *a);
    fill_attempt(a, 4);
    CHECK_EQ(espfab_store_attempt_begin(s, run.id, a, &f), 0);
    /* a second station connection in this (live) process: the attempt's
     * owner is alive, so it is not interrupted */
    int rec = -1;
    CHECK_EQ(espfab_store_open(path, 0, &t, &rec, &f), 0);
    CHECK_EQ(rec, 0);
    espfab_store_close(t);
    a->outcome = ESPFAB_OUTCOME_PASS;
    CHECK_EQ(espfab_store_attempt_finish(s, a, &f), 0);
    CHECK_EQ(espfab_store_run_end(s, run.id, 0, &f), 0);
    /* an ended run is not rewritten */
    CHECK_EQ(espfab_store_run_end(s, run.id, 0, &f), ESPFAB_E_STORE_WRITE);
    espfab_store_close(s);
    free(a);
}

static void test_query_filters(void)
{
    char path[300];
    new_db(path, sizeof path);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), 0);
    espfab_attempt_t *a = malloc(sizeof *a);
    for (int k = 0; k < 6; k++) {
        fill_attempt(a, k);
        snprintf(a->lot, sizeof a->lot, "%s", k < 4 ? "LOT-A" : "LOT-B");
        snprintf(a->profile_name, sizeof a->profile_name, "%s", k % 2 ? "odd" : "even");
        a->outcome = k == 5 ? ESPFAB_OUTCOME_FAIL : ESPFAB_OUTCOME_PASS;
        CHECK_EQ(espfab_store_attempt_begin(s, 0, a, &f), 0);
        CHECK_EQ(espfab_store_attempt_finish(s, a, &f), 0);
    }
    collect_t *c = calloc(1, sizeof *c);
    espfab_store_filter_t flt;

    espfab_store_filter_init(&flt);
    flt.lot = "LOT-A";
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 4);

    memset(c, 0, sizeof *c);
    flt.profile_name = "odd";
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 2); /* k = 1, 3 */

    memset(c, 0, sizeof *c);
    espfab_store_filter_init(&flt);
    flt.from_ms = 1790000000000LL + 2000; /* k >= 2 */
    flt.to_ms = 1790000000000LL + 5000;   /* k < 5 */
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 3);
    CHECK_STR(c->last.mac, "24:6f:28:00:00:04");

    memset(c, 0, sizeof *c);
    espfab_store_filter_init(&flt);
    flt.outcome = ESPFAB_OUTCOME_FAIL;
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 1);
    CHECK_STR(c->last.lot, "LOT-B");

    memset(c, 0, sizeof *c);
    espfab_store_filter_init(&flt);
    flt.newest_first = true;
    flt.limit = 2;
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 2);
    CHECK(c->ids[0] > c->ids[1]);

    /* a callback's non-zero return stops and is returned */
    memset(c, 0, sizeof *c);
    CHECK_EQ(espfab_store_query(s, NULL, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 6);
    espfab_store_close(s);
    free(a);
    free(c);
}

static int stop_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    (void)a;
    (void)run_id;
    return ++*(int *)data == 2 ? 42 : 0;
}

static void test_query_stop(void)
{
    char path[300];
    new_db(path, sizeof path);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), 0);
    espfab_attempt_t *a = malloc(sizeof *a);
    for (int k = 0; k < 3; k++) {
        fill_attempt(a, k);
        CHECK_EQ(espfab_store_attempt_begin(s, 0, a, &f), 0);
    }
    int n = 0;
    CHECK_EQ(espfab_store_query(s, NULL, stop_cb, &n, &f), 42);
    CHECK_EQ(n, 2);
    espfab_store_close(s);
    free(a);
}

static void test_iso8601(void)
{
    char buf[32];
    espfab_store_iso8601(0, buf);
    CHECK_STR(buf, "1970-01-01T00:00:00.000Z");
    espfab_store_iso8601(1795467345123LL, buf);
    CHECK_STR(buf, "2026-11-23T20:55:45.123Z");
}

/* The documented encoding (docs/record.md), rebuilt here independently of
 * src/store/chain.c: what an auditor would compute with the sqlite3 CLI. */
static void doc_field(char **buf, size_t *len, size_t *cap, sqlite3_stmt *st, int i)
{
    char tmp[96];
    int n;
    const char *name = sqlite3_column_name(st, i);
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL: n = snprintf(tmp, sizeof tmp, "%s=N\n", name); break;
    case SQLITE_INTEGER:
        n = snprintf(tmp, sizeof tmp, "%s=I%lld\n", name, (long long)sqlite3_column_int64(st, i));
        break;
    default:
        n = snprintf(tmp, sizeof tmp, "%s=T%d:", name, sqlite3_column_bytes(st, i));
        break;
    }
    size_t extra = (size_t)n + (size_t)sqlite3_column_bytes(st, i) + 2;
    if (*len + extra >= *cap) {
        *cap = (*len + extra) * 2;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, tmp, (size_t)n);
    *len += (size_t)n;
    if (sqlite3_column_type(st, i) == SQLITE_TEXT) {
        memcpy(*buf + *len, sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
        *len += (size_t)sqlite3_column_bytes(st, i);
        (*buf)[(*len)++] = '\n';
    }
}

static void doc_hash(sqlite3 *db, int64_t seq, const char *prev, int64_t id, char out[65])
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    len = (size_t)snprintf(buf, cap, "espfab-chain-1\nseq=I%lld\nprev=T64:%s\n", (long long)seq,
                           prev);
    sqlite3_stmt *st;
    char sql[1200];
    snprintf(sql, sizeof sql, "SELECT id, run_id, station, line, slot, port, operator, lot, "
             "profile_name, profile_sha256, chip, rev_full, mac, chip_id, has_secinfo, "
             "secinfo_flags, flash_jedec, flash_size, xtal_mhz, loader, baud, started_at, "
             "start_ms, ended_at, end_ms, ms_connect, ms_identify, ms_stub, ms_baud, ms_erase, "
             "ms_write, ms_verify, ms_reset, bytes_sent, bytes_received, outcome, error_code, "
             "error_name, rom_status, rom_error, stub_error, sys_errno, retries, detail, message "
             "FROM attempts WHERE id = %lld", (long long)id);
    CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    for (int i = 0; i < sqlite3_column_count(st); i++)
        doc_field(&buf, &len, &cap, st, i);
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql, "SELECT idx, flash_offset, file, sha256, md5_expected, md5_device, "
             "size, wire_size, compressed, written, verified FROM attempt_regions WHERE "
             "attempt_id = %lld ORDER BY idx", (long long)id);
    CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (len + 8 >= cap)
            buf = realloc(buf, cap *= 2);
        memcpy(buf + len, "region\n", 7);
        len += 7;
        for (int i = 0; i < sqlite3_column_count(st); i++)
            doc_field(&buf, &len, &cap, st, i);
    }
    sqlite3_finalize(st);
    if (len + 5 >= cap)
        buf = realloc(buf, cap *= 2);
    memcpy(buf + len, "end\n", 4);
    len += 4;
    unsigned char md[32];
    unsigned n = 0;
    EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    free(buf);
}

static int head_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    (void)run_id;
    snprintf(data, 65, "%s", a->chain_sha256);
    return 0;
}

static void count_finding(const espfab_store_finding_t *x, void *data)
{
    espfab_store_finding_t *first = data;
    if (!first->text[0])
        *first = *x;
}

static void test_chain(void)
{
    char path[300];
    new_db(path, sizeof path);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), 0);
    espfab_run_t run;
    memset(&run, 0, sizeof run);
    CHECK_EQ(espfab_store_run_begin(s, &run, &f), 0);
    espfab_attempt_t *a = malloc(sizeof *a);
    for (int k = 0; k < 3; k++) {
        fill_attempt(a, k);
        a->start_ms = 0;
        CHECK_EQ(espfab_store_attempt_begin(s, run.id, a, &f), 0);
        a->outcome = k == 1 ? ESPFAB_OUTCOME_FAIL : ESPFAB_OUTCOME_PASS;
        CHECK_EQ(espfab_store_attempt_finish(s, a, &f), 0);
    }
    CHECK_EQ(espfab_store_run_end(s, run.id, 0, &f), 0);
    espfab_store_chain_head_t h;
    CHECK_EQ(espfab_store_chain_head(s, &h, &f), 0);
    CHECK_EQ(h.seq, 3);
    CHECK_EQ(h.attempt_id, 3);
    CHECK_EQ(strlen(h.sha256), 64);
    /* the query carries each attempt's link */
    char got[65] = "";
    espfab_store_filter_t flt;
    espfab_store_filter_init(&flt);
    flt.id = 3;
    CHECK_EQ(espfab_store_query(s, &flt, head_cb, got, &f), 0);
    CHECK_STR(got, h.sha256);
    int64_t n = -1;
    espfab_store_finding_t first;
    memset(&first, 0, sizeof first);
    CHECK_EQ(espfab_store_verify(s, count_finding, &first, &n, &f), 0);
    CHECK_EQ(n, 0);
    espfab_store_close(s);

    /* the documented encoding recomputes every link */
    sqlite3 *db = raw_open(path);
    char prev[65], want[65];
    memset(prev, '0', 64);
    prev[64] = 0;
    for (int seq = 1; seq <= 3; seq++) {
        doc_hash(db, seq, prev, seq, want);
        char sql[120];
        snprintf(sql, sizeof sql, "SELECT sha256 = '%s' FROM attempt_chain WHERE seq = %d", want,
                 seq);
        CHECK_EQ(raw_int(db, sql), 1);
        snprintf(prev, sizeof prev, "%s", want);
    }
    snprintf(want, sizeof want, "%s", prev);
    CHECK_STR(want, h.sha256);
    CHECK_EQ(raw_int(db, "SELECT chain_seq FROM runs WHERE id = 1"), 3);
    /* one region's MD5 changed behind espfab's back: named */
    CHECK_EQ(sqlite3_exec(db, "DROP TRIGGER regions_no_rewrite; UPDATE attempt_regions SET "
                              "md5_device = md5_expected WHERE attempt_id = 2", NULL, NULL, NULL),
             SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ(espfab_store_open(path, ESPFAB_STORE_READONLY, &s, NULL, &f), 0);
    memset(&first, 0, sizeof first);
    CHECK_EQ(espfab_store_verify(s, count_finding, &first, &n, &f), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(first.kind, ESPFAB_FINDING_TRIGGER_MISSING);
    espfab_store_close(s);
    CHECK_EQ(espfab_store_open(path, ESPFAB_STORE_NO_RECOVER, &s, NULL, &f), 0);
    int fixed = -1;
    CHECK_EQ(espfab_store_repair_triggers(s, &fixed, &f), 0);
    CHECK_EQ(fixed, 1);
    memset(&first, 0, sizeof first);
    CHECK_EQ(espfab_store_verify(s, count_finding, &first, &n, &f), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(first.kind, ESPFAB_FINDING_CHAIN_MISMATCH);
    CHECK_EQ(first.attempt_id, 2);
    CHECK_CONTAINS(first.text, "attempt #2");
    espfab_store_close(s);
    free(a);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/espfab-test-store-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_fresh_schema);
    RUN(test_reopen_idempotent);
    RUN(test_future_schema_refused);
    RUN(test_migrations_in_order);
    RUN(test_not_a_database);
    RUN(test_roundtrip_every_field);
    RUN(test_two_attempts_same_mac);
    RUN(test_append_only);
    RUN(test_crash_recovery);
    RUN(test_live_run_not_recovered);
    RUN(test_query_filters);
    RUN(test_query_stop);
    RUN(test_iso8601);
    RUN(test_chain);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary();
}

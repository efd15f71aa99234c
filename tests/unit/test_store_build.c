/* test_store_build.c - schema 0003: which espfab and which stub wrote a
 * board.  The new run and attempt columns round-trip; a database made by
 * schema 0002 upgrades without a shipped row changing (its new columns stay
 * NULL, its chain still verifies); a completed attempt's new columns cannot
 * be rewritten; a reader reads a 0002 database as it is. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "espfab/build.h"
#include "espfab/store.h"
#include "store/schema.h"

static char tmpdir[256];

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st;
    int64_t v = -12345;
    if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

typedef struct {
    int n;
    espfab_attempt_t last;
} collect_t;

static int collect_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    collect_t *c = data;
    c->n++;
    c->last = *a;
    return 0;
}

/* One run with one completed attempt (stub_sha256 = stub, "" for ROM). */
static int64_t record_one(espfab_store_t *s, const char *stub)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    espfab_run_t run;
    memset(&run, 0, sizeof run);
    snprintf(run.station, sizeof run.station, "st");
    CHECK_EQ(espfab_store_run_begin(s, &run, &f), 0);
    espfab_attempt_t *a = malloc(sizeof *a);
    espfab_attempt_init(a);
    snprintf(a->mac, sizeof a->mac, "24:6f:28:00:00:01");
    snprintf(a->stub_sha256, sizeof a->stub_sha256, "%s", stub);
    CHECK_EQ(espfab_store_attempt_begin(s, run.id, a, &f), 0);
    a->outcome = ESPFAB_OUTCOME_PASS;
    CHECK_EQ(espfab_store_attempt_finish(s, a, &f), 0);
    CHECK_EQ(espfab_store_run_end(s, run.id, 0, &f), 0);
    int64_t id = a->id;
    free(a);
    return id;
}

static void query_one(espfab_store_t *s, int64_t id, collect_t *c)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    espfab_store_filter_t flt;
    espfab_store_filter_init(&flt);
    flt.id = id;
    memset(c, 0, sizeof *c);
    CHECK_EQ(espfab_store_query(s, &flt, collect_cb, c, &f), 0);
    CHECK_EQ(c->n, 1);
}

static void test_attempt_init_sets_version(void)
{
    espfab_attempt_t a;
    espfab_attempt_init(&a);
    CHECK_STR(a.espfab_version, espfab_build_version());
    CHECK_STR(a.stub_sha256, "");
}

static void test_new_columns_roundtrip(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/new.db", tmpdir);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), 0);
    CHECK(espfab_store_schema_latest() >= 3);
    const char *sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    int64_t id = record_one(s, sha);
    int64_t rom = record_one(s, "");
    collect_t c;
    query_one(s, id, &c);
    CHECK_STR(c.last.stub_sha256, sha);
    CHECK_STR(c.last.espfab_version, espfab_build_version());
    query_one(s, rom, &c);
    CHECK_STR(c.last.stub_sha256, "");
    espfab_store_close(s);
    /* the run carries the version and the build's stub set */
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE espfab_version = '%s' AND stub_package = '%s'",
             espfab_build_version(), espfab_build_stub_package());
    CHECK_EQ(raw_int(path, sql), 2);
    CHECK_EQ(raw_int(path, "SELECT count(*) FROM attempts WHERE stub_sha256 = '' AND espfab_version IS NOT NULL"), 1);
    /* a completed attempt's new columns are never rewritten */
    CHECK(raw_exec(path, "UPDATE attempts SET stub_sha256 = 'x'") != SQLITE_OK);
    CHECK(raw_exec(path, "UPDATE attempts SET espfab_version = 'x'") != SQLITE_OK);
}

static void test_upgrade_from_0002(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/v2.db", tmpdir);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    unsigned n2 = 0;
    while (n2 < espfab_schema_count && espfab_schema_migrations[n2].version <= 2)
        n2++;
    CHECK_EQ(n2, 2u);
    /* an espfab that knew schema 2 records a board */
    CHECK_EQ(espfab__store_open_with(path, 0, espfab_schema_migrations, n2, &s, NULL, &f), 0);
    CHECK_EQ(espfab_store_schema_version(s), 2);
    int64_t old = record_one(s, "");
    espfab_store_close(s);
    CHECK_EQ(raw_int(path, "SELECT count(*) FROM pragma_table_info('attempts') WHERE name = 'stub_sha256'"), 0);

    /* a reader of this binary reads it as it is */
    CHECK_EQ(espfab_store_open(path, ESPFAB_STORE_READONLY, &s, NULL, &f), 0);
    CHECK_EQ(espfab_store_schema_version(s), 2);
    collect_t c;
    query_one(s, old, &c);
    CHECK_STR(c.last.espfab_version, "");
    CHECK_STR(c.last.stub_sha256, "");
    espfab_store_close(s);

    /* a writer migrates: the old rows keep NULL (not known), nothing else changes */
    CHECK_EQ(espfab_store_open(path, 0, &s, NULL, &f), 0);
    CHECK_EQ(espfab_store_schema_version(s), espfab_store_schema_latest());
    query_one(s, old, &c);
    CHECK_STR(c.last.espfab_version, "");
    CHECK_EQ(c.last.outcome, ESPFAB_OUTCOME_PASS);
    int64_t nf = -1;
    CHECK_EQ(espfab_store_verify(s, NULL, NULL, &nf, &f), 0);
    CHECK_EQ(nf, 0);
    const char *sha = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    int64_t id = record_one(s, sha);
    query_one(s, id, &c);
    CHECK_STR(c.last.stub_sha256, sha);
    CHECK_STR(c.last.espfab_version, espfab_build_version());
    CHECK_EQ(espfab_store_verify(s, NULL, NULL, &nf, &f), 0);
    CHECK_EQ(nf, 0);
    espfab_store_close(s);
    CHECK_EQ(raw_int(path, "SELECT count(*) FROM attempts WHERE espfab_version IS NULL AND stub_sha256 IS NULL"), 1);
    CHECK_EQ(raw_int(path, "SELECT count(*) FROM runs WHERE espfab_version IS NULL AND stub_package IS NULL"), 1);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/espfab-test-store-build-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_attempt_init_sets_version);
    RUN(test_new_columns_roundtrip);
    RUN(test_upgrade_from_0002);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary();
}

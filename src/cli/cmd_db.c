/*
 * cmd_db.c - `espfab db check` (integrity, the tamper-evident chain,
 * triggers, open and interrupted attempts) and `espfab db stats` (counts by
 * outcome, error and lot).
 *
 * The database is --db FILE, else the station file's (--station FILE, or
 * ./station.ini when it exists), else ./espfab.db.  Both commands open it
 * without crash recovery, so they never change an attempt; read-write (an
 * older schema is upgraded) when the file and its folder are writable, else
 * read-only (an archived lot, a read-only mount).  `db check
 * --repair-triggers` and `--close-stale` write, and record what they did in
 * the maintenance table.
 * Exit status: 0 healthy, 1 problems found, 2 usage or cannot open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "espfab/cli.h"
#include "espfab/station_cfg.h"
#include "espfab/store.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: espfab db check [--db FILE | --station FILE] [--repair-triggers] "
            "[--close-stale]\n"
            "       espfab db stats [--db FILE | --station FILE] [--lot LOT]\n"
            "\n"
            "check  runs PRAGMA integrity_check, recomputes the attempt chain (names the\n"
            "       first changed row, deleted or reused ids, rows completed outside\n"
            "       espfab, missing triggers) and lists attempts still open and boards\n"
            "       interrupted without a later pass; exit 0 ok, 1 problems\n"
            "       --repair-triggers  put missing or altered triggers back (recorded)\n"
            "       --close-stale      close open attempts whose station is provably gone\n"
            "                          (its owner lock is free) as interrupted (recorded)\n"
            "stats  counts attempts by outcome, error and lot\n");
}

static void print_fault(const espfab_fault_t *f)
{
    char line[1024];
    fprintf(stderr, "espfab db: %s\n", espfab_fault_format(f, line, sizeof line));
}

/* Picks the database path; returns 0 or 2 (message printed). */
static int db_path(const char *db, const char *station, char *out, size_t len)
{
    if (db) {
        snprintf(out, len, "%s", db);
        return 0;
    }
    struct stat sb;
    if (!station && stat("station.ini", &sb) == 0)
        station = "station.ini";
    if (!station) {
        snprintf(out, len, "espfab.db");
        return 0;
    }
    espfab_station_cfg_t c;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (espfab_station_cfg_load(station, &c, &f) != 0) {
        print_fault(&f);
        return 2;
    }
    snprintf(out, len, "%s", c.database);
    espfab_station_cfg_free(&c);
    return 0;
}

/* Read-write when the file and its folder are writable (an older schema is
 * upgraded), else read-only; writes (repairs) need read-write. */
static int open_db(const char *path, bool need_write, espfab_store_t **s)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "espfab db: no database at %s (use --db FILE or --station FILE)\n", path);
        return 2;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = 0;
    else
        snprintf(dir, sizeof dir, ".");
    bool writable = access(path, W_OK) == 0 && access(dir, W_OK) == 0;
    if (need_write && !writable) {
        fprintf(stderr, "espfab db: %s (or its folder) is read-only: repairs need write access; "
                        "run as the station's user or on a writable copy\n", path);
        return 2;
    }
    espfab_fault_t f;
    espfab_fault_clear(&f);
    unsigned flags = writable ? ESPFAB_STORE_NO_RECOVER : ESPFAB_STORE_READONLY;
    int rc = espfab_store_open(path, flags, s, NULL, &f);
    if (rc != 0) {
        print_fault(&f);
        return rc == ESPFAB_E_STORE_CORRUPT ? 1 : 2; /* a damaged file is a finding */
    }
    return 0;
}

typedef struct {
    int shown;
    bool only_unresolved;
    espfab_store_t *s;
} list_t;

static int has_later_pass(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    (void)run_id;
    const espfab_attempt_t *orig = data;
    if (a->id > orig->id && a->outcome == ESPFAB_OUTCOME_PASS)
        return 1;
    return 0;
}

static int list_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    list_t *l = data;
    (void)run_id;
    if (l->shown >= 20)
        return 0;
    char when[32];
    espfab_store_iso8601(a->start_ms, when);
    printf("  #%lld  %s  station %s slot %s port %s  mac %s  %s%s%s\n", (long long)a->id, when,
           a->station[0] ? a->station : "-", a->slot[0] ? a->slot : "-",
           a->port[0] ? a->port : "-", a->mac[0] ? a->mac : "unknown",
           a->profile_name[0] ? "profile " : "", a->profile_name,
           a->outcome == ESPFAB_OUTCOME_INTERRUPTED ? "  (interrupted)" : "");
    l->shown++;
    return 0;
}

/* Interrupted attempts whose board has not passed since. */
static int unresolved_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    list_t *l = data;
    if (espfab_attempt_came_back(a))
        return 0; /* the board had passed: it only came back on its port */
    if (!a->mac[0])
        return 0; /* interrupted before the MAC was read: names no board, closed history */
    {
        /* A nested query on the same connection is a read: allowed. */
        espfab_store_filter_t flt;
        espfab_store_filter_init(&flt);
        flt.mac = a->mac;
        flt.outcome = ESPFAB_OUTCOME_PASS;
        espfab_fault_t f;
        int rc = espfab_store_query(l->s, &flt, has_later_pass, (void *)a, &f);
        if (rc == 1)
            return 0;
    }
    return list_cb(a, run_id, data);
}

typedef struct {
    int64_t shown;
} findings_t;

static void finding_cb(const espfab_store_finding_t *x, void *data)
{
    findings_t *l = data;
    if (l->shown++ < 20)
        printf("  %s\n", x->text);
}

/* --repair-triggers / --close-stale; returns 0 or 2 (message printed). */
static int repairs(espfab_store_t *s, bool repair_triggers, bool close_stale)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (repair_triggers) {
        int n = 0;
        if (espfab_store_repair_triggers(s, &n, &f) != 0) {
            print_fault(&f);
            return 2;
        }
        printf("repair       %d trigger%s put back%s\n", n, n == 1 ? "" : "s",
               n ? " (recorded in the maintenance table)" : "");
    }
    if (close_stale) {
        int n = 0;
        if (espfab_store_close_stale(s, &n, &f) != 0) {
            print_fault(&f);
            return 2;
        }
        printf("close-stale  %d open attempt%s of stations that are gone closed as "
               "interrupted\n", n, n == 1 ? "" : "s");
    }
    return 0;
}

/* The chain and trigger findings; returns their number. */
static int64_t check_chain(espfab_store_t *s, const espfab_store_health_t *h)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    espfab_store_chain_head_t head;
    if (!h->chain) {
        printf("chain        not started: schema version %d (open the database read-write once "
               "to upgrade it)\n", h->schema_version);
    } else if (espfab_store_chain_head(s, &head, &f) == 0) {
        if (head.seq)
            printf("chain        %lld links, head %lld (attempt #%lld) sha256 %s\n",
                   (long long)h->chained, (long long)head.seq, (long long)head.attempt_id,
                   head.sha256);
        else
            printf("chain        empty (no attempt completed yet)\n");
    }
    if (h->maintenance)
        printf("maintenance  %lld events recorded (table maintenance)\n",
               (long long)h->maintenance);
    findings_t l = {0};
    int64_t n = 0;
    if (espfab_store_verify(s, finding_cb, &l, &n, &f) != 0) {
        print_fault(&f);
        return n + 1;
    }
    if (n > 20)
        printf("  ... %lld findings in all\n", (long long)n);
    if (n)
        printf("the record was changed outside espfab (%lld finding%s above); keep this file "
               "as evidence\n", (long long)n, n == 1 ? "" : "s");
    return n;
}

static int cmd_check(const char *path, bool repair_triggers, bool close_stale)
{
    espfab_store_t *s;
    int rc = open_db(path, repair_triggers || close_stale, &s);
    if (rc)
        return rc;
    rc = repairs(s, repair_triggers, close_stale);
    if (rc) {
        espfab_store_close(s);
        return rc;
    }
    espfab_store_health_t h;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (espfab_store_check(s, &h, &f) != 0) {
        print_fault(&f);
        espfab_store_close(s);
        return 1;
    }
    printf("database     %s (schema version %d)\n", path, h.schema_version);
    printf("integrity    %s\n", h.integrity);
    printf("attempts     %lld in %lld runs: %lld pass, %lld fail, %lld interrupted, %lld open\n",
           (long long)h.attempts, (long long)h.runs, (long long)h.passed, (long long)h.failed,
           (long long)h.interrupted, (long long)h.running);
    if (h.interrupted_unidentified)
        printf("             %lld interrupted before the board was identified (no MAC): "
               "closed history\n", (long long)h.interrupted_unidentified);
    int64_t findings = check_chain(s, &h);
    list_t l = {0, false, s};
    espfab_store_filter_t flt;
    if (h.running) {
        printf("open attempts (a station is flashing them now, or it stopped without closing "
               "them;\n  the next `espfab run` on this database, or `espfab db check "
               "--close-stale`, marks dead ones interrupted):\n");
        espfab_store_filter_init(&flt);
        flt.outcome = ESPFAB_OUTCOME_RUNNING;
        espfab_store_query(s, &flt, list_cb, &l, &f);
    }
    if (h.interrupted_open) {
        printf("interrupted boards not passed since (flash them again):\n");
        l.shown = 0;
        espfab_store_filter_init(&flt);
        flt.outcome = ESPFAB_OUTCOME_INTERRUPTED;
        espfab_store_query(s, &flt, unresolved_cb, &l, &f);
        if (h.interrupted_open > 20)
            printf("  ... %lld in all\n", (long long)h.interrupted_open);
    }
    bool ok = h.integrity_ok && h.running == 0 && h.interrupted_open == 0 && findings == 0;
    printf("%s\n", ok ? "ok" : "PROBLEMS");
    espfab_store_close(s);
    return ok ? 0 : 1;
}

/* ---- stats ---- */

typedef struct {
    char key[64];
    long long n;
} counter_t;

typedef struct {
    counter_t outcome[4], errors[64], lots[64];
    int nerrors, nlots;
    long long total;
} stats_t;

static void bump(counter_t *c, int *n, int cap, const char *key)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(c[i].key, key)) {
            c[i].n++;
            return;
        }
    if (*n < cap) {
        snprintf(c[*n].key, sizeof c[*n].key, "%s", key);
        c[(*n)++].n = 1;
    }
}

static int stats_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    stats_t *st = data;
    (void)run_id;
    st->total++;
    if ((unsigned)a->outcome < 4)
        st->outcome[a->outcome].n++;
    if (a->fault.code) {
        const char *n = espfab_err_name(a->fault.code);
        char num[32];
        if (!n) {
            snprintf(num, sizeof num, "code %d", espfab_err_number(a->fault.code));
            n = num;
        }
        bump(st->errors, &st->nerrors, 64, n);
    }
    bump(st->lots, &st->nlots, 64, a->lot[0] ? a->lot : "(none)");
    return 0;
}

static int by_count(const void *x, const void *y)
{
    const counter_t *a = x, *b = y;
    return (b->n > a->n) - (b->n < a->n);
}

static int cmd_stats(const char *path, const char *lot)
{
    espfab_store_t *s;
    int rc = open_db(path, false, &s);
    if (rc)
        return rc;
    stats_t *st = calloc(1, sizeof *st);
    espfab_store_filter_t flt;
    espfab_store_filter_init(&flt);
    flt.lot = lot;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (!st || espfab_store_query(s, &flt, stats_cb, st, &f) != 0) {
        print_fault(&f);
        free(st);
        espfab_store_close(s);
        return 2;
    }
    printf("attempts %lld%s%s\n", st->total, lot ? " in lot " : "", lot ? lot : "");
    for (int o = 0; o < 4; o++)
        printf("  %-12s %lld\n", espfab_outcome_name((espfab_outcome_t)o), st->outcome[o].n);
    qsort(st->errors, (size_t)st->nerrors, sizeof st->errors[0], by_count);
    if (st->nerrors)
        printf("errors\n");
    for (int i = 0; i < st->nerrors; i++)
        printf("  %-24s %lld\n", st->errors[i].key, st->errors[i].n);
    qsort(st->lots, (size_t)st->nlots, sizeof st->lots[0], by_count);
    printf("lots\n");
    for (int i = 0; i < st->nlots; i++)
        printf("  %-24s %lld\n", st->lots[i].key, st->lots[i].n);
    free(st);
    espfab_store_close(s);
    return 0;
}

int espfab_cli_db(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *db = NULL, *station = NULL, *lot = NULL;
    bool check = !strcmp(argv[1], "check"), repair_triggers = false, close_stale = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--station") && i + 1 < argc)
            station = argv[++i];
        else if (!strcmp(argv[i], "--lot") && i + 1 < argc && !strcmp(argv[1], "stats"))
            lot = argv[++i];
        else if (check && !strcmp(argv[i], "--repair-triggers"))
            repair_triggers = true;
        else if (check && !strcmp(argv[i], "--close-stale"))
            close_stale = true;
        else {
            usage(stderr);
            return 2;
        }
    }
    char path[1024];
    int rc = db_path(db, station, path, sizeof path);
    if (rc)
        return rc;
    if (!strcmp(argv[1], "check"))
        return cmd_check(path, repair_triggers, close_stale);
    if (!strcmp(argv[1], "stats"))
        return cmd_stats(path, lot);
    fprintf(stderr, "espfab db: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

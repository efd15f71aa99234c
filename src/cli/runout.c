/* runout.c - `espfab run` output: the console (include/espfab/console.h) on
 * a terminal, JSON or text lines (include/espfab/eventlog.h) otherwise. */
#include "cli/runout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "espfab/console.h"
#include "espfab/eventlog.h"

struct espfab_runout {
    espfab_runout_mode_t mode;
    espfab_station_t *st;
    espfab_console_t *con;      /* CONSOLE */
    espfab_eventlog_t *log;     /* JSON / TEXT, and CONSOLE after the console is gone */
    char db[1024];
    int64_t run_id;
    char station[64];
};

int espfab_runout_mode_parse(const char *s, espfab_runout_mode_t *m)
{
    if (!s) { *m = ESPFAB_RUNOUT_AUTO; return 0; }
    if (!strcmp(s, "console")) { *m = ESPFAB_RUNOUT_CONSOLE; return 0; }
    if (!strcmp(s, "json")) { *m = ESPFAB_RUNOUT_JSON; return 0; }
    if (!strcmp(s, "text")) { *m = ESPFAB_RUNOUT_TEXT; return 0; }
    return -1;
}

espfab_runout_t *espfab_runout_new(uv_loop_t *loop, espfab_runout_mode_t mode,
                                   espfab_station_t *st, const espfab_station_cfg_t *cfg,
                                   const char *profile_label, const char *db_path,
                                   int64_t run_id)
{
    espfab_runout_t *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->st = st;
    snprintf(o->db, sizeof(o->db), "%s", db_path);
    snprintf(o->station, sizeof(o->station), "%s", cfg->id);
    o->run_id = run_id;
    if (mode == ESPFAB_RUNOUT_AUTO)
        mode = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) ? ESPFAB_RUNOUT_CONSOLE
                                                            : ESPFAB_RUNOUT_JSON;
    if (mode == ESPFAB_RUNOUT_CONSOLE) {
        espfab_console_opts_t co;
        espfab_fault_t f;
        memset(&co, 0, sizeof(co));
        co.station = cfg->id;
        co.line = cfg->line;
        co.operator_name = cfg->operator_name;
        co.lot = cfg->lot;
        co.profile = profile_label;
        co.mode = espfab_station_mode_name(cfg->mode);
        const char *hold = getenv("ESPFAB_CONSOLE_HOLD");
        co.hold = hold && !strcmp(hold, "1");
        espfab_fault_clear(&f);
        if (espfab_console_new(loop, st, &co, &o->con, &f) != 0) {
            char line[768];
            fprintf(stderr, "espfab run: %s; using text lines\n",
                    espfab_fault_format(&f, line, sizeof(line)));
            mode = ESPFAB_RUNOUT_TEXT;
        }
    }
    o->mode = mode;
    espfab_eventlog_opts_t lo;
    memset(&lo, 0, sizeof(lo));
    lo.format = mode == ESPFAB_RUNOUT_JSON ? ESPFAB_EVENTLOG_JSON : ESPFAB_EVENTLOG_TEXT;
    lo.station = o->station;
    lo.run_id = run_id;
    o->log = espfab_eventlog_new(&lo);
    if (!o->log) {
        espfab_console_free(o->con);
        free(o);
        return NULL;
    }
    return o;
}

void espfab_runout_note(espfab_runout_t *o, const char *text)
{
    if (!o)
        return;
    if (o->con)
        espfab_console_note(o->con, text);
    else
        espfab_eventlog_note(o->log, NULL, text);
}

void espfab_runout_event(espfab_runout_t *o, const espfab_station_event_t *ev)
{
    if (!o)
        return;
    if (o->con)
        espfab_console_event(o->con, ev);
    else
        espfab_eventlog_event(o->log, ev);
}

/* Is db's storage full: under 1 MiB free on its file system, or the
 * database or its WAL at the process's file size limit (RLIMIT_FSIZE)?
 * SQLite reports both as a plain I/O error, so the summary asks. */
static bool storage_full(const char *db)
{
    char dir[1024], wal[1040];
    snprintf(dir, sizeof(dir), "%s", db);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    struct statvfs vs;
    if (statvfs(dir, &vs) == 0 && (unsigned long long)vs.f_bavail * vs.f_frsize < (1ull << 20))
        return true;
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return false;
    snprintf(wal, sizeof(wal), "%s-wal", db);
    const char *files[2] = {db, wal};
    for (int i = 0; i < 2; i++) {
        struct stat sb;
        if (stat(files[i], &sb) == 0 && (unsigned long long)sb.st_size + 65536 > rl.rlim_cur)
            return true;
    }
    return false;
}

void espfab_runout_summary(espfab_runout_t *o)
{
    espfab_station_totals_t t;
    if (!o)
        return;
    /* leave the console first: the summary goes to the normal screen */
    if (o->con) {
        espfab_console_free(o->con);
        o->con = NULL;
    }
    espfab_station_totals(o->st, &t);
    if (t.not_recorded && !t.store_full)
        t.store_full = storage_full(o->db);
    espfab_eventlog_summary(o->log, &t, o->db);
    if (o->mode == ESPFAB_RUNOUT_JSON)
        return;
    size_t n = espfab_station_slot_count(o->st);
    for (size_t i = 0; i < n; i++) {
        const espfab_slot_status_t *s = espfab_station_slot(o->st, (int)i);
        if (s->attempt && s->attempt->outcome != ESPFAB_OUTCOME_PASS)
            printf("  %s %s %s: %s\n",
                   s->attempt->outcome == ESPFAB_OUTCOME_INTERRUPTED ? "INTERRUPTED" : "FAIL",
                   s->name, s->port, s->attempt->message);
    }
    printf("records: %s (run %lld); audit report: espfab report --db %s --format html -o report.html\n",
           o->db, (long long)o->run_id, o->db);
    fflush(stdout);
}

void espfab_runout_free(espfab_runout_t *o)
{
    if (!o)
        return;
    espfab_console_free(o->con);
    espfab_eventlog_free(o->log);
    free(o);
}

/* runout.c - `espfab run` output: text lines, JSON lines, or the console. */
#include "cli/runout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "espfab/report.h"

struct espfab_runout {
    espfab_runout_mode_t mode;
    espfab_station_t *st;
    const espfab_station_cfg_t *cfg;
    const espfab_profile_t *profile;
    char db[1024];
    int64_t run_id;
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
                                   const espfab_profile_t *profile, const char *db_path,
                                   int64_t run_id)
{
    espfab_runout_t *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    if (mode == ESPFAB_RUNOUT_AUTO)
        mode = isatty(STDOUT_FILENO) ? ESPFAB_RUNOUT_TEXT : ESPFAB_RUNOUT_JSON;
    if (mode == ESPFAB_RUNOUT_CONSOLE)
        mode = ESPFAB_RUNOUT_TEXT; /* until the console lands */
    o->mode = mode;
    o->st = st;
    o->cfg = cfg;
    o->profile = profile;
    snprintf(o->db, sizeof(o->db), "%s", db_path);
    o->run_id = run_id;
    (void)loop;
    return o;
}

static void stamp(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%H:%M:%S", &tm);
}

static void json_kv(const char *k, const char *v, int *first)
{
    printf("%s\"%s\":", *first ? "" : ",", k);
    espfab_report_json_string(stdout, v);
    *first = 0;
}

void espfab_runout_note(espfab_runout_t *o, const char *text)
{
    char ts[16];
    if (!o)
        return;
    if (o->mode == ESPFAB_RUNOUT_JSON) {
        int first = 1;
        printf("{");
        json_kv("event", "note", &first);
        json_kv("text", text, &first);
        printf("}\n");
    } else {
        stamp(ts, sizeof(ts));
        printf("[%s] %s\n", ts, text);
    }
    fflush(stdout);
}

void espfab_runout_event(espfab_runout_t *o, const espfab_station_event_t *ev)
{
    char ts[16];
    if (!o)
        return;
    const espfab_slot_status_t *s = ev->status;
    if (o->mode == ESPFAB_RUNOUT_TEXT) {
        stamp(ts, sizeof(ts));
        switch (ev->type) {
        case ESPFAB_STATION_EV_BOARD_DONE: {
            /* A passed board's message already starts with PASS. */
            const espfab_attempt_t *a = ev->attempt;
            const char *tag = a->outcome == ESPFAB_OUTCOME_PASS ? ""
                              : a->outcome == ESPFAB_OUTCOME_INTERRUPTED ? "INTERRUPTED "
                                                                         : "FAIL ";
            printf("[%s] %-8s %-28s %s%s\n", ts, s->name, s->port, tag, a->message);
            break;
        }
        case ESPFAB_STATION_EV_NOTE:
            if (s)
                printf("[%s] %-8s %s\n", ts, s->name, ev->text ? ev->text : "");
            else
                printf("[%s] %s\n", ts, ev->text ? ev->text : "");
            break;
        default:
            break;
        }
        fflush(stdout);
        return;
    }
    /* JSON lines */
    int first = 1;
    switch (ev->type) {
    case ESPFAB_STATION_EV_SLOT:
    case ESPFAB_STATION_EV_PROGRESS:
        printf("{");
        json_kv("event", ev->type == ESPFAB_STATION_EV_SLOT ? "slot" : "progress", &first);
        json_kv("slot", s->name, &first);
        json_kv("port", s->port, &first);
        json_kv("state", espfab_slot_state_name(s->state), &first);
        json_kv("phase", s->phase ? s->phase : "", &first);
        printf(",\"done\":%llu,\"total\":%llu}\n", (unsigned long long)s->done,
               (unsigned long long)s->total);
        break;
    case ESPFAB_STATION_EV_BOARD_DONE: {
        const espfab_attempt_t *a = ev->attempt;
        printf("{");
        json_kv("event", "board", &first);
        printf(",\"attempt_id\":%lld", (long long)a->id);
        json_kv("slot", a->slot, &first);
        json_kv("port", a->port, &first);
        json_kv("outcome", espfab_outcome_name(a->outcome), &first);
        json_kv("chip", a->chip, &first);
        json_kv("mac", a->mac, &first);
        printf(",\"error_code\":%d", espfab_err_number(a->fault.code));
        json_kv("message", a->message, &first);
        printf("}\n");
        break;
    }
    case ESPFAB_STATION_EV_NOTE:
        printf("{");
        json_kv("event", "note", &first);
        json_kv("slot", s ? s->name : "", &first);
        json_kv("text", ev->text ? ev->text : "", &first);
        printf("}\n");
        break;
    case ESPFAB_STATION_EV_FINISHED:
        break;
    }
    fflush(stdout);
}

void espfab_runout_summary(espfab_runout_t *o)
{
    espfab_station_totals_t t;
    if (!o)
        return;
    espfab_station_totals(o->st, &t);
    double secs = (double)(espfab_store_now_ms() - t.start_ms) / 1000.0;
    if (o->mode == ESPFAB_RUNOUT_JSON) {
        printf("{\"event\":\"summary\",\"attempts\":%u,\"passed\":%u,\"failed\":%u,"
               "\"interrupted\":%u,\"yield\":%.4f,\"seconds\":%.1f,\"run_id\":%lld,\"db\":",
               t.attempts, t.passed, t.failed, t.interrupted, t.yield, secs, (long long)o->run_id);
        espfab_report_json_string(stdout, o->db);
        printf("}\n");
        fflush(stdout);
        return;
    }
    printf("\nespfab run: %u board(s): %u passed, %u failed, %u interrupted; yield %.1f%%; %.1f s\n",
           t.attempts, t.passed, t.failed, t.interrupted, t.yield * 100.0, secs);
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

void espfab_runout_free(espfab_runout_t *o) { free(o); }

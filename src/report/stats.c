/*
 * stats.c - summary statistics, failure Pareto, throughput buckets and the
 * per-board rows of the HTML report (see report.h for the definitions).
 * Pure: attempts are added one by one (any order), finish() derives the
 * rest.  Boards are found by MAC through a small open-addressing index.
 */
#include "espfab/report.h"
#include "espfab/vec.h"

#include "report/page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Completed attempts per UTC hour (the throughput chart is built from these
 * at finish): one entry per distinct hour, not per attempt. */
typedef struct hour {
    int64_t hour;        /* floor(t / 1 h) */
    int64_t n[3];        /* passed, failed, interrupted */
    bool used;
} hour_t;

#define HOUR_MS 3600000ll

/* Floor division for possibly negative times. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

typedef struct priv {
    size_t *index;       /* open addressing: board number + 1, 0 = empty */
    size_t index_cap;    /* power of two */
    size_t boards_cap;
    hour_t *hours;       /* open addressing by hour */
    size_t nhours, hours_cap; /* hours_cap: power of two */
    size_t causes_cap;
} priv_t;

void espfab_report_stats_init(espfab_report_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->yield = st->first_pass_yield = st->boards_per_hour = -1;
    st->unit_yield = st->unit_first_pass_yield = -1;
}

static void board_free(espfab_report_board_t *b)
{
    free(b->reason);
    for (int i = 0; i < b->nregions; i++)
        free(b->regions[i].file);
    free(b->regions);
}

void espfab_report_stats_free(espfab_report_stats_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nboards; i++)
        board_free(&st->boards[i]);
    free(st->boards);
    free(st->causes);
    free(st->buckets);
    priv_t *p = st->priv;
    if (p) {
        free(p->index);
        free(p->hours);
        free(p);
    }
    espfab_report_stats_init(st);
}

static uint64_t hash_mac(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int index_grow(espfab_report_stats_t *st, priv_t *p)
{
    size_t cap = p->index_cap ? p->index_cap * 2 : 64;
    size_t *ix = calloc(cap, sizeof *ix);
    if (!ix)
        return ESPFAB_E_NOMEM;
    for (size_t b = 0; b < st->nboards; b++) {
        size_t k = hash_mac(st->boards[b].mac) & (cap - 1);
        while (ix[k])
            k = (k + 1) & (cap - 1);
        ix[k] = b + 1;
    }
    free(p->index);
    p->index = ix;
    p->index_cap = cap;
    return 0;
}

/* The board for mac, created when new; NULL when out of memory. */
static espfab_report_board_t *board_get(espfab_report_stats_t *st, priv_t *p, const char *mac)
{
    if ((st->nboards + 1) * 10 > p->index_cap * 7 && index_grow(st, p))
        return NULL;
    size_t k = hash_mac(mac) & (p->index_cap - 1);
    while (p->index[k]) {
        espfab_report_board_t *b = &st->boards[p->index[k] - 1];
        if (!strcmp(b->mac, mac))
            return b;
        k = (k + 1) & (p->index_cap - 1);
    }
    if (ESPFAB_VEC_RESERVE(st->boards, p->boards_cap, st->nboards + 1))
        return NULL;
    espfab_report_board_t *b = &st->boards[st->nboards];
    memset(b, 0, sizeof *b);
    snprintf(b->mac, sizeof b->mac, "%s", mac);
    p->index[k] = ++st->nboards;
    return b;
}

static void cause_name(int code, char *out, size_t len)
{
    const char *nm = code ? espfab_err_name(code) : NULL;
    if (!code)
        snprintf(out, len, "NO_ERROR_CODE");
    else if (nm)
        snprintf(out, len, "%s", nm);
    else
        snprintf(out, len, "E%d", espfab_err_number(code));
}

static int add_cause(espfab_report_stats_t *st, priv_t *p, int code)
{
    for (size_t i = 0; i < st->ncauses; i++) {
        if (st->causes[i].code == code) {
            st->causes[i].count++;
            return 0;
        }
    }
    if (ESPFAB_VEC_RESERVE(st->causes, p->causes_cap, st->ncauses + 1))
        return ESPFAB_E_NOMEM;
    espfab_report_cause_t *c = &st->causes[st->ncauses++];
    memset(c, 0, sizeof *c);
    c->code = code;
    cause_name(code, c->name, sizeof c->name);
    c->count = 1;
    return 0;
}

/* (ms, id) ordering of attempts: earlier start first, then lower id. */
static int key_cmp(int64_t ams, int64_t aid, int64_t bms, int64_t bid)
{
    if (ams != bms)
        return ams < bms ? -1 : 1;
    return aid < bid ? -1 : aid > bid;
}

/* Copies what the board table shows from a (the board's deciding attempt). */
static int board_set_row(espfab_report_board_t *b, const espfab_attempt_t *a)
{
    for (int i = 0; i < b->nregions; i++)
        free(b->regions[i].file);
    free(b->regions);
    free(b->reason);
    b->regions = NULL;
    b->nregions = 0;
    b->reason = NULL;
    snprintf(b->chip, sizeof b->chip, "%s", a->chip);
    snprintf(b->chip_id, sizeof b->chip_id, "%s", a->chip_id);
    snprintf(b->slot, sizeof b->slot, "%s", a->slot);
    snprintf(b->station, sizeof b->station, "%s", a->station);
    b->rev_full = a->rev_full;
    b->flash_jedec = a->flash_jedec;
    b->flash_size = a->flash_size;
    b->outcome = a->outcome;
    b->code = a->fault.code;
    b->attempt_id = a->id;
    b->start_ms = a->start_ms;
    b->end_ms = a->end_ms;
    b->dec_key_ms = a->start_ms;
    b->dec_key_id = a->id;
    char nm[48] = "";
    if (a->outcome == ESPFAB_OUTCOME_FAIL || a->outcome == ESPFAB_OUTCOME_INTERRUPTED)
        cause_name(a->fault.code, nm, sizeof nm);
    else if (a->outcome == ESPFAB_OUTCOME_RUNNING)
        snprintf(nm, sizeof nm, "still running");
    /* A passed attempt may carry a message (warnings); show it too. */
    const char *msg = a->message[0] ? a->message : a->fault.detail;
    size_t len = strlen(nm) + strlen(msg) + 3;
    b->reason = malloc(len);
    if (b->reason)
        snprintf(b->reason, len, "%s%s%s", nm, nm[0] && msg[0] ? ": " : "", msg);
    if (!b->reason)
        return ESPFAB_E_NOMEM;
    int n = a->nregions < 0 ? 0 : a->nregions > ESPFAB_MAX_REGIONS ? ESPFAB_MAX_REGIONS
                                                                     : a->nregions;
    if (n) {
        b->regions = calloc((size_t)n, sizeof *b->regions);
        if (!b->regions)
            return ESPFAB_E_NOMEM;
        for (int i = 0; i < n; i++) {
            const espfab_region_result_t *r = &a->regions[i];
            espfab_report_board_region_t *o = &b->regions[i];
            o->offset = r->offset;
            o->file = strdup(r->file);
            if (!o->file) {
                b->nregions = i;
                return ESPFAB_E_NOMEM;
            }
            memcpy(o->sha256, r->sha256, sizeof o->sha256);
            memcpy(o->md5_expected, r->md5_expected, sizeof o->md5_expected);
            memcpy(o->md5_device, r->md5_device, sizeof o->md5_device);
            o->sha256[64] = o->md5_expected[32] = o->md5_device[32] = '\0';
            o->verified = r->verified;
        }
        b->nregions = n;
    }
    return 0;
}

int espfab__report_board_fill(espfab_report_board_t *b, const espfab_attempt_t *a)
{
    snprintf(b->mac, sizeof b->mac, "%s", a->mac);
    return board_set_row(b, a);
}

void espfab__report_board_clear(espfab_report_board_t *b)
{
    board_free(b);
    memset(b, 0, sizeof *b);
}

/* Counts a's (espfab version, stub) pair. */
static void count_loader(espfab_report_stats_t *st, const espfab_attempt_t *a)
{
    for (size_t i = 0; i < st->nloaders; i++) {
        espfab_report_loader_t *l = &st->loaders[i];
        if (!strcmp(l->espfab_version, a->espfab_version) && !strcmp(l->stub_sha256, a->stub_sha256)) {
            l->attempts++;
            return;
        }
    }
    if (st->nloaders == ESPFAB_REPORT_MAX_LOADERS) {
        st->loaders_other++;
        return;
    }
    espfab_report_loader_t *l = &st->loaders[st->nloaders++];
    snprintf(l->espfab_version, sizeof l->espfab_version, "%s", a->espfab_version);
    snprintf(l->stub_sha256, sizeof l->stub_sha256, "%s", a->stub_sha256);
    l->attempts = 1;
}

static size_t hour_slot(const hour_t *tab, size_t cap, int64_t h)
{
    size_t k = (size_t)(((uint64_t)h * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
    while (tab[k].used && tab[k].hour != h)
        k = (k + 1) & (cap - 1);
    return k;
}

/* Counts a completed attempt that ended (or started) at t_ms in its hour. */
static int count_hour(priv_t *p, int64_t t_ms, espfab_outcome_t outcome)
{
    if ((p->nhours + 1) * 10 > p->hours_cap * 7) {
        size_t cap = p->hours_cap ? p->hours_cap * 2 : 64;
        hour_t *tab = calloc(cap, sizeof *tab);
        if (!tab)
            return ESPFAB_E_NOMEM;
        for (size_t i = 0; i < p->hours_cap; i++)
            if (p->hours[i].used)
                tab[hour_slot(tab, cap, p->hours[i].hour)] = p->hours[i];
        free(p->hours);
        p->hours = tab;
        p->hours_cap = cap;
    }
    int64_t h = floor_div(t_ms, HOUR_MS);
    hour_t *e = &p->hours[hour_slot(p->hours, p->hours_cap, h)];
    if (!e->used) {
        e->used = true;
        e->hour = h;
        p->nhours++;
    }
    e->n[outcome == ESPFAB_OUTCOME_PASS ? 0 : outcome == ESPFAB_OUTCOME_FAIL ? 1 : 2]++;
    return 0;
}

int espfab_report_stats_add(espfab_report_stats_t *st, const espfab_attempt_t *a)
{
    priv_t *p = st->priv;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p)
            return ESPFAB_E_NOMEM;
        st->priv = p;
    }
    st->attempts++;
    count_loader(st, a);
    switch (a->outcome) {
    case ESPFAB_OUTCOME_PASS: st->passed++; break;
    case ESPFAB_OUTCOME_FAIL: st->failed++; break;
    case ESPFAB_OUTCOME_INTERRUPTED: st->interrupted++; break;
    default: st->running++; break;
    }
    int64_t last = a->end_ms > a->start_ms ? a->end_ms : a->start_ms;
    if (st->attempts == 1 || a->start_ms < st->first_ms)
        st->first_ms = a->start_ms;
    if (st->attempts == 1 || last > st->last_ms)
        st->last_ms = last;

    bool came_back = espfab_attempt_came_back(a);
    if (came_back)
        st->already_passed++;
    if ((a->outcome == ESPFAB_OUTCOME_FAIL || a->outcome == ESPFAB_OUTCOME_INTERRUPTED) && !came_back) {
        if (add_cause(st, p, a->fault.code))
            return ESPFAB_E_NOMEM;
    }
    if (a->outcome != ESPFAB_OUTCOME_RUNNING &&
        count_hour(p, a->end_ms ? a->end_ms : a->start_ms, a->outcome))
        return ESPFAB_E_NOMEM;

    if (!a->mac[0]) {
        st->no_mac++;
        /* A unit that failed (or, oddly, passed) before its MAC was read:
         * one unidentified unit each, its only attempt is its first. */
        if (a->outcome != ESPFAB_OUTCOME_RUNNING && !came_back) {
            st->unidentified++;
            st->unidentified_passed += a->outcome == ESPFAB_OUTCOME_PASS;
        }
        return 0;
    }
    if (st->boards_elsewhere)
        return 0;
    espfab_report_board_t *b = board_get(st, p, a->mac);
    if (!b)
        return ESPFAB_E_NOMEM;
    bool pass = a->outcome == ESPFAB_OUTCOME_PASS;
    if (b->attempts == 0 || key_cmp(a->start_ms, a->id, b->first_key_ms, b->first_key_id) < 0) {
        b->first_key_ms = a->start_ms;
        b->first_key_id = a->id;
        b->first_passed = pass;
    }
    /* Deciding attempt: the latest pass, else the latest attempt. */
    bool take;
    if (b->attempts == 0)
        take = true;
    else if (pass != (b->outcome == ESPFAB_OUTCOME_PASS))
        take = pass;
    else
        take = key_cmp(a->start_ms, a->id, b->dec_key_ms, b->dec_key_id) > 0;
    b->attempts++;
    if (pass)
        b->ever_passed = true;
    if (take)
        return board_set_row(b, a);
    return 0;
}

static int cause_cmp(const void *x, const void *y)
{
    const espfab_report_cause_t *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int board_cmp(const void *x, const void *y)
{
    const espfab_report_board_t *a = x, *b = y;
    int c = key_cmp(a->dec_key_ms, a->dec_key_id, b->dec_key_ms, b->dec_key_id);
    return c ? c : strcmp(a->mac, b->mac);
}


int64_t espfab_report_span_ms(int64_t from, int64_t to)
{
    int64_t d;
    if (__builtin_sub_overflow(to, from, &d))
        return to > from ? INT64_MAX : INT64_MIN;
    return d;
}

/* hours * HOUR_MS, clamped to the int64 range (a crafted time's bucket). */
static int64_t hours_ms(int64_t hours)
{
    int64_t ms;
    if (__builtin_mul_overflow(hours, HOUR_MS, &ms))
        return hours < 0 ? INT64_MIN : INT64_MAX;
    return ms;
}

int espfab_report_stats_finish(espfab_report_stats_t *st)
{
    priv_t *p = st->priv;
    if (!st->boards_elsewhere) {
        st->board_count = (int64_t)st->nboards;
        st->boards_passed = st->boards_first_pass = 0;
        for (size_t i = 0; i < st->nboards; i++) {
            st->boards_passed += st->boards[i].ever_passed;
            st->boards_first_pass += st->boards[i].first_passed;
        }
    }
    int64_t nb = st->board_count;
    st->failures = st->failed + st->interrupted - st->already_passed;
    st->yield = nb ? (double)st->boards_passed / (double)nb : -1;
    st->first_pass_yield = nb ? (double)st->boards_first_pass / (double)nb : -1;
    st->units = nb + st->unidentified;
    st->units_passed = st->boards_passed + st->unidentified_passed;
    st->units_first_pass = st->boards_first_pass + st->unidentified_passed;
    st->unit_yield = st->units ? (double)st->units_passed / (double)st->units : -1;
    st->unit_first_pass_yield = st->units ? (double)st->units_first_pass / (double)st->units : -1;
    int64_t dur = espfab_report_span_ms(st->first_ms, st->last_ms);
    st->boards_per_hour = dur > 0 ? (double)nb * (double)HOUR_MS / (double)dur : -1;
    if (st->ncauses)
        qsort(st->causes, st->ncauses, sizeof *st->causes, cause_cmp);
    if (st->nboards)
        qsort(st->boards, st->nboards, sizeof *st->boards, board_cmp);
    /* The MAC index is stale after sorting; it is not needed any more. */
    if (p) {
        free(p->index);
        p->index = NULL;
        p->index_cap = 0;
    }

    free(st->buckets);
    st->buckets = NULL;
    st->nbuckets = 0;
    st->bucket_ms = HOUR_MS;
    if (!p || !p->nhours)
        return 0;
    int64_t h0 = 0, h1 = 0;
    bool any = false;
    for (size_t i = 0; i < p->hours_cap; i++) {
        if (!p->hours[i].used)
            continue;
        if (!any || p->hours[i].hour < h0)
            h0 = p->hours[i].hour;
        if (!any || p->hours[i].hour > h1)
            h1 = p->hours[i].hour;
        any = true;
    }
    /* At most 240 bars: widen the bucket for long spans; past the widest
     * width (crafted or corrupt times, centuries apart) whatever width fits
     * 240 bars.  Hours stay far from the int64 limits (|h| < 2^62). */
    static const int widths[] = {1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 168, 336, 720, 2160, 8760};
    int64_t w = (h1 - h0) / 239 + 1;
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        if ((h1 - h0) / widths[i] + 1 <= 240) {
            w = widths[i];
            break;
        }
    }
    st->bucket_ms = hours_ms(w);
    int64_t b0 = floor_div(h0, w) * w; /* bucket-aligned first hour */
    size_t n = (size_t)((h1 - b0) / w + 1);
    st->buckets = calloc(n, sizeof *st->buckets);
    if (!st->buckets)
        return ESPFAB_E_NOMEM;
    st->nbuckets = n;
    for (size_t i = 0; i < n; i++)
        st->buckets[i].start_ms = hours_ms(b0 + (int64_t)i * w);
    for (size_t i = 0; i < p->hours_cap; i++) {
        const hour_t *e = &p->hours[i];
        if (!e->used)
            continue;
        size_t k = (size_t)((e->hour - b0) / w);
        if (k >= n)
            k = n - 1;
        st->buckets[k].passed += e->n[0];
        st->buckets[k].failed += e->n[1];
        st->buckets[k].interrupted += e->n[2];
    }
    return 0;
}

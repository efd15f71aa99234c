/*
 * station.c - many sessions on one loop: slots, presence polling, recording,
 * graceful stop.  See station.h for the contract.
 */
#include "espfab/station.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "espfab/blob.h"
#include "espfab/job.h"
#include "espfab/log.h"
#include "espfab/port.h"
#include "espfab/session.h"

#define TAG "station"

typedef struct slot slot;

/* A board that passed and is found on its slot again within this time came
 * back by itself (its own USB port re-enumerating after the reset); later,
 * somebody put it back on purpose, and it is flashed again. */
#define CAME_BACK_MS 20000u

struct espfab_station {
    uv_loop_t *loop;
    espfab_station_opts_t o;
    espfab_station_cb cb;
    void *data;
    espfab_blob_cache_t *blobs;
    espfab_stub_cache_t *stubs; /* each chip's stub, read once per run */
    slot *slots;
    size_t nslots;
    uv_timer_t grace;
    bool grace_active;
    bool stopping, aborting, finished, started;
    unsigned boards;                 /* finished boards (continuous max_boards) */
    espfab_station_totals_t totals;
    int closing;                     /* handles still closing */
};

struct slot {
    espfab_station_t *st;
    int idx;
    const espfab_slot_cfg_t *cfg;
    const espfab_profile_t *profile;
    espfab_slot_status_t status;
    char port[256];
    char phase[40];
    espfab_session_t *sess;
    espfab_session_t *dead;          /* finished session awaiting free */
    espfab_attempt_t attempt;
    bool have_attempt;
    bool attempt_open;               /* begun in the store, not finished */
    bool identity_recorded;
    uv_timer_t timer;                /* presence polling; deferred frees */
    bool paused;
    bool absent_once;
    /* continuous mode: the board that passed last here, and whether the
     * session on the port now is that board come back */
    espfab_attempt_t last_pass;      /* mac[0] == 0: none */
    bool came_back;
    /* TCP presence probe (continuous mode): the port module's, in flight or NULL */
    espfab_port_probe_t *probe;
    bool probe_ok, probe_done;
    /* progress rate */
    uint64_t rate_t0_ms, rate_b0;
    uint64_t last_emit_ms;
    /* what this slot's sessions do: its profile with the slot's overrides,
     * images interned in the station's blob cache */
    espfab_job_t job;
};

const char *espfab_slot_state_name(espfab_slot_state_t s)
{
    static const char *n[] = {"idle", "waiting", "flashing", "passed",
                              "failed", "remove", "paused", "stopped"};
    return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown-slot-state";
}

/* Bounded copy (truncates; the record's port field is 256 bytes). */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t l = strnlen(src, n - 1);
    memcpy(dst, src, l);
    dst[l] = '\0';
}

static uint64_t now_ms(void) { return (uint64_t)espfab_store_now_ms(); }

static void emit(espfab_station_t *st, espfab_station_event_type_t type, slot *sl,
                 const espfab_attempt_t *a, const char *text)
{
    espfab_station_event_t ev = {type, sl ? sl->idx : -1, sl ? &sl->status : NULL, a, text};
    if (st->cb)
        st->cb(st, &ev, st->data);
}

static void slot_set(slot *sl, espfab_slot_state_t s)
{
    if (sl->status.state == s)
        return;
    ESPFAB_LOGD(TAG, "slot %s: %s -> %s", sl->status.name, espfab_slot_state_name(sl->status.state),
                espfab_slot_state_name(s));
    sl->status.state = s;
    if (s != ESPFAB_SLOT_FLASHING)
        sl->phase[0] = '\0';
    emit(sl->st, ESPFAB_STATION_EV_SLOT, sl, NULL, NULL);
}

static void maybe_finish(espfab_station_t *st);
static void start_board(slot *sl);
static void poll_presence(uv_timer_t *t);

/* ---- presence ---- */

static void probe_done(espfab_port_probe_t *pr, int status, const espfab_fault_t *f, void *data)
{
    slot *sl = data;
    sl->probe = NULL;
    sl->probe_ok = status == 0;
    sl->probe_done = true;
}

/* Starts an asynchronous probe of a tcp://HOST:PORT (the port module
 * resolves names without blocking the loop); the result is read by the next
 * poll. */
static void probe_tcp(slot *sl, const espfab_port_spec_t *spec)
{
    espfab_fault_t f;
    if (sl->probe)
        return;
    if (espfab_port_probe_start(sl->st->loop, spec, 0, probe_done, sl, &sl->probe, &f) != 0) {
        sl->probe_ok = false;
        sl->probe_done = true;
    }
}

/* Is a board at this slot's port right now?  Device paths (and by-path
 * globs, and espsim's links) exist only while a board is attached; a TCP
 * server that models a jig position accepts connections only while a board
 * is there (probed asynchronously: the answer comes from the previous poll;
 * sync=true when the caller cannot wait, e.g. batch start: TCP counts as
 * present and a refused connection fails the session). */
static bool port_present(slot *sl, char *dev, size_t len)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rc = espfab_station_slot_resolve(sl->cfg, false, dev, len, &f);
    if (rc != 0) /* a slot that cannot name one port is not empty: start_board reports it */
        return rc != ESPFAB_E_PORT_NOT_FOUND;
    espfab_port_spec_t spec;
    if (espfab_port_spec_parse(dev, &spec, &f) != 0)
        return false;
    if (spec.kind == ESPFAB_PORT_SPEC_TCP) {
        if (sl->st->o.mode != ESPFAB_STATION_CONTINUOUS)
            return true;
        bool known = sl->probe_done, ok = sl->probe_ok;
        sl->probe_done = false;
        probe_tcp(sl, &spec);
        return known && ok;
    }
    struct stat sb;
    return stat(dev, &sb) == 0;
}

/* ---- recording ---- */

static void record_labels(slot *sl, espfab_attempt_t *a)
{
    const espfab_station_cfg_t *c = sl->st->o.cfg;
    snprintf(a->station, sizeof(a->station), "%s", c->id);
    snprintf(a->line, sizeof(a->line), "%s", c->line);
    snprintf(a->operator_name, sizeof(a->operator_name), "%s", c->operator_name);
    snprintf(a->lot, sizeof(a->lot), "%s", c->lot);
    snprintf(a->slot, sizeof(a->slot), "%s", sl->cfg->name);
    snprintf(a->port, sizeof(a->port), "%s", sl->port);
    snprintf(a->profile_name, sizeof(a->profile_name), "%s", sl->profile->name);
    snprintf(a->profile_sha256, sizeof(a->profile_sha256), "%s", sl->profile->sha256);
}

/* The session's record becomes this slot's attempt: copied once into
 * sl->attempt (the session's own record is read-only) and labelled there,
 * keeping the attempt's row id. */
static void take_record(slot *sl, const espfab_attempt_t *rec)
{
    int64_t id = sl->attempt.id;
    if (rec != &sl->attempt)
        sl->attempt = *rec;
    sl->attempt.id = id;
    record_labels(sl, &sl->attempt);
}

static void store_failed(slot *sl, const espfab_fault_t *f, const char *what)
{
    char line[512];
    espfab_fault_format(f, line, sizeof(line));
    ESPFAB_LOGE(TAG, "slot %s: could not %s the attempt record: %s", sl->status.name, what, line);
    emit(sl->st, ESPFAB_STATION_EV_NOTE, sl, NULL, line);
}

/* ---- session events ---- */

static void session_cb(espfab_session_t *s, const espfab_session_ev_t *ev, void *data);

static void defer_free(uv_timer_t *t)
{
    slot *sl = t->data;
    if (sl->dead) {
        espfab_session_free(sl->dead);
        sl->dead = NULL;
    }
    if (sl->status.state == ESPFAB_SLOT_REMOVE || sl->status.state == ESPFAB_SLOT_WAITING) {
        uv_timer_start(&sl->timer, poll_presence, sl->st->o.poll_ms, sl->st->o.poll_ms);
    } else {
        maybe_finish(sl->st);
    }
}

/* The board that passed last in this slot was found on the port again (a
 * chip's own USB port re-enumerates after the reset into the application):
 * the session stopped before any write.  The row says so; the station's
 * counts and the slot's display keep the pass. */
static void board_came_back(slot *sl, const espfab_attempt_t *rec)
{
    espfab_station_t *st = sl->st;
    espfab_fault_t f;
    take_record(sl, rec);
    espfab_attempt_t *a = &sl->attempt;
    a->outcome = ESPFAB_OUTCOME_INTERRUPTED;
    espfab_fault_set(&a->fault, ESPFAB_E_ALREADY_PASSED, "%s: %s passed here %.1f s ago and is back on the port; "
                     "not flashed again", sl->port, a->mac,
                     (double)(now_ms() - (uint64_t)sl->last_pass.end_ms) / 1000.0);
    espfab_fault_format(&a->fault, a->message, sizeof(a->message));
    a->end_ms = (int64_t)now_ms();
    espfab_fault_clear(&f);
    if (sl->attempt_open && espfab_store_attempt_finish(st->o.store, a, &f) != 0)
        store_failed(sl, &f, "complete");
    sl->attempt_open = false;
    sl->came_back = false;
    sl->status.attempt = &sl->last_pass; /* the slot goes on showing the pass */
    if (st->totals.in_flight)
        st->totals.in_flight--;
    emit(st, ESPFAB_STATION_EV_NOTE, sl, NULL, a->message);
    sl->absent_once = false;
    if (st->stopping) {
        slot_set(sl, ESPFAB_SLOT_PASSED);
    } else {
        sl->status.state = ESPFAB_SLOT_PASSED; /* what the slot shows while it waits */
        slot_set(sl, ESPFAB_SLOT_REMOVE);
    }
    sl->dead = sl->sess;
    sl->sess = NULL;
    uv_timer_stop(&sl->timer);
    uv_timer_start(&sl->timer, defer_free, 0, 0);
}

static void board_done(slot *sl, const espfab_attempt_t *rec)
{
    espfab_station_t *st = sl->st;
    espfab_fault_t f;
    if (sl->came_back && rec->outcome != ESPFAB_OUTCOME_PASS) {
        board_came_back(sl, rec);
        return;
    }
    take_record(sl, rec);
    if (sl->attempt.outcome == ESPFAB_OUTCOME_RUNNING)
        sl->attempt.outcome = ESPFAB_OUTCOME_FAIL;
    if (st->aborting && sl->attempt.outcome != ESPFAB_OUTCOME_PASS) {
        sl->attempt.outcome = ESPFAB_OUTCOME_INTERRUPTED;
        if (sl->attempt.fault.code == 0 || sl->attempt.fault.code == ESPFAB_E_CANCELLED)
            espfab_fault_set(&sl->attempt.fault, ESPFAB_E_INTERRUPTED,
                             "station aborted (second interrupt) while flashing");
    }
    if (!sl->attempt.end_ms)
        sl->attempt.end_ms = (int64_t)now_ms();
    espfab_fault_clear(&f);
    if (sl->attempt_open && espfab_store_attempt_finish(st->o.store, &sl->attempt, &f) != 0) {
        /* The board is not passed without its record. */
        store_failed(sl, &f, "complete");
        if (sl->attempt.outcome == ESPFAB_OUTCOME_PASS) {
            sl->attempt.outcome = ESPFAB_OUTCOME_FAIL;
            sl->attempt.fault = f;
        }
    }
    sl->attempt_open = false;
    sl->have_attempt = true;
    sl->status.attempt = &sl->attempt;
    st->totals.attempts++;
    st->boards++;
    switch (sl->attempt.outcome) {
    case ESPFAB_OUTCOME_PASS: st->totals.passed++; sl->status.passed++; break;
    case ESPFAB_OUTCOME_INTERRUPTED: st->totals.interrupted++; sl->status.failed++; break;
    default: st->totals.failed++; sl->status.failed++; break;
    }
    if (sl->attempt.outcome != ESPFAB_OUTCOME_PASS && !sl->attempt.mac[0])
        st->totals.unidentified++;
    if (st->totals.in_flight)
        st->totals.in_flight--;
    emit(st, ESPFAB_STATION_EV_BOARD_DONE, sl, &sl->attempt, sl->attempt.message);

    bool pass = sl->attempt.outcome == ESPFAB_OUTCOME_PASS;
    /* only the board of this very attempt can "come back" */
    if (pass)
        sl->last_pass = sl->attempt;
    else
        sl->last_pass.mac[0] = '\0';
    sl->came_back = false;
    if (st->o.mode == ESPFAB_STATION_CONTINUOUS && !st->stopping &&
        !(st->o.max_boards && st->boards >= st->o.max_boards)) {
        sl->status.state = pass ? ESPFAB_SLOT_PASSED : ESPFAB_SLOT_FAILED;
        sl->absent_once = false;
        slot_set(sl, ESPFAB_SLOT_REMOVE);
    } else {
        slot_set(sl, pass ? ESPFAB_SLOT_PASSED : ESPFAB_SLOT_FAILED);
        if (st->o.mode == ESPFAB_STATION_CONTINUOUS && st->o.max_boards &&
            st->boards >= st->o.max_boards)
            espfab_station_stop(st);
    }
    /* Free the session outside its own callback. */
    sl->dead = sl->sess;
    sl->sess = NULL;
    uv_timer_stop(&sl->timer);
    uv_timer_start(&sl->timer, defer_free, 0, 0);
}

static void session_cb(espfab_session_t *s, const espfab_session_ev_t *ev, void *data)
{
    slot *sl = data;
    espfab_station_t *st = sl->st;
    const espfab_attempt_t *rec = espfab_session_record(s);
    switch (ev->kind) {
    case ESPFAB_SESSION_EV_STATE:
        snprintf(sl->phase, sizeof(sl->phase), "%s", espfab_session_state_name(ev->new_state));
        sl->status.phase = sl->phase;
        /* Record the identity as soon as it is known. */
        if (!sl->identity_recorded && rec->mac[0] && sl->attempt_open) {
            espfab_fault_t f;
            espfab_fault_clear(&f);
            int64_t start_ms = sl->attempt.start_ms;
            take_record(sl, rec);
            sl->attempt.outcome = ESPFAB_OUTCOME_RUNNING;
            sl->attempt.start_ms = start_ms;
            if (espfab_store_attempt_update(st->o.store, &sl->attempt, &f) != 0)
                store_failed(sl, &f, "update");
            sl->identity_recorded = true;
        }
        /* Continuous mode: the board that just passed here, back on the
         * port, is not flashed again (stopped before any write). */
        if (st->o.mode == ESPFAB_STATION_CONTINUOUS && !sl->came_back && sl->last_pass.mac[0] && rec->mac[0] &&
            strcmp(rec->mac, sl->last_pass.mac) == 0 && ev->new_state < ESPFAB_SS_CHECK &&
            now_ms() - (uint64_t)sl->last_pass.end_ms < CAME_BACK_MS) {
            sl->came_back = true;
            espfab_session_cancel(s);
        }
        emit(st, ESPFAB_STATION_EV_SLOT, sl, NULL, NULL);
        break;
    case ESPFAB_SESSION_EV_PROGRESS: {
        /* The session reports per region; the operator sees the whole board. */
        uint64_t t = now_ms(), before_region = 0, total = 0;
        for (size_t i = 0; i < sl->profile->nimages; i++) {
            if ((int)i < ev->region)
                before_region += sl->profile->images[i].size;
            total += sl->profile->images[i].size;
        }
        uint64_t done = before_region + ev->done;
        sl->status.done = done;
        sl->status.total = total;
        if (!sl->rate_t0_ms || done < sl->rate_b0) {
            sl->rate_t0_ms = t;
            sl->rate_b0 = done;
        } else if (t - sl->rate_t0_ms >= 1000) {
            sl->status.bytes_per_s = (double)(done - sl->rate_b0) * 1000.0 / (double)(t - sl->rate_t0_ms);
            sl->rate_t0_ms = t;
            sl->rate_b0 = done;
        }
        sl->status.eta_s = sl->status.bytes_per_s > 0
                               ? (double)(total - done) / sl->status.bytes_per_s
                               : -1;
        if (t - sl->last_emit_ms >= 100 || done == total) {
            sl->last_emit_ms = t;
            emit(st, ESPFAB_STATION_EV_PROGRESS, sl, NULL, NULL);
        }
        break;
    }
    case ESPFAB_SESSION_EV_NOTE:
        emit(st, ESPFAB_STATION_EV_NOTE, sl, NULL, ev->note);
        break;
    case ESPFAB_SESSION_EV_DONE:
        board_done(sl, rec);
        break;
    }
}

/* ---- starting a board ---- */

static void start_board(slot *sl)
{
    espfab_station_t *st = sl->st;
    espfab_fault_t f;
    espfab_fault_clear(&f);

    int resolved = espfab_station_slot_resolve(sl->cfg, false, sl->port, sizeof(sl->port), &f);
    espfab_fault_t unresolved = f;
    if (resolved != 0)
        copy_str(sl->port, sizeof(sl->port), sl->cfg->port);
    sl->status.port = sl->port;
    espfab_fault_clear(&f);

    espfab_attempt_init(&sl->attempt);
    record_labels(sl, &sl->attempt);
    sl->attempt.outcome = ESPFAB_OUTCOME_RUNNING;
    sl->attempt.start_ms = (int64_t)now_ms();
    if (espfab_store_attempt_begin(st->o.store, st->o.run_id, &sl->attempt, &f) != 0) {
        /* No board is flashed without its record; the summary counts it. */
        store_failed(sl, &f, "create");
        st->totals.not_recorded++;
        st->totals.store_full |= f.sys_errno == ENOSPC || f.sys_errno == EFBIG ||
                                 f.sys_errno == EDQUOT || strstr(f.detail, "disk is full");
        sl->attempt.outcome = ESPFAB_OUTCOME_FAIL;
        sl->attempt.fault = f;
        espfab_fault_format(&f, sl->attempt.message, sizeof(sl->attempt.message));
        sl->have_attempt = true;
        sl->status.attempt = &sl->attempt;
        slot_set(sl, ESPFAB_SLOT_FAILED);
        maybe_finish(st);
        return;
    }
    sl->attempt_open = true;
    sl->identity_recorded = false;
    sl->have_attempt = true;
    sl->status.attempt = &sl->attempt;
    sl->status.done = sl->status.total = 0;
    sl->status.bytes_per_s = 0;
    sl->status.eta_s = -1;
    sl->rate_t0_ms = 0;
    if (resolved != 0 && resolved != ESPFAB_E_PORT_NOT_FOUND) {
        /* The slot's port names no single board (a glob matching several
         * devices): a failed attempt that says which, never an empty slot. */
        sl->attempt.outcome = ESPFAB_OUTCOME_FAIL;
        sl->attempt.fault = unresolved;
        espfab_fault_format(&unresolved, sl->attempt.message, sizeof(sl->attempt.message));
        st->totals.in_flight++; /* board_done takes it back */
        board_done(sl, &sl->attempt);
        return;
    }

    espfab_session_opts_t so;
    espfab_session_opts_init(&so);
    espfab_job_session_opts(&sl->job, &so);
    so.port = sl->port;
    so.stub_dir = st->o.stub_dir;
    so.stubs = st->stubs;
    so.cache = st->blobs;
    sl->sess = espfab_session_new(st->loop, &so, session_cb, sl);
    if (!sl->sess) {
        espfab_fault_set(&f, ESPFAB_E_NOMEM, "creating the session for slot %s", sl->status.name);
        sl->attempt.outcome = ESPFAB_OUTCOME_FAIL;
        sl->attempt.fault = f;
        espfab_fault_format(&f, sl->attempt.message, sizeof(sl->attempt.message));
        espfab_store_attempt_finish(st->o.store, &sl->attempt, NULL);
        sl->attempt_open = false;
        slot_set(sl, ESPFAB_SLOT_FAILED);
        maybe_finish(st);
        return;
    }
    st->totals.in_flight++;
    slot_set(sl, ESPFAB_SLOT_FLASHING);
    espfab_session_start(sl->sess);
}

static void poll_presence(uv_timer_t *t)
{
    slot *sl = t->data;
    espfab_station_t *st = sl->st;
    char dev[512];
    if (st->stopping) {
        uv_timer_stop(t);
        slot_set(sl, ESPFAB_SLOT_STOPPED);
        maybe_finish(st);
        return;
    }
    bool present = port_present(sl, dev, sizeof(dev));
    if (sl->status.state == ESPFAB_SLOT_REMOVE) {
        if (!present) {
            slot_set(sl, ESPFAB_SLOT_WAITING);
        }
        return;
    }
    if (sl->status.state == ESPFAB_SLOT_WAITING && present && !sl->paused) {
        uv_timer_stop(t);
        start_board(sl);
    }
}

/* ---- lifecycle ---- */

static void maybe_finish(espfab_station_t *st)
{
    if (st->finished)
        return;
    for (size_t i = 0; i < st->nslots; i++) {
        slot *sl = &st->slots[i];
        if (sl->sess || sl->dead)
            return;
        if (!st->stopping && st->o.mode == ESPFAB_STATION_CONTINUOUS)
            return;
        if (!st->stopping && sl->status.state == ESPFAB_SLOT_FLASHING)
            return;
    }
    st->finished = true;
    if (st->grace_active) {
        uv_timer_stop(&st->grace);
        st->grace_active = false;
    }
    for (size_t i = 0; i < st->nslots; i++)
        uv_timer_stop(&st->slots[i].timer);
    emit(st, ESPFAB_STATION_EV_FINISHED, NULL, NULL, NULL);
}

int espfab_station_new(uv_loop_t *loop, const espfab_station_opts_t *opts, espfab_station_cb cb,
                       void *data, espfab_station_t **out, espfab_fault_t *f)
{
    *out = NULL;
    if (!opts || !opts->cfg || !opts->store)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "station needs a station config and a store");
    if (opts->cfg->nslots == 0)
        return espfab_fault_set(f, ESPFAB_E_STATION_NO_PORTS, "the station has no slots");
    espfab_station_t *st = calloc(1, sizeof(*st));
    if (!st)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "station");
    st->loop = loop;
    st->o = *opts;
    if (!st->o.grace_ms)
        st->o.grace_ms = 30000;
    if (!st->o.poll_ms)
        st->o.poll_ms = 250;
    st->cb = cb;
    st->data = data;
    st->nslots = opts->cfg->nslots;
    st->slots = calloc(st->nslots, sizeof(slot));
    st->blobs = espfab_blob_cache_new(loop);
    st->stubs = espfab_stub_cache_new(st->o.stub_dir);
    if (!st->slots || !st->blobs || !st->stubs) {
        espfab_station_free(st);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "station slots");
    }
    uv_timer_init(loop, &st->grace);
    st->grace.data = st;
    for (size_t i = 0; i < st->nslots; i++) {
        slot *sl = &st->slots[i];
        sl->st = st;
        sl->idx = (int)i;
        sl->cfg = &opts->cfg->slots[i];
        sl->profile = (opts->slot_profiles && opts->slot_profiles[i]) ? opts->slot_profiles[i]
                                                                      : opts->profile;
        sl->status.name = sl->cfg->name;
        copy_str(sl->port, sizeof(sl->port), sl->cfg->port);
        sl->status.port = sl->port;
        sl->status.phase = sl->phase;
        sl->status.eta_s = -1;
        uv_timer_init(loop, &sl->timer);
        sl->timer.data = sl;
        if (!sl->profile) {
            espfab_station_free(st);
            return espfab_fault_set(f, ESPFAB_E_CONFIG_MISSING_KEY,
                                    "%s:%d: slot %s has no profile (give --profile or profile = in [station])",
                                    opts->cfg->path, opts->cfg->slots[i].line, opts->cfg->slots[i].name);
        }
        sl->status.profile_name = sl->profile->name;
        /* The slot's job: its profile, the slot's overrides on top; one blob
         * per distinct image, shared by every slot (interned by SHA-256). */
        espfab_job_from_profile(&sl->job, sl->profile);
        espfab_job_apply_slot(&sl->job, sl->cfg);
        if (espfab_job_intern(&sl->job, st->blobs, f) != 0) {
            espfab_station_free(st);
            return ESPFAB_E_NOMEM;
        }
    }
    *out = st;
    return 0;
}

int espfab_station_start(espfab_station_t *st)
{
    st->started = true;
    st->totals.start_ms = espfab_store_now_ms();
    for (size_t i = 0; i < st->nslots; i++) {
        slot *sl = &st->slots[i];
        char dev[512];
        if (st->o.mode == ESPFAB_STATION_CONTINUOUS) {
            slot_set(sl, ESPFAB_SLOT_WAITING);
            uv_timer_start(&sl->timer, poll_presence, 0, st->o.poll_ms);
        } else if (!port_present(sl, dev, sizeof(dev))) {
            char note[640];
            snprintf(note, sizeof(note), "slot %s: no board at %s (empty position, not flashed)",
                     sl->status.name, sl->cfg->port);
            emit(st, ESPFAB_STATION_EV_NOTE, sl, NULL, note);
            slot_set(sl, ESPFAB_SLOT_STOPPED);
        } else {
            start_board(sl);
        }
    }
    maybe_finish(st);
    return 0;
}

static void grace_expired(uv_timer_t *t)
{
    espfab_station_t *st = t->data;
    st->grace_active = false;
    ESPFAB_LOGW(TAG, "grace time over: cancelling in-flight boards");
    espfab_station_abort(st);
}

void espfab_station_stop(espfab_station_t *st)
{
    if (st->stopping)
        return;
    st->stopping = true;
    for (size_t i = 0; i < st->nslots; i++) {
        slot *sl = &st->slots[i];
        if (!sl->sess && !sl->dead) {
            uv_timer_stop(&sl->timer);
            if (sl->status.state == ESPFAB_SLOT_WAITING || sl->status.state == ESPFAB_SLOT_REMOVE ||
                sl->status.state == ESPFAB_SLOT_IDLE || sl->status.state == ESPFAB_SLOT_PAUSED)
                slot_set(sl, ESPFAB_SLOT_STOPPED);
        }
    }
    if (st->totals.in_flight && !st->finished) {
        st->grace_active = true;
        uv_timer_start(&st->grace, grace_expired, st->o.grace_ms, 0);
    }
    maybe_finish(st);
}

void espfab_station_abort(espfab_station_t *st)
{
    st->aborting = true;
    espfab_station_stop(st);
    for (size_t i = 0; i < st->nslots; i++)
        if (st->slots[i].sess)
            espfab_session_cancel(st->slots[i].sess);
}

void espfab_station_pause_slot(espfab_station_t *st, int i, bool pause)
{
    if (i < 0 || (size_t)i >= st->nslots)
        return;
    slot *sl = &st->slots[i];
    sl->paused = pause;
    if (pause && (sl->status.state == ESPFAB_SLOT_WAITING))
        slot_set(sl, ESPFAB_SLOT_PAUSED);
    else if (!pause && sl->status.state == ESPFAB_SLOT_PAUSED)
        slot_set(sl, ESPFAB_SLOT_WAITING);
}

void espfab_station_retry_slot(espfab_station_t *st, int i)
{
    if (i < 0 || (size_t)i >= st->nslots || st->stopping)
        return;
    slot *sl = &st->slots[i];
    if (sl->sess || sl->dead || sl->status.state != ESPFAB_SLOT_FAILED)
        return;
    if (st->o.mode == ESPFAB_STATION_CONTINUOUS) {
        slot_set(sl, ESPFAB_SLOT_WAITING);
        uv_timer_start(&sl->timer, poll_presence, 0, st->o.poll_ms);
    } else {
        st->finished = false;
        start_board(sl);
    }
}

size_t espfab_station_slot_count(const espfab_station_t *st) { return st->nslots; }

const espfab_slot_status_t *espfab_station_slot(const espfab_station_t *st, int i)
{
    return (i >= 0 && (size_t)i < st->nslots) ? &st->slots[i].status : NULL;
}

void espfab_station_totals(const espfab_station_t *st, espfab_station_totals_t *t)
{
    *t = st->totals;
    unsigned fin = t->passed + t->failed + t->interrupted;
    t->yield = fin ? (double)t->passed / fin : 0.0;
    int64_t el = espfab_store_now_ms() - t->start_ms;
    t->boards_per_hour = el > 0 ? (double)t->passed * 3600000.0 / (double)el : 0.0;
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

void espfab_station_free(espfab_station_t *st)
{
    if (!st)
        return;
    /* Handles must be closed before the memory goes: close them and run the
     * loop until their close callbacks have fired. */
    for (size_t i = 0; st->slots && i < st->nslots; i++) {
        slot *sl = &st->slots[i];
        if (sl->sess)
            espfab_session_free(sl->sess);
        if (sl->dead)
            espfab_session_free(sl->dead);
        if (st->blobs)
            espfab_job_release(&sl->job, st->blobs);
        if (sl->timer.loop)
            uv_close((uv_handle_t *)&sl->timer, on_handle_closed);
        espfab_port_probe_cancel(sl->probe);
        sl->probe = NULL;
    }
    if (st->grace.loop)
        uv_close((uv_handle_t *)&st->grace, on_handle_closed);
    uv_run(st->loop, UV_RUN_NOWAIT);
    if (st->blobs)
        espfab_blob_cache_free(st->blobs);
    espfab_stub_cache_free(st->stubs); /* after the sessions that used it */
    free(st->slots);
    free(st);
}

/*
 * cmd_run.c - `espfab run`: the station.  Loads the profile(s), the station
 * file (or builds one from --ports), opens the traceability database, runs
 * every slot on one libuv loop and prints a summary.  Ctrl-C once: stop
 * taking boards and drain; twice: abort, in-flight boards are recorded as
 * interrupted.
 */
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "espfab/cli.h"
#include "espfab/log.h"
#include "espfab/num.h"
#include "espfab/port.h"
#include "espfab/profile.h"
#include "espfab/station.h"
#include "espfab/station_cfg.h"
#include "espfab/store.h"
#include "espfab/vec.h"
#include "cli/opts.h"
#include "cli/runout.h"

static const char usage_text[] =
    "usage: espfab run --profile P.ini [--station S.ini | --ports LIST|GLOB|auto]\n"
    "                  [--batch|--continuous] [--db FILE] [--log console|json|text]\n"
    "                  [--operator NAME] [--lot LOT] [--stub-dir DIR]\n"
    "                  [--max-boards N] [--grace SECONDS]\n"
    "\n"
    "  --profile P.ini   what to flash (default: the station file's profile)\n"
    "  --station S.ini   station id, operator, lot, database and slots\n"
    "  --ports SPEC      without a station file: comma-separated ports\n"
    "                    (/dev/ttyUSB0,tcp://host:port), a glob\n"
    "                    ('/dev/serial/by-path/*usb-0:1.*'), or 'auto' (every\n"
    "                    USB serial port)\n"
    "  --batch           flash every board once, print a summary (default)\n"
    "  --continuous      jig mode: each slot waits for a board, flashes it,\n"
    "                    waits for its removal, and starts over\n"
    "  --db FILE         traceability database (default: the station file's,\n"
    "                    else ./espfab.db)\n"
    "  --log MODE        console (default on a terminal), json (default\n"
    "                    otherwise: one JSON object per line), text\n"
    "  --max-boards N    continuous: stop after N boards\n"
    "  --grace SECONDS   on Ctrl-C, whole seconds in-flight boards get to finish (30)\n"
    "\n"
    "SIGTERM and SIGHUP (the SSH session closed) stop the station like Ctrl-C:\n"
    "once drains, twice aborts; every open attempt is closed either way.\n"
    "A single-value option may be given once; --operator and --lot follow the\n"
    "station file's rules (1 to 63 characters, no control character).\n\n"
    "Exit status: 0 every board passed, 1 a board failed, 2 bad input.\n";

typedef struct run_ctx {
    uv_loop_t *loop;
    espfab_station_t *st;
    espfab_store_t *store;
    espfab_runout_t *out;
    uv_signal_t sig[4];               /* stop_signals */
    int interrupts;
    bool finished;
    bool signals;
} run_ctx;

/* SIGINT, SIGTERM, SIGHUP (the SSH session closed) and SIGXFSZ (the
 * database reached the file size limit) stop the station the same way: once
 * drains, twice aborts, and every open attempt is closed either way.
 * SIGPIPE is ignored: when the log reader dies, printing fails (EPIPE) and
 * the station carries on recording. */
static const int stop_signals[4] = {SIGINT, SIGTERM, SIGHUP, SIGXFSZ};

static void signals_stop(run_ctx *r)
{
    for (size_t i = 0; r->signals && i < 4; i++)
        uv_signal_stop(&r->sig[i]);
}

static void on_station(espfab_station_t *st, const espfab_station_event_t *ev, void *data)
{
    run_ctx *r = data;
    espfab_runout_event(r->out, ev);
    if (ev->type == ESPFAB_STATION_EV_FINISHED) {
        r->finished = true;
        signals_stop(r);
    }
    (void)st;
}

static void on_signal(uv_signal_t *h, int signum)
{
    run_ctx *r = h->data;
    if (signum == SIGXFSZ) { /* one per failed write: it stops, never escalates */
        if (!r->interrupts++)
            espfab_runout_note(r->out, "the database reached the file size limit: taking no new "
                                       "boards, letting in-flight boards finish");
        espfab_station_stop(r->st);
        return;
    }
    r->interrupts++;
    if (r->interrupts == 1) {
        espfab_runout_note(r->out, "interrupt: taking no new boards, letting in-flight boards "
                                   "finish (interrupt again to abort)");
        espfab_station_stop(r->st);
    } else {
        espfab_runout_note(r->out, "second interrupt: aborting; in-flight boards are recorded "
                                   "as interrupted");
        espfab_station_abort(r->st);
    }
}

static void signals_start(run_ctx *r)
{
    for (size_t i = 0; i < 4; i++) {
        uv_signal_init(r->loop, &r->sig[i]);
        r->sig[i].data = r;
        uv_signal_start(&r->sig[i], on_signal, stop_signals[i]);
    }
    r->signals = true;
}

static void signals_close(run_ctx *r)
{
    for (size_t i = 0; r->signals && i < 4; i++)
        uv_close((uv_handle_t *)&r->sig[i], NULL);
}

/* --operator, --lot: the station file's rule (station_cfg.h), so the command
 * line cannot record what the station file would refuse. */
static int label_opt(const char *opt, const char *value, char *dst, size_t n)
{
    char why[64];
    if (espfab_station_label_copy(dst, n, value, why, sizeof(why)) == 0)
        return 0;
    fprintf(stderr, "espfab run: %s %s (the station file's rule)\n", opt, why);
    return -1;
}

/* --max-boards, --grace: whole numbers through num.h, in [lo, hi]. */
static int count_opt(const char *opt, const char *value, uint32_t lo, uint32_t hi, unsigned *out)
{
    uint32_t v;
    if (espfab_num_parse_u32(value, &v) == 0 && v >= lo && v <= hi) {
        *out = v;
        return 0;
    }
    fprintf(stderr, "espfab run: bad %s '%s': a whole number from %u to %u\n", opt, value,
            (unsigned)lo, (unsigned)hi);
    return -1;
}

/* Builds station INI text for --ports and parses it. */
static int cfg_from_ports(const char *ports, espfab_station_cfg_t *cfg, espfab_fault_t *f)
{
    espfab_buf_t ini = ESPFAB_BUF_INIT; /* out of memory is checked once, at the end */
    int n = 0, rc;
    char host[64] = "";
    gethostname(host, sizeof(host) - 1);
    espfab_buf_printf(&ini, "[station]\nid = %s\n", host[0] ? host : "station");

#define ADD_SLOT(path) espfab_buf_printf(&ini, "[slot %d]\nport = %s\n", ++n, (path))

    if (strcmp(ports, "auto") == 0) {
        espfab_port_desc_t *d = NULL;
        int k = espfab_ports_list(&d, f);
        if (k < 0) {
            espfab_buf_free(&ini);
            return k;
        }
        for (int i = 0; i < k; i++)
            if (d[i].usb_vid >= 0)
                ADD_SLOT(d[i].by_path[0] ? d[i].by_path : d[i].path);
        free(d);
        if (n == 0) {
            espfab_buf_free(&ini);
            return espfab_fault_set(f, ESPFAB_E_PORT_NONE_PRESENT,
                                    "--ports auto found no USB serial device");
        }
    } else {
        char *copy = strdup(ports), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            if (!*tok)
                continue;
            if (strpbrk(tok, "*?[") && strncmp(tok, "tcp://", 6) != 0) {
                glob_t g;
                if (glob(tok, 0, NULL, &g) == 0) {
                    for (size_t i = 0; i < g.gl_pathc; i++)
                        ADD_SLOT(g.gl_pathv[i]);
                }
                globfree(&g);
            } else {
                ADD_SLOT(tok);
            }
        }
        free(copy);
        if (n == 0) {
            espfab_buf_free(&ini);
            return espfab_fault_set(f, ESPFAB_E_STATION_NO_PORTS,
                                    "--ports '%s' names no present port", ports);
        }
    }
#undef ADD_SLOT
    if (ini.oom) {
        espfab_buf_free(&ini);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "--ports");
    }
    rc = espfab_station_cfg_parse(ini.data, ini.len, "--ports", NULL, cfg, f);
    espfab_buf_free(&ini);
    return rc;
}

static void print_fault(const char *what, const espfab_fault_t *f)
{
    char line[768];
    espfab_fault_format(f, line, sizeof(line));
    fprintf(stderr, "espfab run: %s%s%s\n", what ? what : "", what ? ": " : "", line);
}

/* The command line, parsed once. */
typedef struct run_args {
    const char *profile_path, *station_path, *ports, *db;
    const char *log_mode, *operator_name, *lot, *stub_dir;
    int mode; /* espfab_station_mode_t, -1: the station file's */
    unsigned max_boards;
    unsigned grace; /* seconds */
    espfab_runout_mode_t omode;
} run_args;

/* The profiles a run flashes: [0] the default, then one per slot override;
 * slot[i] points into it for slot i. */
typedef struct run_profiles {
    espfab_profile_t *all;
    const espfab_profile_t **slot;
    size_t n;
} run_profiles;

#define RUN_GO_ON (-1) /* parse_run_args: carry on, else the exit status */

static int parse_run_args(int argc, char **argv, run_args *a)
{
    static const struct option lopts[] = {
        {"profile", required_argument, NULL, 'P'}, {"station", required_argument, NULL, 'S'},
        {"ports", required_argument, NULL, 'p'},   {"batch", no_argument, NULL, 'B'},
        {"continuous", no_argument, NULL, 'C'},    {"db", required_argument, NULL, 'd'},
        {"log", required_argument, NULL, 'l'},     {"operator", required_argument, NULL, 'o'},
        {"lot", required_argument, NULL, 'L'},     {"stub-dir", required_argument, NULL, 's'},
        {"max-boards", required_argument, NULL, 'm'}, {"grace", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int c;
    memset(a, 0, sizeof(*a));
    a->mode = -1;
    a->grace = 30;
    uint64_t seen = 0;
    char err[160];
    optind = 1;
    opterr = 0;
    signal(SIGPIPE, SIG_IGN); /* see stop_signals */
    signal(SIGXFSZ, SIG_IGN); /* until the loop handles it: a write fails with EFBIG */
    while ((c = getopt_long(argc, argv, "+h", lopts, NULL)) != -1) {
        if (espfab_cli_opt_once(lopts, c, &seen, err, sizeof(err)) != 0) {
            fprintf(stderr, "espfab run: %s\n", err);
            return 2;
        }
        switch (c) {
        case 'P': a->profile_path = optarg; break;
        case 'S': a->station_path = optarg; break;
        case 'p': a->ports = optarg; break;
        case 'B': a->mode = ESPFAB_STATION_BATCH; break;
        case 'C': a->mode = ESPFAB_STATION_CONTINUOUS; break;
        case 'd': a->db = optarg; break;
        case 'l': a->log_mode = optarg; break;
        case 'o': a->operator_name = optarg; break;
        case 'L': a->lot = optarg; break;
        case 's': a->stub_dir = optarg; break;
        case 'm': if (count_opt("--max-boards", optarg, 1, UINT32_MAX, &a->max_boards)) return 2; break;
        case 'g': if (count_opt("--grace", optarg, 1, 3600, &a->grace)) return 2; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default:
            fprintf(stderr, "espfab run: unknown or incomplete option '%s'\n\n%s",
                    argv[optind - 1], usage_text);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "espfab run: unexpected argument '%s'\n\n%s", argv[optind], usage_text);
        return 2;
    }
    if (!a->station_path && !a->ports) {
        fprintf(stderr, "espfab run: say which boards to flash: --station S.ini or --ports "
                        "LIST|GLOB|auto\n\n%s", usage_text);
        return 2;
    }
    if (a->station_path && a->ports) {
        fprintf(stderr, "espfab run: give either --station or --ports, not both\n");
        return 2;
    }
    /* Every board's result is already one line of the run's output: the
     * session's own warnings would say it twice.  ESPFAB_LOG overrides. */
    if (!getenv("ESPFAB_LOG"))
        espfab_log_set_level(ESPFAB_LOG_ERROR);
    if (espfab_runout_mode_parse(a->log_mode, &a->omode) != 0) {
        fprintf(stderr, "espfab run: bad --log '%s' (console, json or text)\n", a->log_mode);
        return 2;
    }
    return RUN_GO_ON;
}

/* The station file (or --ports), with --operator / --lot / the mode applied. */
static int load_station(run_args *a, espfab_station_cfg_t *cfg, espfab_fault_t *f)
{
    if (a->station_path ? espfab_station_cfg_load(a->station_path, cfg, f)
                        : cfg_from_ports(a->ports, cfg, f)) {
        print_fault(a->station_path, f);
        return -1;
    }
    if (espfab_station_cfg_check_run(cfg, f) != 0) {
        print_fault(NULL, f);
        return -1;
    }
    if ((a->operator_name && label_opt("--operator", a->operator_name, cfg->operator_name,
                                       sizeof(cfg->operator_name))) ||
        (a->lot && label_opt("--lot", a->lot, cfg->lot, sizeof(cfg->lot))))
        return -1;
    if (a->mode < 0)
        a->mode = (int)cfg->mode;
    return 0;
}

/* Loads each profile once and points every slot at its own; 0 or -1 (printed). */
static int load_profiles(const run_args *a, const espfab_station_cfg_t *cfg, run_profiles *p,
                         espfab_fault_t *f)
{
    p->all = calloc(cfg->nslots + 1, sizeof(*p->all));
    p->slot = calloc(cfg->nslots, sizeof(*p->slot));
    if (!p->all || !p->slot) {
        fprintf(stderr, "espfab run: out of memory\n");
        return -1;
    }
    const char *default_profile = a->profile_path ? a->profile_path
                                                  : (cfg->profile[0] ? cfg->profile : NULL);
    if (default_profile) {
        if (espfab_profile_load(default_profile, &p->all[0], f) != 0) {
            print_fault(NULL, f);
            return -1;
        }
        p->n = 1;
    }
    for (size_t i = 0; i < cfg->nslots; i++) {
        const char *sp = cfg->slots[i].profile;
        if (!sp[0]) {
            if (!p->n || !default_profile) {
                fprintf(stderr, "espfab run: slot %s has no profile: give --profile P.ini (or "
                                "profile = in the station file)\n", cfg->slots[i].name);
                return -1;
            }
            p->slot[i] = &p->all[0];
            continue;
        }
        size_t k;
        for (k = 0; k < p->n; k++)
            if (!strcmp(p->all[k].path, sp))
                break;
        if (k == p->n) {
            if (espfab_profile_load(sp, &p->all[p->n], f) != 0) {
                print_fault(NULL, f);
                return -1;
            }
            k = p->n++;
        }
        p->slot[i] = &p->all[k];
    }
    return 0;
}

/* The run's row in the database; sets run->id. */
static int begin_run(espfab_store_t *store, const espfab_station_cfg_t *cfg,
                     const espfab_profile_t *first, int mode, espfab_run_t *run,
                     espfab_fault_t *f)
{
    memset(run, 0, sizeof(*run));
    snprintf(run->station, sizeof(run->station), "%s", cfg->id);
    snprintf(run->line, sizeof(run->line), "%s", cfg->line);
    snprintf(run->operator_name, sizeof(run->operator_name), "%s", cfg->operator_name);
    snprintf(run->lot, sizeof(run->lot), "%s", cfg->lot);
    snprintf(run->profile_name, sizeof(run->profile_name), "%s", first->name);
    snprintf(run->profile_sha256, sizeof(run->profile_sha256), "%s", first->sha256);
    snprintf(run->mode, sizeof(run->mode), "%s",
             espfab_station_mode_name((espfab_station_mode_t)mode));
    return espfab_store_run_begin(store, run, f);
}

/* A station that flashes several products names them by count. */
static void profile_label(const run_profiles *p, size_t nslots, char *out, size_t size)
{
    size_t used = 0;
    for (size_t k = 0; k < p->n; k++)
        for (size_t i = 0; i < nslots; i++)
            if (p->slot[i] == &p->all[k]) {
                used++;
                break;
            }
    if (used > 1)
        snprintf(out, size, "%zu profiles (%s, ...)", used, p->slot[0]->name);
    else
        snprintf(out, size, "%s", p->slot[0]->name);
}

static int new_station(run_ctx *r, const run_args *a, const espfab_station_cfg_t *cfg,
                       const run_profiles *p, int64_t run_id, espfab_fault_t *f)
{
    espfab_station_opts_t so;
    memset(&so, 0, sizeof(so));
    so.cfg = cfg;
    so.profile = p->n ? &p->all[0] : NULL;
    so.slot_profiles = p->slot;
    so.mode = (espfab_station_mode_t)a->mode;
    so.store = r->store;
    so.run_id = run_id;
    so.stub_dir = a->stub_dir;
    so.grace_ms = a->grace * 1000u;
    so.max_boards = a->max_boards;
    return espfab_station_new(r->loop, &so, on_station, r, &r->st, f);
}

/* The station runs until it finishes; returns the exit status. */
static int run_station(run_ctx *r, int64_t run_id)
{
    espfab_station_totals_t t;
    espfab_station_start(r->st);
    uv_run(r->loop, UV_RUN_DEFAULT);
    espfab_store_run_end(r->store, run_id, 0, NULL);
    espfab_station_totals(r->st, &t);
    espfab_runout_summary(r->out);
    return (t.failed || t.interrupted || t.not_recorded || t.attempts == 0) ? 1 : 0;
}

static void run_close(run_ctx *r, run_profiles *p, espfab_station_cfg_t *cfg)
{
    if (r->out)
        espfab_runout_free(r->out);
    if (r->st)
        espfab_station_free(r->st);
    if (r->signals) {
        signals_close(r);
        uv_run(r->loop, UV_RUN_NOWAIT);
    }
    if (r->store)
        espfab_store_close(r->store);
    for (size_t i = 0; p->all && i < p->n; i++)
        espfab_profile_free(&p->all[i]);
    free(p->all);
    free(p->slot);
    espfab_station_cfg_free(cfg);
}

int espfab_cli_run(int argc, char **argv)
{
    run_args a;
    int rc = parse_run_args(argc, argv, &a);
    if (rc != RUN_GO_ON)
        return rc;

    espfab_fault_t f;
    espfab_fault_clear(&f);
    espfab_station_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    run_profiles p;
    memset(&p, 0, sizeof(p));
    run_ctx r;
    memset(&r, 0, sizeof(r));
    rc = 2;
    if (load_station(&a, &cfg, &f) != 0 || load_profiles(&a, &cfg, &p, &f) != 0)
        goto out;

    const char *db_path = a.db ? a.db : (a.station_path ? cfg.database : "espfab.db");
    int recovered = 0;
    espfab_run_t run;
    if (espfab_store_open(db_path, 0, &r.store, &recovered, &f) != 0 ||
        begin_run(r.store, &cfg, p.slot[0], a.mode, &run, &f) != 0) {
        print_fault(db_path, &f);
        goto out;
    }
    r.loop = uv_default_loop();
    if (new_station(&r, &a, &cfg, &p, run.id, &f) != 0) {
        print_fault(NULL, &f);
        goto out;
    }
    char plabel[128];
    profile_label(&p, cfg.nslots, plabel, sizeof(plabel));
    r.out = espfab_runout_new(r.loop, a.omode, r.st, &cfg, plabel, db_path, run.id);
    if (recovered > 0) {
        char note[1280];
        snprintf(note, sizeof(note), "%d attempt(s) left open by an earlier crash were marked "
                                     "interrupted in %s", recovered, db_path);
        espfab_runout_note(r.out, note);
    }
    signals_start(&r);
    rc = run_station(&r, run.id);
out:
    run_close(&r, &p, &cfg);
    return rc;
}

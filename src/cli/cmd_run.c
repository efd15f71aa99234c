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

int espfab_cli_run(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"profile", required_argument, NULL, 'P'}, {"station", required_argument, NULL, 'S'},
        {"ports", required_argument, NULL, 'p'},   {"batch", no_argument, NULL, 'B'},
        {"continuous", no_argument, NULL, 'C'},    {"db", required_argument, NULL, 'd'},
        {"log", required_argument, NULL, 'l'},     {"operator", required_argument, NULL, 'o'},
        {"lot", required_argument, NULL, 'L'},     {"stub-dir", required_argument, NULL, 's'},
        {"max-boards", required_argument, NULL, 'm'}, {"grace", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *profile_path = NULL, *station_path = NULL, *ports = NULL, *db = NULL;
    const char *log_mode = NULL, *operator_name = NULL, *lot = NULL, *stub_dir = NULL;
    int mode = -1, c;
    unsigned max_boards = 0, grace = 30;
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
        case 'P': profile_path = optarg; break;
        case 'S': station_path = optarg; break;
        case 'p': ports = optarg; break;
        case 'B': mode = ESPFAB_STATION_BATCH; break;
        case 'C': mode = ESPFAB_STATION_CONTINUOUS; break;
        case 'd': db = optarg; break;
        case 'l': log_mode = optarg; break;
        case 'o': operator_name = optarg; break;
        case 'L': lot = optarg; break;
        case 's': stub_dir = optarg; break;
        case 'm': if (count_opt("--max-boards", optarg, 1, UINT32_MAX, &max_boards)) return 2; break;
        case 'g': if (count_opt("--grace", optarg, 1, 3600, &grace)) return 2; break;
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
    if (!station_path && !ports) {
        fprintf(stderr, "espfab run: say which boards to flash: --station S.ini or --ports "
                        "LIST|GLOB|auto\n\n%s", usage_text);
        return 2;
    }
    if (station_path && ports) {
        fprintf(stderr, "espfab run: give either --station or --ports, not both\n");
        return 2;
    }
    /* Every board's result is already one line of the run's output: the
     * session's own warnings would say it twice.  ESPFAB_LOG overrides. */
    if (!getenv("ESPFAB_LOG"))
        espfab_log_set_level(ESPFAB_LOG_ERROR);
    espfab_runout_mode_t omode;
    if (espfab_runout_mode_parse(log_mode, &omode) != 0) {
        fprintf(stderr, "espfab run: bad --log '%s' (console, json or text)\n", log_mode);
        return 2;
    }

    int rc = 2;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    espfab_station_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    espfab_profile_t *profiles = NULL;    /* [0] default, then one per slot override */
    const espfab_profile_t **slot_prof = NULL;
    size_t nprof = 0;
    run_ctx r;
    memset(&r, 0, sizeof(r));

    if (station_path ? espfab_station_cfg_load(station_path, &cfg, &f)
                     : cfg_from_ports(ports, &cfg, &f)) {
        print_fault(station_path, &f);
        goto out;
    }
    if (espfab_station_cfg_check_run(&cfg, &f) != 0) {
        print_fault(NULL, &f);
        goto out;
    }
    if ((operator_name && label_opt("--operator", operator_name, cfg.operator_name,
                                    sizeof(cfg.operator_name))) ||
        (lot && label_opt("--lot", lot, cfg.lot, sizeof(cfg.lot))))
        goto out;
    if (mode < 0)
        mode = (int)cfg.mode;

    profiles = calloc(cfg.nslots + 1, sizeof(*profiles));
    slot_prof = calloc(cfg.nslots, sizeof(*slot_prof));
    if (!profiles || !slot_prof) {
        fprintf(stderr, "espfab run: out of memory\n");
        goto out;
    }
    const char *default_profile = profile_path ? profile_path : (cfg.profile[0] ? cfg.profile : NULL);
    if (default_profile) {
        if (espfab_profile_load(default_profile, &profiles[0], &f) != 0) {
            print_fault(NULL, &f);
            goto out;
        }
        nprof = 1;
    }
    for (size_t i = 0; i < cfg.nslots; i++) {
        const char *sp = cfg.slots[i].profile;
        if (!sp[0]) {
            if (!nprof || !default_profile) {
                fprintf(stderr, "espfab run: slot %s has no profile: give --profile P.ini (or "
                                "profile = in the station file)\n", cfg.slots[i].name);
                goto out;
            }
            slot_prof[i] = &profiles[0];
            continue;
        }
        size_t k;
        for (k = 0; k < nprof; k++)
            if (!strcmp(profiles[k].path, sp))
                break;
        if (k == nprof) {
            if (espfab_profile_load(sp, &profiles[nprof], &f) != 0) {
                print_fault(NULL, &f);
                goto out;
            }
            k = nprof++;
        }
        slot_prof[i] = &profiles[k];
    }

    const char *db_path = db ? db : (station_path ? cfg.database : "espfab.db");
    int recovered = 0;
    if (espfab_store_open(db_path, 0, &r.store, &recovered, &f) != 0) {
        print_fault(db_path, &f);
        goto out;
    }

    espfab_run_t run;
    memset(&run, 0, sizeof(run));
    snprintf(run.station, sizeof(run.station), "%s", cfg.id);
    snprintf(run.line, sizeof(run.line), "%s", cfg.line);
    snprintf(run.operator_name, sizeof(run.operator_name), "%s", cfg.operator_name);
    snprintf(run.lot, sizeof(run.lot), "%s", cfg.lot);
    snprintf(run.profile_name, sizeof(run.profile_name), "%s", slot_prof[0]->name);
    snprintf(run.profile_sha256, sizeof(run.profile_sha256), "%s", slot_prof[0]->sha256);
    snprintf(run.mode, sizeof(run.mode), "%s", espfab_station_mode_name((espfab_station_mode_t)mode));
    if (espfab_store_run_begin(r.store, &run, &f) != 0) {
        print_fault(db_path, &f);
        goto out;
    }

    r.loop = uv_default_loop();
    espfab_station_opts_t so;
    memset(&so, 0, sizeof(so));
    so.cfg = &cfg;
    so.profile = nprof ? &profiles[0] : NULL;
    so.slot_profiles = slot_prof;
    so.mode = (espfab_station_mode_t)mode;
    so.store = r.store;
    so.run_id = run.id;
    so.stub_dir = stub_dir;
    so.grace_ms = (uint32_t)(grace * 1000);
    so.max_boards = max_boards;
    if (espfab_station_new(r.loop, &so, on_station, &r, &r.st, &f) != 0) {
        print_fault(NULL, &f);
        goto out;
    }
    /* A station that flashes several products names them by count. */
    char plabel[128];
    size_t used = 0;
    for (size_t k = 0; k < nprof; k++)
        for (size_t i = 0; i < cfg.nslots; i++)
            if (slot_prof[i] == &profiles[k]) {
                used++;
                break;
            }
    if (used > 1)
        snprintf(plabel, sizeof(plabel), "%zu profiles (%s, ...)", used, slot_prof[0]->name);
    else
        snprintf(plabel, sizeof(plabel), "%s", slot_prof[0]->name);
    r.out = espfab_runout_new(r.loop, omode, r.st, &cfg, plabel, db_path, run.id);
    if (recovered > 0) {
        char note[1280];
        snprintf(note, sizeof(note), "%d attempt(s) left open by an earlier crash were marked "
                                     "interrupted in %s", recovered, db_path);
        espfab_runout_note(r.out, note);
    }
    signals_start(&r);

    espfab_station_start(r.st);
    uv_run(r.loop, UV_RUN_DEFAULT);

    espfab_store_run_end(r.store, run.id, 0, NULL);
    espfab_station_totals_t t;
    espfab_station_totals(r.st, &t);
    espfab_runout_summary(r.out);
    rc = (t.failed || t.interrupted || t.not_recorded || t.attempts == 0) ? 1 : 0;

out:
    if (r.out)
        espfab_runout_free(r.out);
    if (r.st)
        espfab_station_free(r.st);
    if (r.signals) {
        signals_close(&r);
        uv_run(r.loop, UV_RUN_NOWAIT);
    }
    if (r.store)
        espfab_store_close(r.store);
    for (size_t i = 0; profiles && i < nprof; i++)
        espfab_profile_free(&profiles[i]);
    free(profiles);
    free(slot_prof);
    espfab_station_cfg_free(&cfg);
    return rc;
}

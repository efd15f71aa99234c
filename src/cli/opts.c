/*
 * opts.c - esptool-style option parsing shared by flash and info (opts.h).
 */
#include "cli/opts.h"
#include "espfab/num.h"
#include "espfab/reset.h"
#include "espfab/setting.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "espfab/record.h"
#include "espfab/session.h"
#include "port/list.h"

static int eq(const char *a, const char *b)
{
    /* '_' and '-' are the same, case-insensitive (profiles use both). */
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : (char)tolower((unsigned char)*a);
        char y = *b == '_' ? '-' : (char)tolower((unsigned char)*b);
        if (x != y)
            return 0;
    }
    return *a == *b;
}

enum {
    O_PORT = 'p', O_BAUD = 'b', O_CHIP = 'c', O_HELP = 'h',
    O_BEFORE = 256, O_AFTER, O_MODE, O_FREQ, O_SIZE, O_NO_STUB, O_NO_COMPRESS, O_COMPRESS,
    O_ERASE, O_ERASE_ALL, O_NO_VERIFY, O_FORCE, O_STUB_DIR, O_PROFILE, O_JSON, O_USB_ID,
    O_DB, O_ALL
};

typedef struct {
    struct option opt;
    unsigned only;      /* 0: every command */
    const char *arg;    /* metavar for help, NULL for flags */
    const char *help;
} optdef_t;

static const optdef_t defs[] = {
    {{"port", required_argument, NULL, O_PORT}, 0, "PORT", "serial port, pty or tcp://HOST:PORT (-p); left out: the one USB serial port present"},
    {{"baud", required_argument, NULL, O_BAUD}, 0, "BAUD", "baud rate after connecting (-b; default 460800, info: 115200)"},
    {{"chip", required_argument, NULL, O_CHIP}, 0, "CHIP", "auto (default) or esp8266, esp32, esp32s3, ... (-c); refuses another chip"},
    {{"before", required_argument, NULL, O_BEFORE}, 0, "HOW", "reset into the loader: auto (default: usb-jtag on the chip's own USB port 303a:1001, else tight and classic in turn), classic, tight, usb-jtag, none"},
    {{"usb-id", required_argument, NULL, O_USB_ID}, 0, "VID:PID", "the USB id of the port when espfab cannot read it (serial servers, tcp://): 303a:1001 = the chip's USB-Serial/JTAG, 303a:0009 = ESP32-S3 USB-OTG"},
    {{"no-stub", no_argument, NULL, O_NO_STUB}, 0, NULL, "talk to the ROM loader only (slower; no stub upload)"},
    {{"stub-dir", required_argument, NULL, O_STUB_DIR}, 0, "DIR", "directory of the esptool-js stub JSON files (or $ESPFAB_STUB_DIR)"},
    {{"after", required_argument, NULL, O_AFTER}, ESPFAB_OPT_FLASH | ESPFAB_OPT_BENCH, "HOW", "hard-reset (default) or no-reset"},
    {{"flash-mode", required_argument, NULL, O_MODE}, ESPFAB_OPT_FLASH, "MODE", "keep (default), qio, qout, dio, dout (patched into the bootloader header)"},
    {{"flash-freq", required_argument, NULL, O_FREQ}, ESPFAB_OPT_FLASH, "FREQ", "keep (default), 80m, 40m, 26m, 20m (chip-specific)"},
    {{"flash-size", required_argument, NULL, O_SIZE}, ESPFAB_OPT_FLASH, "SIZE", "keep (default), detect, 1MB..128MB"},
    {{"no-compress", no_argument, NULL, O_NO_COMPRESS}, ESPFAB_OPT_FLASH, NULL, "send the data uncompressed"},
    {{"compress", no_argument, NULL, O_COMPRESS}, ESPFAB_OPT_FLASH, NULL, "send the data deflated (default; also with --no-stub when the ROM can)"},
    {{"erase", required_argument, NULL, O_ERASE}, ESPFAB_OPT_FLASH, "WHAT", "none (default), regions, all"},
    {{"erase-all", no_argument, NULL, O_ERASE_ALL}, ESPFAB_OPT_FLASH, NULL, "same as --erase all (esptool spelling)"},
    {{"no-verify", no_argument, NULL, O_NO_VERIFY}, ESPFAB_OPT_FLASH, NULL, "skip the MD5 read-back (not recommended)"},
    {{"force", no_argument, NULL, O_FORCE}, ESPFAB_OPT_FLASH, NULL, "write images built for another chip or revision"},
    {{"profile", required_argument, NULL, O_PROFILE}, ESPFAB_OPT_FLASH, "FILE.ini", "take images and settings from a profile"},
    {{"json", no_argument, NULL, O_JSON}, ESPFAB_OPT_INFO, NULL, "print one JSON object instead of text"},
    {{"db", required_argument, NULL, O_DB}, ESPFAB_OPT_BENCH, "FILE", "record the operation in this traceability database"},
    {{"all", no_argument, NULL, O_ALL}, ESPFAB_OPT_BENCH, NULL, "erase: the whole flash"},
    {{"help", no_argument, NULL, O_HELP}, 0, NULL, "this help"},
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))
_Static_assert(NDEFS <= 64, "espfab_cli_opt_once keeps one bit per option");

void espfab_cli_opts_help(unsigned allowed, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < NDEFS; i++) {
        if (defs[i].only && !(defs[i].only & allowed))
            continue;
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", defs[i].opt.name, defs[i].arg ? " " : "",
                 defs[i].arg ? defs[i].arg : "");
        int n = snprintf(buf + used, len - used, "  %-22s %s\n", left, defs[i].help);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A setting parser's refusal as the command's one-line error. */
static int refused(const espfab_fault_t *f, char *err, size_t errlen)
{
    return fail(err, errlen, "%s", f->detail);
}

int espfab_cli_opt_once(const struct option *table, int c, uint64_t *seen, char *err,
                        size_t errlen)
{
    for (unsigned i = 0; table[i].name && i < 64; i++) {
        if (table[i].val != c || table[i].flag || table[i].has_arg != required_argument)
            continue;
        if (*seen & (UINT64_C(1) << i))
            return fail(err, errlen, "--%s given twice: give it once (which one should win is "
                                     "a guess espfab will not make)", table[i].name);
        *seen |= UINT64_C(1) << i;
        return 0;
    }
    return 0;
}

/* The options that name a setting (setting.h parses them); 1: not one. */
static int apply_setting(int c, espfab_cli_opts_t *o, char *err, size_t errlen)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    switch (c) {
    case O_BEFORE: {
        const espfab_setting_src_t src = {NULL, 0, "--before"};
        if (espfab_setting_parse_before(optarg, &src, &o->before, &f) != 0)
            return refused(&f, err, errlen);
        o->given |= ESPFAB_CLI_GIVEN_BEFORE;
        break;
    }
    case O_AFTER: {
        const espfab_setting_src_t src = {NULL, 0, "--after"};
        if (espfab_setting_parse_after(optarg, &src, &o->after, &f) != 0)
            return refused(&f, err, errlen);
        o->given |= ESPFAB_CLI_GIVEN_AFTER;
        break;
    }
    case O_MODE: {
        const espfab_setting_src_t src = {NULL, 0, "--flash-mode"};
        if (espfab_setting_parse_flash_mode(optarg, &src, &o->flash.mode, &f) != 0)
            return refused(&f, err, errlen);
        break;
    }
    case O_FREQ: { /* the chip's own set: espfab_flash_params_check */
        const espfab_setting_src_t src = {NULL, 0, "--flash-freq"};
        if (espfab_setting_parse_flash_freq(optarg, &src, &o->flash.freq, &f) != 0)
            return refused(&f, err, errlen);
        break;
    }
    case O_SIZE: {
        const espfab_setting_src_t src = {NULL, 0, "--flash-size"};
        if (espfab_setting_parse_flash_size(optarg, &src, &o->flash, &f) != 0)
            return refused(&f, err, errlen);
        break;
    }
    case O_ERASE: {
        const espfab_setting_src_t src = {NULL, 0, "--erase"};
        if (espfab_setting_parse_erase(optarg, &src, &o->erase, &f) != 0)
            return refused(&f, err, errlen);
        o->given |= ESPFAB_CLI_GIVEN_ERASE;
        break;
    }
    default:
        return 1;
    }
    return 0;
}

/* Applies one option other than a setting. */
static int apply_opt(int c, char **argv, espfab_cli_opts_t *o, char *err, size_t errlen)
{
    switch (c) {
    case O_PORT:
        o->port = optarg;
        break;
    case O_BAUD:
        if (espfab_num_parse_u32(optarg, &o->baud) != 0 || o->baud < 9600 || o->baud > 5000000)
            return fail(err, errlen, "--baud %s: expected a baud rate between 9600 and 5000000 (e.g. 115200, 460800, 921600)",
                        optarg);
        break;
    case O_CHIP:
        if (eq(optarg, "auto")) {
            o->chip = "auto";
            o->chip_p = NULL;
        } else {
            o->chip_p = espfab_chip_by_key(optarg);
            if (!o->chip_p)
                return fail(err, errlen, "--chip %s: unknown chip; use auto or one of %s", optarg,
                            espfab_chip_keys());
            o->chip = o->chip_p->key;
        }
        break;
    case O_NO_STUB:
        o->no_stub = true;
        break;
    case O_NO_COMPRESS:
        o->no_compress = true;
        o->given |= ESPFAB_CLI_GIVEN_COMPRESS;
        break;
    case O_COMPRESS:
        o->no_compress = false;
        o->given |= ESPFAB_CLI_GIVEN_COMPRESS;
        break;
    case O_ERASE_ALL:
        o->erase = ESPFAB_ERASE_ALL;
        o->given |= ESPFAB_CLI_GIVEN_ERASE;
        break;
    case O_NO_VERIFY:
        o->no_verify = true;
        break;
    case O_FORCE:
        o->force = true;
        break;
    case O_STUB_DIR:
        o->stub_dir = optarg;
        break;
    case O_USB_ID:
        if (espfab_usb_id_parse(optarg, &o->usb_vid, &o->usb_pid) != 0)
            return fail(err, errlen, "--usb-id %s: expected VID:PID in hex, e.g. 303a:1001", optarg);
        break;
    case O_PROFILE:
        o->profile = optarg;
        break;
    case O_JSON:
        o->json = true;
        break;
    case O_DB:
        o->db = optarg;
        break;
    case O_ALL:
        o->all = true;
        break;
    case O_HELP:
        o->help = true;
        break;
    case ':':
        return fail(err, errlen, "%s needs a value", argv[optind - 1]);
    case '?':
    default:
        if (optopt && optopt < 256 && optopt != '?')
            return fail(err, errlen, "-%c: unknown option of `espfab %s`", optopt, o->cmd);
        return fail(err, errlen, "%s: unknown or incomplete option of `espfab %s` (see --help)",
                    argv[optind - 1], o->cmd);
    }
    return 0;
}

static void opts_defaults(espfab_cli_opts_t *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    o->cmd = argc > 0 ? argv[0] : "?";
    o->chip = "auto";
    o->before = ESPFAB_RESET_AUTO;
    o->after = ESPFAB_AFTER_HARD_RESET;
    o->flash = (espfab_flash_params_t){ESPFAB_FLASH_MODE_KEEP, ESPFAB_FLASH_FREQ_KEEP,
                                       ESPFAB_FLASH_SIZE_KEEP, false};
    o->erase = ESPFAB_ERASE_NONE;
}

int espfab_cli_opts_parse(int argc, char **argv, unsigned allowed, espfab_cli_opts_t *o, char *err,
                          size_t errlen)
{
    opts_defaults(o, argc, argv);
    if (err && errlen)
        err[0] = '\0';

    struct option longopts[NDEFS + 1];
    size_t n = 0;
    for (size_t i = 0; i < NDEFS; i++)
        longopts[n++] = defs[i].opt; /* all known, so a misplaced one gets a precise message */
    memset(&longopts[n], 0, sizeof(longopts[n]));

    optind = 0; /* full reinitialisation (GNU), so parsing can run more than once */
    opterr = 0;
    int c;
    uint64_t seen = 0;
    while ((c = getopt_long(argc, argv, ":p:b:c:h", longopts, NULL)) != -1) {
        if (espfab_cli_opt_once(longopts, c, &seen, err, errlen) != 0)
            return -1;
        /* Refuse options that belong to another command. */
        if (c >= 256 || c == O_PORT || c == O_BAUD || c == O_CHIP) {
            for (size_t i = 0; i < NDEFS; i++)
                if (defs[i].opt.val == c && defs[i].only && !(defs[i].only & allowed))
                    return fail(err, errlen, "--%s is not an option of `espfab %s`", defs[i].opt.name,
                                o->cmd);
        }
        int rc = apply_setting(c, o, err, errlen);
        if (rc == 1)
            rc = apply_opt(c, argv, o, err, errlen);
        if (rc != 0)
            return -1;
    }
    /* GNU getopt moved the positional arguments (OFFSET FILE...) to the end, in order. */
    o->pos = argv + optind;
    o->npos = argc - optind;
    return 0;
}

int espfab_job_from_cli(espfab_job_t *j, const espfab_cli_opts_t *o, espfab_fault_t *f)
{
    const espfab_chip_t *jc = espfab_chip_get(j->chip);
    if (o->chip_p && jc && o->chip_p != jc)
        return espfab_fault_set(f, ESPFAB_E_USAGE, "--chip %s contradicts the profile %s (chip = %s)",
                                o->chip_p->key, o->profile ? o->profile : "", jc->key);
    if (o->chip_p)
        j->chip = o->chip_p->id;
    if (o->baud)
        j->baud = o->baud;
    if (o->given & ESPFAB_CLI_GIVEN_BEFORE)
        j->before = o->before;
    if (o->given & ESPFAB_CLI_GIVEN_AFTER)
        j->after = o->after;
    if (o->given & ESPFAB_CLI_GIVEN_ERASE)
        j->erase = o->erase;
    if (o->given & ESPFAB_CLI_GIVEN_COMPRESS)
        j->no_compress = o->no_compress;
    if (o->flash.mode != ESPFAB_FLASH_MODE_KEEP)
        j->flash.mode = o->flash.mode;
    if (o->flash.freq != ESPFAB_FLASH_FREQ_KEEP)
        j->flash.freq = o->flash.freq;
    if (o->flash.size != ESPFAB_FLASH_SIZE_KEEP) {
        j->flash.size = o->flash.size;
        j->flash.size_c1 = o->flash.size_c1;
    }
    j->no_stub = j->no_stub || o->no_stub;
    j->no_verify = j->no_verify || o->no_verify;
    j->force = j->force || o->force;
    if (o->usb_vid || o->usb_pid) {
        j->usb_vid = o->usb_vid;
        j->usb_pid = o->usb_pid;
    }
    return 0;
}

/* ---- progress ---------------------------------------------------------- */

void espfab_progress_init(espfab_progress_t *p, FILE *out)
{
    memset(p, 0, sizeof(*p));
    p->out = out;
    p->tty = isatty(fileno(out)) == 1;
    p->region = -1;
}

void espfab_progress_break(espfab_progress_t *p)
{
    if (p->open_line) {
        fputc('\n', p->out);
        p->open_line = false;
        fflush(p->out);
    }
}

void espfab_progress_update(espfab_progress_t *p, int i, const char *label, uint64_t done,
                            uint64_t total)
{
    int pct = total ? (int)(done * 100 / total) : 100;
    if (pct > 100)
        pct = 100;
    if (i != p->region) {
        espfab_progress_break(p);
        p->region = i;
        p->last_decile = -1;
        p->last_pct = -1;
    }
    if (p->tty) {
        if (pct == p->last_pct)
            return;
        p->last_pct = pct;
        char bar[41];
        int fill = pct * 40 / 100;
        for (int k = 0; k < 40; k++)
            bar[k] = k < fill ? '#' : '.';
        bar[40] = '\0';
        fprintf(p->out, "\r%-32.32s [%s] %3d%% (%llu/%llu bytes)", label, bar, pct,
                (unsigned long long)done, (unsigned long long)total);
        p->open_line = true;
        if (pct == 100)
            espfab_progress_break(p);
        fflush(p->out);
        return;
    }
    int decile = pct / 10;
    if (decile == p->last_decile)
        return;
    p->last_decile = decile;
    fprintf(p->out, "%s: %3d%% (%llu/%llu bytes)\n", label, decile * 10, (unsigned long long)done,
            (unsigned long long)total);
    fflush(p->out);
}

/* ---- running one session ------------------------------------------------ */

typedef struct run_ctx {
    espfab_cli_session_cb cb;
    void *data;
    espfab_attempt_t *rec;
    int outcome;
    bool done;
    uv_signal_t sigint, sigterm;
    espfab_session_t *s;
} run_ctx_t;

static void on_signal(uv_signal_t *h, int signum)
{
    run_ctx_t *r = h->data;
    if (r->s && !r->done) {
        fprintf(stderr, "\nespfab: %s: stopping the board after the current block\n",
                signum == SIGINT ? "interrupted" : "terminated");
        espfab_session_cancel(r->s);
    }
}

static void on_session(espfab_session_t *s, const espfab_session_ev_t *ev, void *data)
{
    run_ctx_t *r = data;
    if (r->cb)
        r->cb(s, ev, r->data);
    if (ev->kind != ESPFAB_SESSION_EV_DONE)
        return;
    const espfab_attempt_t *a = espfab_session_record(s);
    if (a)
        *r->rec = *a;
    if (ev->fault && ev->fault->code != 0)
        r->rec->fault = *ev->fault;
    r->outcome = ev->outcome;
    r->done = true;
    uv_signal_stop(&r->sigint);
    uv_signal_stop(&r->sigterm);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
    r->s = NULL;
    espfab_session_free(s);
}

int espfab_cli_session_run(uv_loop_t *loop, const espfab_session_opts_t *so, espfab_cli_session_cb cb,
                           void *data, espfab_attempt_t *rec)
{
    run_ctx_t r;
    memset(&r, 0, sizeof(r));
    r.cb = cb;
    r.data = data;
    r.rec = rec;
    r.outcome = ESPFAB_OUTCOME_FAIL;
    r.s = espfab_session_new(loop, so, on_session, &r);
    if (!r.s) {
        espfab_fault_set(&rec->fault, ESPFAB_E_INVALID_ARG, "%s: could not create the session",
                         so->port ? so->port : "(no port)");
        return ESPFAB_OUTCOME_FAIL;
    }
    uv_signal_init(loop, &r.sigint);
    uv_signal_init(loop, &r.sigterm);
    r.sigint.data = r.sigterm.data = &r;
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    if (espfab_session_start(r.s) != 0) {
        espfab_fault_set(&rec->fault, ESPFAB_E_INVALID_ARG, "%s: could not start the session", so->port);
        espfab_session_free(r.s);
        uv_close((uv_handle_t *)&r.sigint, NULL);
        uv_close((uv_handle_t *)&r.sigterm, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        return ESPFAB_OUTCOME_FAIL;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (!r.done) {
        /* The loop ran dry without DONE: a session bug, reported as such. */
        espfab_fault_set(&rec->fault, ESPFAB_E_INTERRUPTED, "%s: the session stopped without finishing",
                         so->port);
        uv_close((uv_handle_t *)&r.sigint, NULL);
        uv_close((uv_handle_t *)&r.sigterm, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        return ESPFAB_OUTCOME_INTERRUPTED;
    }
    return r.outcome;
}

int espfab_cli_port_resolve(espfab_cli_opts_t *o, char *buf, size_t len)
{
    if (o->port)
        return 0;
    espfab_port_desc_t *d = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int n = espfab_ports_list(&d, &f);
    size_t at = 0;
    char line[1024];
    if (n >= 0 && espfab_port__pick(d, (size_t)n, &at, &f) == 0) {
        snprintf(buf, len, "%s", d[at].path);
        fprintf(stderr, "espfab %s: using %s (%s), the only USB serial port\n", o->cmd, buf,
                d[at].bridge[0] ? d[at].bridge : "unknown USB serial device");
        o->port = buf;
        free(d);
        return 0;
    }
    fprintf(stderr, "espfab %s: %s\n", o->cmd, espfab_fault_format(&f, line, sizeof(line)));
    if (n > 0 && f.code == ESPFAB_E_PORT_AMBIGUOUS)
        espfab_port__format_choices(stderr, d, (size_t)n);
    free(d);
    return 2;
}

/*
 * opts.h - command-line options shared by `espfab flash`, `espfab info` (and
 * usable by `espfab run`): esptool-style long options, parsed with
 * getopt_long; settings become typed values here, at the edge, through
 * setting.h's parsers (num.h for numbers), and espfab_job_from_cli() lays
 * them over a job.  Pure code apart
 * from printing nothing: errors come back in a caller buffer so the command
 * decides how to report them.  Not thread-safe (getopt state); call from
 * main's thread only.
 */
#ifndef ESPFAB_CLI_OPTS_H
#define ESPFAB_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "espfab/chip.h"
#include "espfab/job.h"
#include "espfab/setting.h"

/* Which options a command accepts (others are "not an option of <cmd>"). */
#define ESPFAB_OPT_FLASH 0x1u  /* flash-only: --flash-*, --no-compress, --erase, --no-verify, --force, --profile, --after */
#define ESPFAB_OPT_INFO 0x2u   /* info-only: --json */
#define ESPFAB_OPT_BENCH 0x4u  /* read-flash, erase, verify: --after, --db; erase: --all */

/* Which settings were given on the command line (they win over a profile's). */
#define ESPFAB_CLI_GIVEN_BEFORE 0x01u
#define ESPFAB_CLI_GIVEN_AFTER 0x02u
#define ESPFAB_CLI_GIVEN_ERASE 0x04u
#define ESPFAB_CLI_GIVEN_COMPRESS 0x08u  /* --compress or --no-compress */

typedef struct espfab_cli_opts {
    const char *cmd;          /* "flash" / "info" (argv[0]) */
    const char *port;         /* --port / -p */
    uint32_t baud;            /* --baud / -b; 0 = not given */
    const char *chip;         /* --chip / -c; "auto" when not given */
    const espfab_chip_t *chip_p; /* NULL for auto */
    espfab_reset_t before;    /* --before; AUTO when not given */
    espfab_after_t after;     /* --after; HARD_RESET when not given */
    espfab_flash_params_t flash; /* --flash-mode/-freq/-size; KEEP when not given */
    espfab_erase_t erase;     /* --erase / --erase-all; NONE when not given */
    unsigned given;           /* ESPFAB_CLI_GIVEN_* */
    const char *stub_dir;     /* --stub-dir, NULL */
    const char *profile;      /* --profile FILE.ini, NULL */
    const char *db;           /* --db FILE (bench commands), NULL = not recorded */
    bool all;                 /* --all (erase) */
    int usb_vid, usb_pid;     /* --usb-id VID:PID; 0 = not given */
    bool no_stub, no_compress, no_verify, force, json, help;
    int npos;                 /* positional arguments (OFFSET FILE pairs) */
    char **pos;
} espfab_cli_opts_t;

/* A single-value option is given once: with two --db (or two -p) the last
 * would silently win.  Call with every c getopt_long() returns, the same
 * option table and a seen mask zeroed before parsing (one bit per table
 * entry, at most 64).  Returns 0, or -1 with err naming the option given
 * twice (options without a value, such as --batch, may repeat). */
struct option;
int espfab_cli_opt_once(const struct option *table, int c, uint64_t *seen, char *err,
                        size_t errlen);

/* Parses argv (argv[0] is the subcommand).  Each option with a value may be
 * given once (espfab_cli_opt_once).   Returns 0, or -1 with err set to
 * a one-line message naming the bad option/value and the allowed ones. */
int espfab_cli_opts_parse(int argc, char **argv, unsigned allowed, espfab_cli_opts_t *o, char *err,
                          size_t errlen);

/* --port left out (esptool's rule): when o->port is NULL, lists the serial
 * ports and takes the one USB serial port (espfab_port__pick), copied into
 * buf (the caller's, alive as long as o), saying on stderr which one.
 * Returns 0 (o->port set, or already given), or 2 after printing
 * "espfab <cmd>: ..." and, with several ports, the list with their USB
 * bridges.  Main thread only (the listing is not thread-safe). */
int espfab_cli_port_resolve(espfab_cli_opts_t *o, char *buf, size_t len);

/* The command line's settings on top of a job (espfab_job_init'ed or from a
 * profile): what was given wins; --no-stub/--no-verify/--force add to it.
 * ESPFAB_E_USAGE when --chip contradicts the job's chip. */
int espfab_job_from_cli(espfab_job_t *j, const espfab_cli_opts_t *o, espfab_fault_t *f);

/* The option summary printed by --help, one option per line. */
void espfab_cli_opts_help(unsigned allowed, char *buf, size_t len);

/*
 * Per-region progress on stderr for `espfab flash` (and run, if useful): a
 * live bar redrawn in place when the stream is a terminal, otherwise one
 * line per 10 % so logs and CI output stay readable.
 */
typedef struct espfab_progress {
    FILE *out;
    bool tty;
    int region;          /* current region index, -1 none */
    int last_decile;     /* last 10 % step printed (not a tty) */
    int last_pct;        /* last percentage drawn (tty) */
    bool open_line;      /* a tty bar is drawn without its newline */
} espfab_progress_t;

void espfab_progress_init(espfab_progress_t *p, FILE *out);
/* Bytes done of total for region i, labelled ("0x10000 app.bin"); a new
 * region starts a new line; done == total completes it. */
void espfab_progress_update(espfab_progress_t *p, int i, const char *label, uint64_t done,
                            uint64_t total);
/* Ends an unfinished bar line (before printing something else). */
void espfab_progress_break(espfab_progress_t *p);

/*
 * Runs one session on loop until DONE: SIGINT/SIGTERM cancel it (the board
 * is recorded interrupted), every event is passed to cb first (may be NULL;
 * cb may call espfab_session_cancel()), and the final record is copied to
 * *rec.  Returns the outcome (ESPFAB_OUTCOME_PASS / FAIL / INTERRUPTED);
 * rec->fault says why.  The loop is left with no handles of ours.
 */
struct espfab_session_opts;
struct espfab_session;
struct espfab_session_ev;
struct espfab_attempt;
typedef void (*espfab_cli_session_cb)(struct espfab_session *s, const struct espfab_session_ev *ev,
                                      void *data);
int espfab_cli_session_run(uv_loop_t *loop, const struct espfab_session_opts *so,
                           espfab_cli_session_cb cb, void *data, struct espfab_attempt *rec);

#endif

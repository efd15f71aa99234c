/*
 * opts.h - command-line options shared by `espfab flash`, `espfab info` (and
 * usable by `espfab run`): esptool-style long options, parsed with
 * getopt_long into plain strings and flags, then checked.  Pure code apart
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

/* Which options a command accepts (others are "not an option of <cmd>"). */
#define ESPFAB_OPT_FLASH 0x1u  /* flash-only: --flash-*, --no-compress, --erase, --no-verify, --force, --profile, --after */
#define ESPFAB_OPT_INFO 0x2u   /* info-only: --json */

typedef struct espfab_cli_opts {
    const char *cmd;          /* "flash" / "info" (argv[0]) */
    const char *port;         /* --port / -p */
    uint32_t baud;            /* --baud / -b; 0 = not given */
    const char *chip;         /* --chip / -c; "auto" when not given */
    const espfab_chip_t *chip_p; /* NULL for auto */
    const char *before;       /* normalised: classic tight usb-jtag none auto */
    const char *after;        /* normalised: hard-reset no-reset */
    const char *flash_mode, *flash_freq, *flash_size; /* "keep" when not given */
    const char *erase;        /* "none" (default), "all", "regions" */
    const char *stub_dir;     /* --stub-dir, NULL */
    const char *profile;      /* --profile FILE.ini, NULL */
    int usb_vid, usb_pid;     /* --usb-id VID:PID; 0 = not given */
    bool no_stub, no_compress, no_verify, force, json, help;
    int npos;                 /* positional arguments (OFFSET FILE pairs) */
    char **pos;
} espfab_cli_opts_t;

/* Parses argv (argv[0] is the subcommand).  Returns 0, or -1 with err set to
 * a one-line message naming the bad option/value and the allowed ones. */
int espfab_cli_opts_parse(int argc, char **argv, unsigned allowed, espfab_cli_opts_t *o, char *err,
                          size_t errlen);

/* "0x1000", "4096", "0X10000" -> value; 0 on success, -1 if not a hex or
 * decimal number that fits 32 bits (octal-looking "010" is refused). */
int espfab_cli_parse_u32(const char *s, uint32_t *out);

/* Normalises a --before value (esptool spellings accepted: default-reset ->
 * classic, usb-reset -> usb-jtag, no-reset -> none, no-reset-no-sync -> none).
 * NULL if unknown. */
const char *espfab_cli_before_name(const char *s);
/* --after: hard-reset, no-reset (soft-reset/no-reset-stub -> no-reset). */
const char *espfab_cli_after_name(const char *s);

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

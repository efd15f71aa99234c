/*
 * cmd_flash.c - `espfab flash`: write images to one board and verify them,
 * the way esptool's write_flash does, through one bootloader session.
 *
 *   espfab flash --port P [options] OFFSET FILE [OFFSET FILE...]
 *   espfab flash --port P --profile FILE.ini
 *
 * Everything that can be checked without the board is checked first (files,
 * offsets, overlaps, flash parameters, and the images' chip when --chip is
 * given); the checks that need the board (its chip, revision, flash size)
 * run once it is identified and before any flash command is sent.  Exit
 * status: 0 every region written and verified, 1 the board failed, 2 bad
 * usage or input (nothing was written).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "cli/opts.h"
#include "espfab/cli.h"
#include "espfab/image.h"
#include "espfab/log.h"
#include "espfab/profile.h"
#include "espfab/record.h"
#include "espfab/session.h"

/* One file to write, loaded and parsed. */
typedef struct flashjob_image {
    uint32_t offset;
    char file[1024];         /* as given (messages, record) */
    uint8_t *data;           /* owned */
    size_t len;
    espfab_image_info_t info;
} flashjob_image_t;

/* What the command was asked to do, after the profile was applied. */
typedef struct flashjob {
    espfab_cli_opts_t o;     /* after the profile's settings were applied */
    char profile_name[64];
    char profile_sha256[65];
    size_t n;
    flashjob_image_t img[ESPFAB_MAX_REGIONS];
    espfab_flash_params_t params;
    int min_rev_full, max_rev_full;   /* profile's allowed revisions, -1 = any */
} flashjob_t;

static void flashjob_free(flashjob_t *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++)
        free(j->img[i].data);
    j->n = 0;
}

static bool is_keep(const char *s)
{
    return !s || !*s || !strcasecmp(s, "keep");
}

/* The size the user says the flash has, 0 when not given ("keep"/"detect"). */
static uint32_t given_flash_size(const espfab_flash_params_t *p)
{
    if (is_keep(p->size) || !strcasecmp(p->size, "detect"))
        return 0;
    return espfab_flash_size_parse(p->size);
}

static int check_regions(const flashjob_t *j, uint32_t flash_size, espfab_fault_t *f)
{
    espfab_region_t r[ESPFAB_MAX_REGIONS];
    for (size_t i = 0; i < j->n; i++) {
        r[i].offset = j->img[i].offset;
        r[i].name = j->img[i].file;
        r[i].len = j->img[i].len;
    }
    return espfab_regions_check(r, j->n, flash_size, f);
}

/* Flash parameters valid for at least one chip when the chip is not known
 * yet (so a typo is refused before connecting). */
static int check_params_any(const espfab_flash_params_t *p, espfab_fault_t *f)
{
    int first = 0;
    for (int id = 0; id < ESPFAB_CHIP_COUNT; id++) {
        const espfab_chip_t *c = espfab_chip_get((espfab_chip_id_t)id);
        if (!c)
            continue;
        espfab_fault_t tmp;
        espfab_fault_clear(&tmp);
        int rc = espfab_flash_params_check(c, p, &tmp);
        if (rc == 0)
            return 0;
        if (!first) {
            first = rc;
            if (f)
                *f = tmp;
        }
    }
    return first;
}

static int from_profile(flashjob_t *j, espfab_fault_t *f)
{
    espfab_profile_t *p = calloc(1, sizeof(*p));
    if (!p)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "loading profile %s", j->o.profile);
    int rc = espfab_profile_load(j->o.profile, p, f);
    if (rc != 0) {
        free(p);
        return rc;
    }
    snprintf(j->profile_name, sizeof(j->profile_name), "%s", p->name);
    snprintf(j->profile_sha256, sizeof(j->profile_sha256), "%s", p->sha256);
    j->min_rev_full = p->min_rev_full;
    j->max_rev_full = p->max_rev_full;
    /* The profile's settings; options given on the command line win where
     * they differ from the default. */
    const espfab_chip_t *chip = espfab_chip_get(p->chip);
    if (j->o.chip_p && chip && j->o.chip_p != chip) {
        rc = espfab_fault_set(f, ESPFAB_E_USAGE, "--chip %s contradicts the profile %s (chip = %s)",
                              j->o.chip_p->key, j->o.profile, chip->key);
        goto out;
    }
    j->o.chip_p = chip;
    j->o.chip = chip ? chip->key : "auto";
    if (!j->o.baud)
        j->o.baud = p->baud;
    static char mode[8], freq[8], size[8], before[20], after[20];
    snprintf(mode, sizeof(mode), "%s", p->flash_mode);
    snprintf(freq, sizeof(freq), "%s", p->flash_freq);
    snprintf(size, sizeof(size), "%s", p->flash_size);
    if (is_keep(j->o.flash_mode))
        j->o.flash_mode = mode;
    if (is_keep(j->o.flash_freq))
        j->o.flash_freq = freq;
    if (is_keep(j->o.flash_size))
        j->o.flash_size = size;
    snprintf(before, sizeof(before), "%s", p->before);
    snprintf(after, sizeof(after), "%s", p->after);
    if (!strcmp(j->o.before, "auto") && espfab_cli_before_name(before))
        j->o.before = espfab_cli_before_name(before);
    if (!strcmp(j->o.after, "hard-reset") && espfab_cli_after_name(after))
        j->o.after = espfab_cli_after_name(after);
    if (!p->stub)
        j->o.no_stub = true;
    if (!p->compress)
        j->o.no_compress = true;
    if (!p->verify)
        j->o.no_verify = true;
    if (!strcmp(j->o.erase, "none"))
        j->o.erase = espfab_erase_policy_name(p->erase);
    for (size_t i = 0; i < p->nimages && i < ESPFAB_MAX_REGIONS; i++) {
        flashjob_image_t *im = &j->img[i];
        im->offset = p->images[i].offset;
        snprintf(im->file, sizeof(im->file), "%s", p->images[i].path);
        im->data = p->images[i].data; /* ownership moves to the job */
        im->len = p->images[i].size;
        im->info = p->images[i].info;
        p->images[i].data = NULL;
        j->n = i + 1;
    }
out:
    espfab_profile_free(p);
    free(p);
    return rc;
}

static int flashjob_prepare(flashjob_t *j, const espfab_cli_opts_t *o, espfab_fault_t *f)
{
    memset(j, 0, sizeof(*j));
    j->o = *o;
    j->min_rev_full = j->max_rev_full = -1;
    int rc;
    if (o->profile) {
        if (o->npos > 0)
            return espfab_fault_set(f, ESPFAB_E_USAGE,
                                    "'%s': give either --profile or OFFSET FILE pairs, not both",
                                    o->pos[0]);
        if ((rc = from_profile(j, f)) != 0)
            return rc;
    } else {
        if (o->npos == 0)
            return espfab_fault_set(f, ESPFAB_E_USAGE,
                                    "nothing to flash: give OFFSET FILE pairs (e.g. 0x1000 "
                                    "bootloader.bin 0x10000 app.bin) or --profile FILE.ini");
        if (o->npos % 2 != 0)
            return espfab_fault_set(f, ESPFAB_E_USAGE,
                                    "'%s' has no file after it: arguments are OFFSET FILE pairs",
                                    o->pos[o->npos - 1]);
        if ((size_t)o->npos / 2 > ESPFAB_MAX_REGIONS)
            return espfab_fault_set(f, ESPFAB_E_USAGE, "%d files given; at most %d per board",
                                    o->npos / 2, ESPFAB_MAX_REGIONS);
        for (int i = 0; i < o->npos; i += 2) {
            flashjob_image_t *im = &j->img[j->n];
            const char *off = o->pos[i], *file = o->pos[i + 1];
            if (espfab_cli_parse_u32(off, &im->offset) != 0) {
                rc = espfab_fault_set(f, ESPFAB_E_USAGE,
                                      "'%s' (before %s) is not a flash offset: use hex (0x10000) or "
                                      "decimal; arguments are OFFSET FILE pairs",
                                      off, file);
                goto fail;
            }
            snprintf(im->file, sizeof(im->file), "%s", file);
            if ((rc = espfab_image_load(file, &im->data, &im->len, f)) != 0)
                goto fail;
            j->n++;
            if (im->len == 0) {
                rc = espfab_fault_set(f, ESPFAB_E_IMAGE_EMPTY, "%s (for 0x%X) is empty: 0 bytes", file,
                                      im->offset);
                goto fail;
            }
            rc = espfab_image_parse(im->data, im->len, file, &im->info, f);
            if (rc != 0 && !o->force)
                goto fail;
            if (rc != 0) {
                fprintf(stderr, "warning (--force): %s\n", f ? f->detail : file);
                memset(&im->info, 0, sizeof(im->info));
                im->info.format = ESPFAB_IMAGE_RAW;
                im->info.chip = ESPFAB_CHIP_UNKNOWN;
            }
        }
    }
    j->params.mode = j->o.flash_mode;
    j->params.freq = j->o.flash_freq;
    j->params.size = j->o.flash_size;

    if (j->o.chip_p) {
        if ((rc = espfab_flash_params_check(j->o.chip_p, &j->params, f)) != 0)
            goto fail;
        if (!o->force)
            for (size_t i = 0; i < j->n; i++)
                if ((rc = espfab_image_check_chip_on(&j->img[i].info, j->img[i].file, NULL, j->o.chip_p,
                                                     -1, f)) != 0)
                {
                    if (f) {
                        size_t l = strlen(f->detail);
                        snprintf(f->detail + l, sizeof(f->detail) - l, " (--chip %s)", j->o.chip_p->key);
                    }
                    goto fail;
                }
    } else if ((rc = check_params_any(&j->params, f)) != 0) {
        if (f) {
            size_t l = strlen(f->detail);
            snprintf(f->detail + l, sizeof(f->detail) - l, " (no chip accepts it; give --chip for that chip's list)");
        }
        goto fail;
    }
    if ((rc = check_regions(j, given_flash_size(&j->params), f)) != 0)
        goto fail;
    return 0;
fail:
    flashjob_free(j);
    return rc;
}

static int flashjob_check_board(const flashjob_t *j, const char *port,
                                const espfab_chip_t *chip, int rev_full, uint32_t flash_size,
                                espfab_fault_t *f)
{
    int rc;
    if (j->o.chip_p && chip && j->o.chip_p != chip)
        return espfab_fault_set(f, ESPFAB_E_CHIP_MISMATCH, "the board on %s is an %s, not an %s (--chip %s)",
                                port, chip->name, j->o.chip_p->name, j->o.chip_p->key);
    if (!j->o.force)
        for (size_t i = 0; i < j->n; i++)
            if ((rc = espfab_image_check_chip_on(&j->img[i].info, j->img[i].file, port, chip, rev_full,
                                                 f)) != 0)
                return rc;
    if ((rc = espfab_flash_params_check(chip, &j->params, f)) != 0)
        return rc;
    uint32_t size = given_flash_size(&j->params);
    if (!size)
        size = flash_size;
    return check_regions(j, size, f);
}

/* ---- one board ---------------------------------------------------------- */

typedef struct flash_ctx {
    flashjob_t *j;
    espfab_progress_t prog;
    bool identified;             /* chip known: our board checks have run */
    bool refused;                /* our own check refused the board: cancelled */
    espfab_fault_t refusal;
    char labels[ESPFAB_MAX_REGIONS][96];
} flash_ctx_t;

/* Runs our own board checks once the chip (and flash size) are known, before
 * the session's CHECK state lets any flash command out: if they refuse, the
 * session is cancelled and our fault is reported (exit 2). */
static void on_flash_event(espfab_session_t *s, const espfab_session_ev_t *ev, void *data)
{
    flash_ctx_t *c = data;
    switch (ev->kind) {
    case ESPFAB_SESSION_EV_STATE:
        if (!c->identified && ev->new_state >= ESPFAB_SS_CHECK && ev->new_state != ESPFAB_SS_DONE) {
            c->identified = true;
            const espfab_chip_t *chip = espfab_session_chip(s);
            const espfab_attempt_t *a = espfab_session_record(s);
            espfab_fault_clear(&c->refusal);
            if (chip && a &&
                flashjob_check_board(c->j, c->j->o.port, chip, a->rev_full, a->flash_size, &c->refusal) != 0) {
                c->refused = true;
                espfab_session_cancel(s);
            }
        }
        break;
    case ESPFAB_SESSION_EV_PROGRESS:
        if (ev->region >= 0 && (size_t)ev->region < c->j->n)
            espfab_progress_update(&c->prog, ev->region, c->labels[ev->region], ev->done, ev->total);
        break;
    case ESPFAB_SESSION_EV_NOTE:
        if (ev->note) {
            espfab_progress_break(&c->prog);
            fprintf(stderr, "%s: %s\n", c->j->o.port, ev->note);
        }
        break;
    case ESPFAB_SESSION_EV_DONE:
        espfab_progress_break(&c->prog);
        break;
    }
}

static espfab_reset_t before_value(const char *name)
{
    if (!strcmp(name, "classic"))
        return ESPFAB_RESET_CLASSIC;
    if (!strcmp(name, "tight"))
        return ESPFAB_RESET_TIGHT;
    if (!strcmp(name, "usb-jtag"))
        return ESPFAB_RESET_USB_JTAG;
    if (!strcmp(name, "none"))
        return ESPFAB_RESET_NONE;
    return ESPFAB_RESET_AUTO;
}

/* Faults that mean "the input was wrong for this board" (exit 2) rather
 * than "the board failed" (exit 1). */
static bool is_input_fault(int code)
{
    int n = espfab_err_number(code);
    return (n >= 400 && n < 500) || code == ESPFAB_E_USAGE;
}

static int flash_board(flashjob_t *j)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        fprintf(stderr, "espfab flash: could not create the event loop\n");
        return 1;
    }
    espfab_blob_cache_t *cache = espfab_blob_cache_new(&loop);
    espfab_session_region_t regions[ESPFAB_MAX_REGIONS];
    flash_ctx_t *c = calloc(1, sizeof(*c));
    espfab_attempt_t *rec = calloc(1, sizeof(*rec));
    int status = 1;
    if (!cache || !c || !rec) {
        fprintf(stderr, "espfab flash: out of memory\n");
        goto out;
    }
    c->j = j;
    espfab_progress_init(&c->prog, stderr);
    uint64_t total = 0;
    for (size_t i = 0; i < j->n; i++) {
        regions[i].offset = j->img[i].offset;
        regions[i].name = j->img[i].file;
        regions[i].blob = espfab_blob_intern(cache, j->img[i].data, j->img[i].len);
        j->img[i].data = NULL; /* the cache owns the bytes now */
        if (!regions[i].blob) {
            fprintf(stderr, "espfab flash: out of memory\n");
            for (size_t k = 0; k < i; k++)
                espfab_blob_unref(cache, regions[k].blob);
            goto out;
        }
        const char *base = strrchr(j->img[i].file, '/');
        snprintf(c->labels[i], sizeof(c->labels[i]), "0x%05X %.80s", j->img[i].offset,
                 base ? base + 1 : j->img[i].file);
        total += j->img[i].len;
    }

    espfab_session_opts_t so;
    espfab_session_opts_init(&so);
    so.port = j->o.port;
    if (j->o.baud)
        so.baud = j->o.baud;
    so.chip = j->o.chip_p ? j->o.chip_p->id : ESPFAB_CHIP_UNKNOWN;
    so.before = before_value(j->o.before);
    so.after = !strcmp(j->o.after, "no-reset") ? ESPFAB_AFTER_NO_RESET : ESPFAB_AFTER_HARD_RESET;
    so.no_stub = j->o.no_stub;
    so.no_compress = j->o.no_compress;
    so.erase = !strcmp(j->o.erase, "all") ? ESPFAB_ERASE_ALL
               : !strcmp(j->o.erase, "regions") ? ESPFAB_ERASE_REGIONS : ESPFAB_ERASE_NONE;
    so.no_verify = j->o.no_verify;
    so.flash = j->params;
    so.force = j->o.force;
    so.min_rev_full = j->min_rev_full;
    so.max_rev_full = j->max_rev_full;
    so.stub_dir = j->o.stub_dir;
    so.usb_vid = j->o.usb_vid;
    so.usb_pid = j->o.usb_pid;
    so.cache = cache;
    so.regions = regions;
    so.nregions = j->n;

    fprintf(stderr, "%s: writing %zu file%s (%llu bytes)%s%s\n", j->o.port, j->n, j->n == 1 ? "" : "s",
            (unsigned long long)total, j->o.no_stub ? ", ROM loader" : "",
            j->o.no_compress ? ", uncompressed" : "");
    int outcome = espfab_cli_session_run(&loop, &so, on_flash_event, c, rec);
    for (size_t i = 0; i < j->n; i++)
        espfab_blob_unref(cache, regions[i].blob);

    char line[1024];
    if (c->refused) {
        fprintf(stderr, "espfab flash: FAIL %s: %s (nothing was written) [E%d %s]\n", j->o.port,
                espfab_fault_format(&c->refusal, line, sizeof(line)),
                espfab_err_number(c->refusal.code), espfab_err_name(c->refusal.code));
        status = 2;
    } else if (outcome == ESPFAB_OUTCOME_PASS) {
        /* a pass is verified, or unverified because --no-verify said so (the
         * session fails a write it cannot verify: UNVERIFIABLE) */
        const char *mac = rec->mac[0] ? rec->mac : "(MAC not read)";
        fprintf(stdout, "espfab flash: PASS %s: %s %s, %zu region%s written%s (%llu bytes)\n", j->o.port,
                rec->chip, mac, j->n, j->n == 1 ? "" : "s",
                j->o.no_verify ? ", NOT verified (--no-verify)" : " and verified", (unsigned long long)total);
        status = 0;
    } else {
        int written = 0;
        for (int i = 0; i < rec->nregions; i++)
            written += rec->regions[i].written;
        const char *ename = espfab_err_name(rec->fault.code);
        fprintf(stderr, "espfab flash: %s %s%s%s: %s (%d of %zu regions written) [E%d %s]\n",
                outcome == ESPFAB_OUTCOME_INTERRUPTED ? "INTERRUPTED" : "FAIL", j->o.port,
                rec->mac[0] ? " " : "", rec->mac, espfab_fault_format(&rec->fault, line, sizeof(line)), written,
                j->n, espfab_err_number(rec->fault.code), ename ? ename : "?");
        status = is_input_fault(rec->fault.code) && written == 0 ? 2 : 1;
    }
out:
    free(rec);
    free(c);
    espfab_blob_cache_free(cache);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return status;
}

/* ---- the command --------------------------------------------------------- */

static void usage(FILE *out)
{
    char opts[4096];
    espfab_cli_opts_help(ESPFAB_OPT_FLASH, opts, sizeof(opts));
    fprintf(out,
            "usage: espfab flash --port PORT [options] OFFSET FILE [OFFSET FILE...]\n"
            "       espfab flash --port PORT --profile FILE.ini [options]\n"
            "\n"
            "Writes each FILE at OFFSET (hex 0x10000 or decimal), verifies it by MD5 and\n"
            "resets the board into its application.  Files, offsets and the images' chip\n"
            "are checked before the board is touched.\n"
            "\noptions:\n%s"
            "\nexit status: 0 written and verified, 1 the board failed, 2 bad usage or input\n",
            opts);
}

static int report_input_fault(const espfab_fault_t *f)
{
    char line[1024];
    fprintf(stderr, "espfab flash: %s\n", espfab_fault_format(f, line, sizeof(line)));
    return 2;
}

int espfab_cli_flash(int argc, char **argv)
{
    /* The final line says what failed; the session's own warnings would repeat it. */
    if (!getenv("ESPFAB_LOG"))
        espfab_log_set_level(ESPFAB_LOG_ERROR);
    espfab_cli_opts_t o;
    char err[512];
    if (espfab_cli_opts_parse(argc, argv, ESPFAB_OPT_FLASH, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "espfab flash: %s\n(see `espfab flash --help`)\n", err);
        return 2;
    }
    if (o.help) {
        usage(stdout);
        return 0;
    }
    if (!o.port) {
        fprintf(stderr, "espfab flash: --port is required (a serial port such as /dev/ttyUSB0, a pty, "
                        "or tcp://HOST:PORT; `espfab ports` lists them)\n");
        return 2;
    }
    flashjob_t *j = calloc(1, sizeof(*j));
    if (!j)
        return 1;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (flashjob_prepare(j, &o, &f) != 0) {
        free(j);
        return report_input_fault(&f);
    }
    int rc = flash_board(j);
    flashjob_free(j);
    free(j);
    return rc;
}

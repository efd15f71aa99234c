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

#include <uv.h>

#include "cli/opts.h"
#include "espfab/cli.h"
#include "espfab/image.h"
#include "espfab/job.h"
#include "espfab/log.h"
#include "espfab/num.h"
#include "espfab/profile.h"
#include "espfab/record.h"
#include "espfab/session.h"

/* What the command was asked to do: the typed job, and the bytes and names
 * it points at (a profile's, or the files named on the command line). */
typedef struct flashjob {
    espfab_cli_opts_t o;
    espfab_profile_t *profile;                     /* --profile: owned */
    char file[ESPFAB_MAX_REGIONS][1024];           /* OFFSET FILE pairs: as given */
    uint8_t *data[ESPFAB_MAX_REGIONS];             /* OFFSET FILE pairs: owned */
    espfab_job_t job;
} flashjob_t;

static void flashjob_free(flashjob_t *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < ESPFAB_MAX_REGIONS; i++) {
        free(j->data[i]);
        j->data[i] = NULL;
    }
    if (j->profile) {
        espfab_profile_free(j->profile);
        free(j->profile);
        j->profile = NULL;
    }
    j->job.nregions = 0;
}

/* chip NULL: not known yet (the layout rules that need it wait for the
 * board).  A profile's own load checked its declared kinds; OFFSET FILE
 * pairs declare none. */
static int check_regions(const espfab_job_t *job, const espfab_chip_t *chip, uint32_t flash_size,
                         espfab_fault_t *f)
{
    espfab_region_t r[ESPFAB_MAX_REGIONS];
    const uint8_t *bytes[ESPFAB_MAX_REGIONS];
    for (size_t i = 0; i < job->nregions; i++) {
        r[i].offset = job->regions[i].offset;
        r[i].name = job->regions[i].name;
        r[i].len = job->regions[i].len;
        bytes[i] = job->regions[i].data;
    }
    int rc = espfab_regions_check(r, job->nregions, flash_size, f);
    if (rc == 0)
        rc = espfab_regions_check_layout(r, bytes, NULL, job->nregions, chip, flash_size,
                                         job->force ? ESPFAB_LAYOUT_FORCE
                                         : job->profile_name && job->profile_name[0]
                                             ? ESPFAB_LAYOUT_KINDS_UNKNOWN
                                             : ESPFAB_LAYOUT_DEFAULT_APP,
                                         NULL, f);
    return rc;
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
    j->profile = calloc(1, sizeof(*j->profile));
    if (!j->profile)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "loading profile %s", j->o.profile);
    int rc = espfab_profile_load(j->o.profile, j->profile, f);
    if (rc != 0)
        return rc;
    espfab_job_from_profile(&j->job, j->profile);
    return 0;
}

static int from_files(flashjob_t *j, espfab_fault_t *f)
{
    const espfab_cli_opts_t *o = &j->o;
    if (o->npos == 0)
        return espfab_fault_set(f, ESPFAB_E_USAGE,
                                "nothing to flash: give OFFSET FILE pairs (e.g. 0x1000 "
                                "bootloader.bin 0x10000 app.bin) or --profile FILE.ini");
    if (o->npos % 2 != 0) {
        /* A file where an offset should be: its offset was left out. */
        uint32_t off;
        for (int i = 0; i < o->npos; i += 2)
            if (espfab_num_parse_u32(o->pos[i], &off) != 0)
                return espfab_fault_set(f, ESPFAB_E_USAGE,
                                        "the flash offset of '%s' is missing: arguments are "
                                        "OFFSET FILE pairs, e.g. espfab flash --port %s 0x10000 %s",
                                        o->pos[i], o->port ? o->port : "P", o->pos[i]);
        return espfab_fault_set(f, ESPFAB_E_USAGE,
                                "'%s' has no file after it: arguments are OFFSET FILE pairs",
                                o->pos[o->npos - 1]);
    }
    if ((size_t)o->npos / 2 > ESPFAB_MAX_REGIONS)
        return espfab_fault_set(f, ESPFAB_E_USAGE, "%d files given; at most %d per board",
                                o->npos / 2, ESPFAB_MAX_REGIONS);
    espfab_job_init(&j->job);
    for (int i = 0; i < o->npos; i += 2) {
        size_t k = (size_t)i / 2;
        const char *off = o->pos[i], *file = o->pos[i + 1];
        uint32_t offset;
        size_t len;
        espfab_image_info_t info;
        int rc;
        if (espfab_num_parse_u32(off, &offset) != 0)
            return espfab_fault_set(f, ESPFAB_E_USAGE,
                                    "'%s' (before %s) is not a flash offset: use hex (0x10000) or "
                                    "decimal; arguments are OFFSET FILE pairs",
                                    off, file);
        snprintf(j->file[k], sizeof(j->file[k]), "%s", file);
        if ((rc = espfab_image_load(file, &j->data[k], &len, f)) != 0)
            return rc;
        if (len == 0)
            return espfab_fault_set(f, ESPFAB_E_IMAGE_EMPTY, "%s (for 0x%X) is empty: 0 bytes", file,
                                    offset);
        rc = espfab_image_parse(j->data[k], len, file, &info, f);
        if (rc != 0 && !o->force)
            return rc;
        if (rc != 0)
            fprintf(stderr, "warning (--force): %s\n", f ? f->detail : file);
        if ((rc = espfab_job_add_region(&j->job, offset, j->file[k], j->data[k], len,
                                        rc == 0 ? &info : NULL, f)) != 0)
            return rc;
    }
    return 0;
}

/* Appends " (--chip esp32)" to a refusal that names the expected chip. */
static void append_chip(espfab_fault_t *f, const espfab_chip_t *chip)
{
    if (f) {
        size_t l = strlen(f->detail);
        snprintf(f->detail + l, sizeof(f->detail) - l, " (--chip %s)", chip->key);
    }
}

static int flashjob_prepare(flashjob_t *j, const espfab_cli_opts_t *o, espfab_fault_t *f)
{
    memset(j, 0, sizeof(*j));
    j->o = *o;
    int rc;
    if (o->profile && o->npos > 0)
        return espfab_fault_set(f, ESPFAB_E_USAGE,
                                "'%s': give either --profile or OFFSET FILE pairs, not both",
                                o->pos[0]);
    rc = o->profile ? from_profile(j, f) : from_files(j, f);
    if (rc == 0)
        rc = espfab_job_from_cli(&j->job, o, f);
    if (rc != 0)
        goto fail;

    const espfab_job_t *job = &j->job;
    const espfab_chip_t *chip = espfab_chip_get(job->chip);
    if (chip) {
        if ((rc = espfab_flash_params_check(chip, &job->flash, f)) != 0)
            goto fail;
        if (!job->force)
            for (size_t i = 0; i < job->nregions; i++)
                if ((rc = espfab_image_check_chip_on(&job->regions[i].info, job->regions[i].name, NULL,
                                                     chip, -1, f)) != 0)
                {
                    append_chip(f, chip);
                    goto fail;
                }
    } else if ((rc = check_params_any(&job->flash, f)) != 0) {
        if (f) {
            size_t l = strlen(f->detail);
            snprintf(f->detail + l, sizeof(f->detail) - l, " (no chip accepts it; give --chip for that chip's list)");
        }
        goto fail;
    }
    if ((rc = check_regions(job, chip, espfab_flash_params_size(&job->flash), f)) != 0)
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
    const espfab_job_t *job = &j->job;
    const espfab_chip_t *want = espfab_chip_get(job->chip);
    if (want && chip && want != chip)
        return espfab_fault_set(f, ESPFAB_E_CHIP_MISMATCH, "the board on %s is an %s, not an %s (--chip %s)",
                                port, chip->name, want->name, want->key);
    if (!job->force)
        for (size_t i = 0; i < job->nregions; i++)
            if ((rc = espfab_image_check_chip_on(&job->regions[i].info, job->regions[i].name, port, chip,
                                                 rev_full, f)) != 0)
                return rc;
    if ((rc = espfab_flash_params_check(chip, &job->flash, f)) != 0)
        return rc;
    uint32_t size = espfab_flash_params_size(&job->flash);
    if (!size)
        size = flash_size;
    return check_regions(job, chip, size, f);
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
        if (ev->region >= 0 && (size_t)ev->region < c->j->job.nregions)
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
    espfab_job_t *job = &j->job;
    espfab_blob_cache_t *cache = espfab_blob_cache_new(&loop);
    flash_ctx_t *c = calloc(1, sizeof(*c));
    espfab_attempt_t *rec = calloc(1, sizeof(*rec));
    int status = 1;
    if (!cache || !c || !rec || espfab_job_intern(job, cache, NULL) != 0) {
        fprintf(stderr, "espfab flash: out of memory\n");
        goto out;
    }
    c->j = j;
    espfab_progress_init(&c->prog, stderr);
    uint64_t total = 0;
    for (size_t i = 0; i < job->nregions; i++) {
        const char *base = strrchr(job->regions[i].name, '/');
        snprintf(c->labels[i], sizeof(c->labels[i]), "0x%05X %.80s", job->regions[i].offset,
                 base ? base + 1 : job->regions[i].name);
        total += job->regions[i].len;
    }

    espfab_session_opts_t so;
    espfab_session_opts_init(&so);
    espfab_job_session_opts(job, &so);
    so.port = j->o.port;
    so.stub_dir = j->o.stub_dir;
    so.cache = cache;

    size_t n = job->nregions;
    fprintf(stderr, "%s: writing %zu file%s (%llu bytes)%s%s\n", j->o.port, n, n == 1 ? "" : "s",
            (unsigned long long)total, job->no_stub ? ", ROM loader" : "",
            job->no_compress ? ", uncompressed" : "");
    int outcome = espfab_cli_session_run(&loop, &so, on_flash_event, c, rec);
    espfab_job_release(job, cache);

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
                rec->chip, mac, n, n == 1 ? "" : "s",
                job->no_verify ? ", NOT verified (--no-verify)" : " and verified", (unsigned long long)total);
        status = 0;
    } else {
        int written = 0;
        for (int i = 0; i < rec->nregions; i++)
            written += rec->regions[i].written;
        const char *ename = espfab_err_name(rec->fault.code);
        fprintf(stderr, "espfab flash: %s %s%s%s: %s (%d of %zu regions written) [E%d %s]\n",
                outcome == ESPFAB_OUTCOME_INTERRUPTED ? "INTERRUPTED" : "FAIL", j->o.port,
                rec->mac[0] ? " " : "", rec->mac, espfab_fault_format(&rec->fault, line, sizeof(line)), written,
                n, espfab_err_number(rec->fault.code), ename ? ename : "?");
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
            "usage: espfab flash [--port PORT] [options] OFFSET FILE [OFFSET FILE...]\n"
            "       espfab flash [--port PORT] --profile FILE.ini [options]\n"
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
    char port_buf[256];
    if (espfab_cli_port_resolve(&o, port_buf, sizeof(port_buf)) != 0)
        return 2;
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

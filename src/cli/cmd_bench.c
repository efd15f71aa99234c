/*
 * cmd_bench.c - the rework bench's commands, each one bootloader session
 * with its task (session.h):
 *
 *   espfab read-flash --port P OFFSET SIZE OUT   read flash into a file (MD5-checked)
 *   espfab erase --port P --all | OFFSET SIZE... erase the whole flash or sectors (stub)
 *   espfab verify --port P OFFSET FILE...        compare flash with files by MD5 only
 *
 * Arguments are checked before the board is touched.  With --db FILE the
 * operation is recorded like a flash: a run whose mode is the command's
 * name, and one attempt row (outcome, fault, the message saying what was
 * done, the regions read or verified).  Exit status: 0 done, 1 the board
 * failed (or differs, for verify), 2 bad usage or input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "cli/opts.h"
#include "espfab/cli.h"
#include "espfab/image.h"
#include "espfab/job.h"
#include "espfab/log.h"
#include "espfab/num.h"
#include "espfab/record.h"
#include "espfab/session.h"
#include "espfab/store.h"

#define READ_MAX (256u << 20) /* the largest flash any supported chip addresses */
#define SECTOR 4096u         /* the flash erase unit */

typedef struct bench {
    const char *cmd;                      /* "read-flash", "erase", "verify" */
    espfab_cli_opts_t o;
    espfab_job_t job;
    uint8_t *data[ESPFAB_MAX_REGIONS];    /* verify: the files, owned */
    uint8_t *read_buf;                    /* read-flash: owned */
    const char *out;                      /* read-flash: the file to write */
    espfab_progress_t prog;
    char label[96];
} bench_t;

static void bench_free(bench_t *b)
{
    for (size_t i = 0; i < ESPFAB_MAX_REGIONS; i++)
        free(b->data[i]);
    free(b->read_buf);
    free(b);
}

static int usage_fault(espfab_fault_t *f, const char *fmt, const char *a, const char *b)
{
    return espfab_fault_set(f, ESPFAB_E_USAGE, fmt, a, b);
}

/* OFFSET or SIZE: hex (0x1000) or decimal. */
static int parse_num(const char *what, const char *text, uint32_t *v, espfab_fault_t *f)
{
    if (espfab_num_parse_u32(text, v) != 0)
        return usage_fault(f, "'%s' is not a %s: use hex (0x1000) or decimal", text, what);
    return 0;
}

/* ---- the arguments, per command ------------------------------------------- */

static int args_read(bench_t *b, espfab_fault_t *f)
{
    const espfab_cli_opts_t *o = &b->o;
    if (o->npos != 3)
        return espfab_fault_set(f, ESPFAB_E_USAGE,
                                "read-flash takes OFFSET SIZE OUT (e.g. 0x0 0x400000 dump.bin); %d argument%s given",
                                o->npos, o->npos == 1 ? "" : "s");
    uint32_t off, size;
    int rc;
    if ((rc = parse_num("flash offset", o->pos[0], &off, f)) != 0 || (rc = parse_num("size", o->pos[1], &size, f)) != 0)
        return rc;
    if (size == 0 || size > READ_MAX || (uint64_t)off + size > READ_MAX)
        return espfab_fault_set(f, ESPFAB_E_USAGE,
                                "SIZE %s at %s: give 1 byte to 256 MiB inside the flash (e.g. 0x400000 for 4 MiB)",
                                o->pos[1], o->pos[0]);
    b->out = o->pos[2];
    /* the output's folder must take it: found now, not after the read */
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", b->out);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    if (access(slash ? dir : ".", W_OK) != 0)
        return espfab_fault_set(f, ESPFAB_E_USAGE, "cannot write %s: its folder %s: %s", b->out, slash ? dir : ".",
                                strerror(errno));
    b->read_buf = malloc(size);
    if (!b->read_buf)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%u bytes for the read", (unsigned)size);
    b->job.task = ESPFAB_TASK_READ;
    b->job.read_offset = off;
    b->job.read_size = size;
    return 0;
}

static int args_erase(bench_t *b, espfab_fault_t *f)
{
    const espfab_cli_opts_t *o = &b->o;
    if (o->no_stub)
        return espfab_fault_set(f, ESPFAB_E_USAGE,
                                "--no-stub: erasing needs the flasher stub (the ROM loader has no erase command)");
    if (o->all == (o->npos > 0))
        return espfab_fault_set(f, ESPFAB_E_USAGE,
                                o->all ? "give either --all or OFFSET SIZE pairs, not both"
                                       : "nothing to erase: give --all (the whole flash) or OFFSET SIZE pairs");
    b->job.task = ESPFAB_TASK_ERASE;
    if (o->all) {
        b->job.erase = ESPFAB_ERASE_ALL;
        return 0;
    }
    if (o->npos % 2 != 0)
        return usage_fault(f, "'%s' has no SIZE after it: arguments are OFFSET SIZE pairs%s", o->pos[o->npos - 1], "");
    b->job.erase = ESPFAB_ERASE_REGIONS;
    for (int i = 0; i < o->npos; i += 2) {
        uint32_t off, size;
        int rc;
        if ((rc = parse_num("flash offset", o->pos[i], &off, f)) != 0 ||
            (rc = parse_num("size", o->pos[i + 1], &size, f)) != 0)
            return rc;
        if (off % SECTOR || size % SECTOR || size == 0)
            return usage_fault(f, "%s %s: the flash erases 4096-byte sectors: give an offset and a size that are "
                                  "multiples of 0x1000",
                               o->pos[i], o->pos[i + 1]);
        if ((rc = espfab_job_add_region(&b->job, off, NULL, NULL, size, NULL, f)) != 0)
            return rc;
    }
    return 0;
}

static int args_verify(bench_t *b, espfab_fault_t *f)
{
    const espfab_cli_opts_t *o = &b->o;
    if (o->npos == 0 || o->npos % 2 != 0)
        return usage_fault(f, "verify takes OFFSET FILE pairs (e.g. 0x10000 app.bin)%s%s",
                           o->npos ? "; the last has no file: " : "", o->npos ? o->pos[o->npos - 1] : "");
    b->job.task = ESPFAB_TASK_VERIFY;
    for (int i = 0; i < o->npos; i += 2) {
        size_t k = (size_t)i / 2;
        uint32_t off;
        size_t len;
        int rc;
        if (k >= ESPFAB_MAX_REGIONS)
            return usage_fault(f, "too many files (at most %s) from %s on", "8", o->pos[i + 1]);
        if ((rc = parse_num("flash offset", o->pos[i], &off, f)) != 0)
            return rc;
        if ((rc = espfab_image_load(o->pos[i + 1], &b->data[k], &len, f)) != 0)
            return rc;
        if (len == 0)
            return usage_fault(f, "%s (for %s) is empty: 0 bytes", o->pos[i + 1], o->pos[i]);
        if ((rc = espfab_job_add_region(&b->job, off, o->pos[i + 1], b->data[k], len, NULL, f)) != 0)
            return rc;
    }
    return 0;
}

/* ---- the record ------------------------------------------------------------- */

typedef struct bench_db {
    espfab_store_t *st;
    espfab_run_t run;
    espfab_attempt_t *a;
} bench_db_t;

static int db_begin(bench_t *b, bench_db_t *d, espfab_fault_t *f)
{
    int rc = espfab_store_open(b->o.db, 0, &d->st, NULL, f);
    if (rc != 0)
        return rc;
    memset(&d->run, 0, sizeof(d->run));
    snprintf(d->run.mode, sizeof(d->run.mode), "%s", b->cmd);
    if ((rc = espfab_store_run_begin(d->st, &d->run, f)) != 0)
        return rc;
    espfab_attempt_init(d->a);
    snprintf(d->a->port, sizeof(d->a->port), "%s", b->o.port);
    d->a->outcome = ESPFAB_OUTCOME_RUNNING;
    snprintf(d->a->message, sizeof(d->a->message), "%s running", b->cmd);
    return espfab_store_attempt_begin(d->st, d->run.id, d->a, f);
}

/* The session's record into the attempt row begun for it. */
static int db_finish(bench_db_t *d, const espfab_attempt_t *rec, espfab_fault_t *f)
{
    int64_t id = d->a->id;
    *d->a = *rec;
    d->a->id = id;
    int rc = espfab_store_attempt_finish(d->st, d->a, f);
    if (rc == 0)
        rc = espfab_store_run_end(d->st, d->run.id, 0, f);
    return rc;
}

/* ---- one board ---------------------------------------------------------------- */

static void on_event(espfab_session_t *s, const espfab_session_ev_t *ev, void *data)
{
    (void)s;
    bench_t *b = data;
    if (ev->kind == ESPFAB_SESSION_EV_PROGRESS)
        espfab_progress_update(&b->prog, 0, b->label, ev->done, ev->total);
    else if (ev->kind == ESPFAB_SESSION_EV_NOTE && ev->note) {
        espfab_progress_break(&b->prog);
        fprintf(stderr, "%s: %s\n", b->o.port, ev->note);
    } else if (ev->kind == ESPFAB_SESSION_EV_DONE)
        espfab_progress_break(&b->prog);
}

static int write_out(bench_t *b, espfab_attempt_t *rec)
{
    FILE *fp = fopen(b->out, "wb");
    size_t n = b->job.read_size;
    if (!fp || fwrite(b->read_buf, 1, n, fp) != n || fclose(fp) != 0) {
        int e = errno;
        fprintf(stderr, "espfab %s: the board was read, but %s could not be written: %s\n", b->cmd, b->out,
                strerror(e));
        return 1;
    }
    snprintf(rec->regions[0].file, sizeof(rec->regions[0].file), "%s", b->out);
    return 0;
}

#define DIFF_MAX (64u * 1024u) /* verify: a file up to this size is read back to find its first difference */

/* verify failed on a small region: read it back (a second session) and name
 * the first differing offset in the record's message and fault. */
static void find_difference(bench_t *b, uv_loop_t *loop, const espfab_session_opts_t *so, espfab_attempt_t *rec)
{
    int k = -1;
    for (int i = 0; i < rec->nregions && k < 0; i++)
        if (rec->regions[i].md5_device[0] && strcmp(rec->regions[i].md5_device, rec->regions[i].md5_expected) != 0)
            k = i;
    if (k < 0 || (size_t)k >= b->job.nregions || b->job.regions[k].len > DIFF_MAX)
        return;
    const espfab_job_region_t *jr = &b->job.regions[k];
    uint8_t *buf = malloc(jr->len);
    espfab_attempt_t *rd = calloc(1, sizeof(*rd));
    if (!buf || !rd)
        goto out;
    espfab_session_opts_t ro = *so;
    ro.task = ESPFAB_TASK_READ;
    ro.regions = NULL;
    ro.nregions = 0;
    ro.read_offset = jr->offset;
    ro.read_size = (uint32_t)jr->len;
    ro.read_out = buf;
    fprintf(stderr, "%s: reading %s's region back to find the first difference\n", b->o.port, jr->name);
    if (espfab_cli_session_run(loop, &ro, NULL, NULL, rd) != ESPFAB_OUTCOME_PASS) {
        fprintf(stderr, "%s: the read-back failed too: %s\n", b->o.port, rd->message);
        goto out;
    }
    for (size_t i = 0; i < jr->len; i++) {
        if (buf[i] == jr->data[i])
            continue;
        char more[160];
        snprintf(more, sizeof(more), "; first difference at 0x%zx (flash 0x%02x, file 0x%02x)", jr->offset + i,
                 buf[i], jr->data[i]);
        size_t l = strlen(rec->message);
        snprintf(rec->message + l, sizeof(rec->message) - l, "%s", more);
        l = strlen(rec->fault.detail);
        snprintf(rec->fault.detail + l, sizeof(rec->fault.detail) - l, "%s", more);
        break;
    }
out:
    free(buf);
    free(rd);
}

static int run_board(bench_t *b)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        fprintf(stderr, "espfab %s: could not create the event loop\n", b->cmd);
        return 1;
    }
    espfab_blob_cache_t *cache = espfab_blob_cache_new(&loop);
    espfab_attempt_t *rec = calloc(1, sizeof(*rec));
    bench_db_t d = {.st = NULL, .a = calloc(1, sizeof(espfab_attempt_t))};
    espfab_fault_t f;
    espfab_fault_clear(&f);
    char line[1024];
    int status = 1;
    /* an erase's regions are ranges: no bytes to intern */
    if (!cache || !rec || !d.a || (b->job.task != ESPFAB_TASK_ERASE && espfab_job_intern(&b->job, cache, &f) != 0)) {
        fprintf(stderr, "espfab %s: out of memory\n", b->cmd);
        goto out;
    }
    if (b->o.db && db_begin(b, &d, &f) != 0) {
        fprintf(stderr, "espfab %s: %s (nothing was sent to the board)\n", b->cmd,
                espfab_fault_format(&f, line, sizeof(line)));
        status = 2;
        goto out;
    }
    espfab_session_opts_t so;
    espfab_session_opts_init(&so);
    espfab_job_session_opts(&b->job, &so);
    so.port = b->o.port;
    so.stub_dir = b->o.stub_dir;
    so.cache = cache;
    so.read_out = b->read_buf;
    espfab_progress_init(&b->prog, stderr);
    if (b->job.task == ESPFAB_TASK_READ)
        snprintf(b->label, sizeof(b->label), "0x%05X %.80s", b->job.read_offset, b->out);
    int outcome = espfab_cli_session_run(&loop, &so, on_event, b, rec);
    if (outcome == ESPFAB_OUTCOME_FAIL && rec->fault.code == ESPFAB_E_FLASH_DIFFERS)
        find_difference(b, &loop, &so, rec);
    espfab_job_release(&b->job, cache);
    if (outcome == ESPFAB_OUTCOME_PASS) {
        status = b->job.task == ESPFAB_TASK_READ ? write_out(b, rec) : 0;
        if (status == 0)
            printf("espfab %s: %s %s\n", b->cmd, b->o.port, rec->message);
    } else {
        const char *ename = espfab_err_name(rec->fault.code);
        fprintf(stderr, "espfab %s: %s %s%s%s: %s [E%d %s]\n", b->cmd,
                outcome == ESPFAB_OUTCOME_INTERRUPTED ? "INTERRUPTED" : "FAIL", b->o.port, rec->mac[0] ? " " : "",
                rec->mac, espfab_fault_format(&rec->fault, line, sizeof(line)), espfab_err_number(rec->fault.code),
                ename ? ename : "?");
    }
    if (d.st) {
        espfab_fault_clear(&f);
        if (db_finish(&d, rec, &f) != 0) {
            fprintf(stderr, "espfab %s: recording in %s failed: %s\n", b->cmd, b->o.db,
                    espfab_fault_format(&f, line, sizeof(line)));
            status = 1;
        } else {
            fprintf(stderr, "%s: recorded as attempt %lld in %s\n", b->o.port, (long long)d.a->id, b->o.db);
        }
    }
out:
    if (d.st)
        espfab_store_close(d.st);
    free(d.a);
    free(rec);
    espfab_blob_cache_free(cache);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return status;
}

/* ---- the commands --------------------------------------------------------------- */

typedef struct bench_cmd {
    const char *name, *synopsis, *what;
    int (*args)(bench_t *b, espfab_fault_t *f);
} bench_cmd_t;

static const bench_cmd_t read_cmd = {
    "read-flash", "OFFSET SIZE OUT",
    "Reads SIZE bytes of flash at OFFSET into the file OUT.  The stub streams the\n"
    "data and its MD5, which is checked; with --no-stub the ROM reads 64 bytes per\n"
    "request (slow) and its SPI_FLASH_MD5 checks them.  Nothing is written to the board.\n",
    args_read};
static const bench_cmd_t erase_cmd = {
    "erase", "--all | OFFSET SIZE [OFFSET SIZE...]",
    "Erases the whole flash (--all) or each range (offsets and sizes multiples of\n"
    "0x1000).  Needs the flasher stub: the ROM loader has no erase command.\n",
    args_erase};
static const bench_cmd_t verify_cmd = {
    "verify", "OFFSET FILE [OFFSET FILE...]",
    "Compares the flash at each OFFSET with FILE by MD5 (SPI_FLASH_MD5, the file\n"
    "padded to 4 bytes as a write would be).  Nothing is written; a mismatch names\n"
    "the region.\n",
    args_verify};

static void usage(const bench_cmd_t *c, FILE *out)
{
    char opts[4096];
    espfab_cli_opts_help(ESPFAB_OPT_BENCH, opts, sizeof(opts));
    fprintf(out, "usage: espfab %s [--port PORT] [options] %s\n\n%s\noptions:\n%s"
                 "\nexit status: 0 done, 1 the board failed%s, 2 bad usage or input\n",
            c->name, c->synopsis, c->what, opts, c == &verify_cmd ? " or differs" : "");
}

static int bench_main(const bench_cmd_t *c, int argc, char **argv)
{
    if (!getenv("ESPFAB_LOG"))
        espfab_log_set_level(ESPFAB_LOG_ERROR);
    bench_t *b = calloc(1, sizeof(*b));
    if (!b)
        return 1;
    b->cmd = c->name;
    char err[512];
    if (espfab_cli_opts_parse(argc, argv, ESPFAB_OPT_BENCH, &b->o, err, sizeof(err)) != 0) {
        fprintf(stderr, "espfab %s: %s\n(see `espfab %s --help`)\n", c->name, err, c->name);
        bench_free(b);
        return 2;
    }
    if (b->o.help) {
        usage(c, stdout);
        bench_free(b);
        return 0;
    }
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rc = 0;
    /* --port may be left out when exactly one USB serial port is present;
     * the name lives as long as the process (one command per run) */
    static char port_buf[256];
    if (espfab_cli_port_resolve(&b->o, port_buf, sizeof(port_buf)) != 0) {
        bench_free(b);
        return 2;
    }
    if (rc == 0 && b->o.all && c != &erase_cmd)
        rc = espfab_fault_set(&f, ESPFAB_E_USAGE, "--all is an option of `espfab erase` only");
    if (rc == 0) {
        espfab_job_init(&b->job);
        rc = c->args(b, &f);
    }
    if (rc == 0)
        rc = espfab_job_from_cli(&b->job, &b->o, &f);
    if (rc != 0) {
        char line[1024];
        fprintf(stderr, "espfab %s: %s\n", c->name, espfab_fault_format(&f, line, sizeof(line)));
        bench_free(b);
        return 2;
    }
    int status = run_board(b);
    bench_free(b);
    return status;
}

int espfab_cli_read_flash(int argc, char **argv) { return bench_main(&read_cmd, argc, argv); }
int espfab_cli_erase(int argc, char **argv) { return bench_main(&erase_cmd, argc, argv); }
int espfab_cli_verify(int argc, char **argv) { return bench_main(&verify_cmd, argc, argv); }

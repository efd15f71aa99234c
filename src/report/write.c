/*
 * write.c - espfab_report_write(): runs the store query with the filter and
 * streams the attempts out as CSV or JSON, or feeds them to the statistics
 * and renders the HTML page.
 *
 * Everything streams in bounded memory, whatever the size of the database.
 * CSV regions are flattened into each row up to the largest region count
 * among the exported rows: the store counts it first, and the rows follow
 * in the same read snapshot (so a station writing at the same time cannot
 * make the header and the rows disagree), each padded with empty region
 * fields.  The HTML page takes its summary, Pareto and throughput from one
 * pass over the attempts (bounded state: causes, hours, loaders), and its
 * board counts, board table and per lot / station / line / day tallies from
 * the store's aggregate queries, again in one snapshot.  Up to
 * REPORT_LIST_ALL boards are all listed; above that the table lists the
 * boards that never passed and counts the others, so the page stays
 * readable at a million attempts.
 */
#include "espfab/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/fields.h"
#include "report/page.h"

/* ---- CSV ---- */

typedef struct csv_ctx {
    FILE *out;
    bool first_field;
    int64_t nrows;
    int max_regions;     /* region columns in the header */
    const char *prefix;  /* header mode: region prefix, NULL for attempt fields */
    FILE *hdr;           /* header mode: output */
    int sys_errno;       /* errno of the write that failed */
} csv_ctx_t;

/* A failed write's ESPFAB_E_IO with its errno kept in *saved (read right
 * after the call that failed: later calls, the query's cleanup among them,
 * may change errno). */
static int io_err(int rc, int *saved)
{
    if (rc == ESPFAB_E_IO && !*saved)
        *saved = errno;
    return rc;
}

static int csv_sep(csv_ctx_t *c, FILE *out)
{
    if (c->first_field) {
        c->first_field = false;
        return 0;
    }
    return fputc(',', out) == EOF ? ESPFAB_E_IO : 0;
}

static int csv_value_cb(const report_field_t *fld, void *data)
{
    csv_ctx_t *c = data;
    errno = 0;
    int rc = csv_sep(c, c->out);
    if (!rc) {
        switch (fld->kind) {
        case REPORT_STR: rc = espfab_report_csv_field(c->out, fld->s); break;
        case REPORT_INT:
        case REPORT_BOOL:
            rc = fprintf(c->out, "%lld", (long long)fld->i) < 0 ? ESPFAB_E_IO : 0;
            break;
        case REPORT_NULL: break;
        }
    }
    return io_err(rc, &c->sys_errno);
}

static int csv_name_cb(const report_field_t *fld, void *data)
{
    csv_ctx_t *c = data;
    int rc = csv_sep(c, c->hdr);
    if (rc)
        return rc;
    if (c->prefix && fputs(c->prefix, c->hdr) == EOF)
        return ESPFAB_E_IO;
    return espfab_report_csv_field(c->hdr, fld->name);
}

static int csv_attempt_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    csv_ctx_t *c = data;
    c->first_field = true;
    int rc = espfab__report_attempt_fields(a, run_id, csv_value_cb, c);
    int n = a->nregions > ESPFAB_MAX_REGIONS ? ESPFAB_MAX_REGIONS : a->nregions;
    /* The snapshot's largest count; more would be a store bug. */
    if (n > c->max_regions)
        n = c->max_regions;
    for (int i = 0; !rc && i < n; i++)
        rc = espfab__report_region_fields(&a->regions[i], csv_value_cb, c);
    if (rc)
        return rc;
    errno = 0;
    for (int k = (c->max_regions - n) * espfab__report_region_field_count(); k > 0; k--)
        if (putc(',', c->out) == EOF)
            return io_err(ESPFAB_E_IO, &c->sys_errno);
    if (fputs("\r\n", c->out) == EOF)
        return io_err(ESPFAB_E_IO, &c->sys_errno);
    c->nrows++;
    return 0;
}

/* The header row: attempt fields, then region1_offset ... regionN_verified. */
static int csv_header(csv_ctx_t *c, FILE *out)
{
    /* Header: attempt fields, then region1_offset ... regionN_verified. */
    espfab_attempt_t *dummy = calloc(1, sizeof *dummy);
    if (!dummy)
        return ESPFAB_E_NOMEM;
    espfab_attempt_init(dummy);
    c->hdr = out;
    c->first_field = true;
    c->prefix = NULL;
    int rc = espfab__report_attempt_fields(dummy, 0, csv_name_cb, c);
    char prefix[32];
    for (int i = 0; !rc && i < c->max_regions; i++) {
        snprintf(prefix, sizeof prefix, "region%d_", i + 1);
        c->prefix = prefix;
        rc = espfab__report_region_fields(&dummy->regions[0], csv_name_cb, c);
    }
    free(dummy);
    if (!rc && fputs("\r\n", out) == EOF)
        rc = ESPFAB_E_IO;
    return rc;
}

/* ---- JSON ---- */

typedef struct json_ctx {
    FILE *out;
    int64_t rows;
    int sys_errno;
} json_ctx_t;

static int json_attempt_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    json_ctx_t *c = data;
    errno = 0;
    if (fputs(c->rows ? ",\n" : "\n", c->out) == EOF)
        return io_err(ESPFAB_E_IO, &c->sys_errno);
    espfab_json_t w;
    espfab_json_init_file(&w, c->out, false);
    espfab_json_obj(&w, NULL);
    int rc = espfab__report_attempt_json(&w, a, run_id);
    espfab_json_end(&w);
    c->rows++;
    /* The writer stops at its first failed write, so errno is still that one's. */
    return io_err(rc ? rc : w.err, &c->sys_errno);
}

/* ---- HTML ---- */

/* Above this many boards the table lists only those that never passed. */
#define REPORT_LIST_ALL 2000

static int html_attempt_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    (void)run_id;
    return espfab_report_stats_add(data, a);
}

typedef struct html_src {
    espfab_store_t *s;
    const espfab_store_filter_t *flt;
    bool never_passed_only;
    espfab_fault_t *f;
    report_row_fn row;
    void *ctx;
    espfab_report_board_t b;
} html_src_t;

static int html_board_cb(const espfab_store_board_t *sb, const espfab_attempt_t *a, void *data)
{
    html_src_t *h = data;
    espfab__report_board_clear(&h->b);
    int rc = espfab__report_board_fill(&h->b, a);
    if (rc)
        return rc;
    h->b.attempts = sb->attempts > INT32_MAX ? INT32_MAX : (int)sb->attempts;
    h->b.ever_passed = sb->ever_passed;
    h->b.first_passed = sb->first_passed;
    return h->row(&h->b, h->ctx);
}

static int html_boards(void *data, report_row_fn row, void *ctx)
{
    html_src_t *h = data;
    h->row = row;
    h->ctx = ctx;
    int rc = espfab_store_query_boards(h->s, h->flt, h->never_passed_only, html_board_cb, h, h->f);
    espfab__report_board_clear(&h->b);
    return rc;
}

static int html_tallies(void *data, espfab_store_group_t by, report_tally_fn row, void *ctx)
{
    html_src_t *h = data;
    return espfab_store_query_tally(h->s, h->flt, by, row, ctx, h->f);
}

/* ---- driver ---- */

/* Our own callback errors are negative espfab codes; give them a detail.
 * sys_errno: the failed write's errno, 0 when the stream gave none. */
static int own_fault(int rc, espfab_fault_t *f, const char *what, int sys_errno)
{
    if (rc == ESPFAB_E_IO && sys_errno)
        return espfab_fault_errno(f, rc, sys_errno, "writing the %s report", what);
    if (rc == ESPFAB_E_IO)
        return espfab_fault_set(f, rc, "writing the %s report failed (no system error given)",
                                what);
    if (rc == ESPFAB_E_NOMEM)
        return espfab_fault_set(f, rc, "building the %s report", what);
    return rc;
}

static int write_csv(espfab_store_t *s, const espfab_report_opts_t *o, FILE *out,
                     int64_t *rows, espfab_fault_t *f)
{
    csv_ctx_t c = {0};
    c.out = out;
    int rc = espfab_store_max_regions(s, &o->filter, &c.max_regions, f);
    if (!rc) {
        errno = 0;
        rc = own_fault(io_err(csv_header(&c, out), &c.sys_errno), f, "CSV", c.sys_errno);
    }
    if (!rc) {
        rc = espfab_store_query(s, &o->filter, csv_attempt_cb, &c, f);
        if (rc == ESPFAB_E_IO || rc == ESPFAB_E_NOMEM)
            rc = own_fault(rc, f, "CSV", c.sys_errno);
    }
    *rows = c.nrows;
    return rc;
}

static int write_json(espfab_store_t *s, const espfab_report_opts_t *o, FILE *out,
                      int64_t *rows, espfab_fault_t *f)
{
    json_ctx_t c = {out, 0, 0};
    errno = 0;
    if (fputc('[', out) == EOF)
        return own_fault(ESPFAB_E_IO, f, "JSON", errno);
    int rc = espfab_store_query(s, &o->filter, json_attempt_cb, &c, f);
    if (rc == ESPFAB_E_IO || rc == ESPFAB_E_NOMEM)
        rc = own_fault(rc, f, "JSON", c.sys_errno);
    errno = 0;
    if (!rc && fputs(c.rows ? "\n]\n" : "]\n", out) == EOF)
        rc = own_fault(ESPFAB_E_IO, f, "JSON", errno);
    *rows = c.rows;
    return rc;
}

static int write_html(espfab_store_t *s, const espfab_report_opts_t *o, FILE *out,
                      int64_t *rows, espfab_fault_t *f)
{
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    st.boards_elsewhere = true;
    int rc = espfab_store_query(s, &o->filter, html_attempt_cb, &st, f);
    if (rc == ESPFAB_E_NOMEM)
        rc = own_fault(rc, f, "HTML", 0);
    if (!rc)
        rc = espfab_store_board_counts(s, &o->filter, &st.board_count, &st.boards_passed,
                                       &st.boards_first_pass, f);
    if (!rc)
        rc = own_fault(espfab_report_stats_finish(&st), f, "HTML", 0);
    if (!rc) {
        html_src_t h = {0};
        h.s = s;
        h.flt = &o->filter;
        h.f = f;
        h.never_passed_only = st.board_count > REPORT_LIST_ALL;
        report_page_src_t src = {html_boards, html_tallies, &h,
                                 h.never_passed_only ? st.boards_passed : 0};
        /* On a write error the page leaves the failed write's errno. */
        rc = espfab__report_html_page(&st, o, out, &src);
        if (rc == ESPFAB_E_IO || rc == ESPFAB_E_NOMEM)
            rc = own_fault(rc, f, "HTML", rc == ESPFAB_E_IO ? errno : 0);
    }
    *rows = st.attempts;
    espfab_report_stats_free(&st);
    return rc;
}

int espfab_report_write(espfab_store_t *s, const espfab_report_opts_t *o, FILE *out,
                        int64_t *rows, espfab_fault_t *f)
{
    int64_t n = 0;
    if (rows)
        *rows = 0;
    if (!s || !o || !out)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_report_write");
    if (o->format != ESPFAB_REPORT_CSV && o->format != ESPFAB_REPORT_JSON &&
        o->format != ESPFAB_REPORT_HTML)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "report format %d", (int)o->format);
    /* One snapshot for the several queries of a report. */
    int rc = espfab_store_read_begin(s, f);
    if (rc)
        return rc;
    switch (o->format) {
    case ESPFAB_REPORT_CSV: rc = write_csv(s, o, out, &n, f); break;
    case ESPFAB_REPORT_JSON: rc = write_json(s, o, out, &n, f); break;
    default: rc = write_html(s, o, out, &n, f); break;
    }
    espfab_store_read_end(s);
    if (rows)
        *rows = n;
    errno = 0;
    if (!rc && fflush(out) != 0)
        rc = own_fault(ESPFAB_E_IO, f, "report", errno);
    return rc;
}

/*
 * write.c - espfab_report_write(): runs the store query with the filter and
 * streams the attempts out as CSV or JSON, or feeds them to the statistics
 * and renders the HTML page.
 *
 * CSV regions are flattened into each row up to the largest region count
 * among the exported rows, which is only known at the end: rows go to an
 * unnamed temporary file first (one pass over the database, so a station
 * writing at the same time cannot make the header and the rows disagree),
 * then the header is written and the rows are copied, each padded with
 * empty region fields.
 */
#include "espfab/report.h"
#include "espfab/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/fields.h"

/* ---- CSV ---- */

typedef struct csv_row_end {
    long end;       /* offset in the temporary file after the row */
    int nregions;
} csv_row_end_t;

typedef struct csv_ctx {
    FILE *tmp;
    bool first_field;
    csv_row_end_t *rows;
    size_t nrows, cap;
    int max_regions;
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
    int rc = csv_sep(c, c->tmp);
    if (!rc) {
        switch (fld->kind) {
        case REPORT_STR: rc = espfab_report_csv_field(c->tmp, fld->s); break;
        case REPORT_INT:
        case REPORT_BOOL:
            rc = fprintf(c->tmp, "%lld", (long long)fld->i) < 0 ? ESPFAB_E_IO : 0;
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
    for (int i = 0; !rc && i < n; i++)
        rc = espfab__report_region_fields(&a->regions[i], csv_value_cb, c);
    if (rc)
        return rc;
    if (ESPFAB_VEC_RESERVE(c->rows, c->cap, c->nrows + 1))
        return ESPFAB_E_NOMEM;
    errno = 0;
    long end = ftell(c->tmp);
    if (end < 0)
        return io_err(ESPFAB_E_IO, &c->sys_errno);
    c->rows[c->nrows].end = end;
    c->rows[c->nrows].nregions = n;
    c->nrows++;
    if (n > c->max_regions)
        c->max_regions = n;
    return 0;
}

static int csv_finish_rows(csv_ctx_t *c, FILE *out);

static int csv_finish(csv_ctx_t *c, FILE *out)
{
    errno = 0;
    return io_err(csv_finish_rows(c, out), &c->sys_errno);
}

/* Header, then the rows from the temporary file (errno kept by the caller;
 * a short temporary file is an I/O error without one). */
static int csv_finish_rows(csv_ctx_t *c, FILE *out)
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
    if (rc)
        return rc;
    if (fflush(c->tmp) != 0 || fseek(c->tmp, 0, SEEK_SET) != 0)
        return ESPFAB_E_IO;
    int per = espfab__report_region_field_count();
    long pos = 0;
    char buf[8192];
    for (size_t r = 0; r < c->nrows; r++) {
        long left = c->rows[r].end - pos;
        while (left > 0) {
            size_t want = left > (long)sizeof buf ? sizeof buf : (size_t)left;
            size_t got = fread(buf, 1, want, c->tmp);
            if (got == 0) {
                if (!ferror(c->tmp))
                    errno = 0; /* ended early: no system error to name */
                return ESPFAB_E_IO;
            }
            if (fwrite(buf, 1, got, out) != got)
                return ESPFAB_E_IO;
            left -= (long)got;
        }
        pos = c->rows[r].end;
        for (int k = (c->max_regions - c->rows[r].nregions) * per; k > 0; k--)
            if (fputc(',', out) == EOF)
                return ESPFAB_E_IO;
        if (fputs("\r\n", out) == EOF)
            return ESPFAB_E_IO;
    }
    return 0;
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

typedef struct html_ctx {
    espfab_report_stats_t *st;
} html_ctx_t;

static int html_attempt_cb(const espfab_attempt_t *a, int64_t run_id, void *data)
{
    (void)run_id;
    html_ctx_t *c = data;
    return espfab_report_stats_add(c->st, a);
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

int espfab_report_write(espfab_store_t *s, const espfab_report_opts_t *o, FILE *out,
                        int64_t *rows, espfab_fault_t *f)
{
    if (rows)
        *rows = 0;
    if (!s || !o || !out)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_report_write");
    int rc;
    switch (o->format) {
    case ESPFAB_REPORT_CSV: {
        csv_ctx_t c = {0};
        c.tmp = tmpfile();
        if (!c.tmp)
            return espfab_fault_errno(f, ESPFAB_E_IO, errno,
                                      "cannot create a temporary file for the CSV rows "
                                      "(check TMPDIR)");
        rc = espfab_store_query(s, &o->filter, csv_attempt_cb, &c, f);
        if (rc == ESPFAB_E_IO || rc == ESPFAB_E_NOMEM)
            rc = own_fault(rc, f, "CSV", c.sys_errno);
        if (!rc)
            rc = own_fault(csv_finish(&c, out), f, "CSV", c.sys_errno);
        if (rows)
            *rows = (int64_t)c.nrows;
        fclose(c.tmp);
        free(c.rows);
        break;
    }
    case ESPFAB_REPORT_JSON: {
        json_ctx_t c = {out, 0, 0};
        errno = 0;
        if (fputc('[', out) == EOF)
            return own_fault(ESPFAB_E_IO, f, "JSON", errno);
        rc = espfab_store_query(s, &o->filter, json_attempt_cb, &c, f);
        if (rc == ESPFAB_E_IO || rc == ESPFAB_E_NOMEM)
            rc = own_fault(rc, f, "JSON", c.sys_errno);
        errno = 0;
        if (!rc && fputs(c.rows ? "\n]\n" : "]\n", out) == EOF)
            rc = own_fault(ESPFAB_E_IO, f, "JSON", errno);
        if (rows)
            *rows = c.rows;
        break;
    }
    case ESPFAB_REPORT_HTML: {
        espfab_report_stats_t st;
        espfab_report_stats_init(&st);
        html_ctx_t c = {&st};
        rc = espfab_store_query(s, &o->filter, html_attempt_cb, &c, f);
        if (rc == ESPFAB_E_NOMEM)
            rc = own_fault(rc, f, "HTML", 0);
        if (!rc)
            rc = own_fault(espfab_report_stats_finish(&st), f, "HTML", 0);
        if (!rc) {
            /* On a write error espfab_report_html() leaves the failed write's errno. */
            rc = espfab_report_html(&st, o, out);
            rc = own_fault(rc, f, "HTML", rc ? errno : 0);
        }
        if (rows)
            *rows = st.attempts;
        espfab_report_stats_free(&st);
        break;
    }
    default:
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "report format %d", (int)o->format);
    }
    errno = 0;
    if (!rc && fflush(out) != 0)
        rc = own_fault(ESPFAB_E_IO, f, "report", errno);
    return rc;
}

/*
 * cmd_report.c - `espfab report`: export the traceability database as CSV,
 * JSON or a self-contained HTML page (src/report, include/espfab/report.h).
 * The database is opened read-only (a WAL reader never blocks a running
 * station).  With -o FILE the report goes to a temporary file next to FILE
 * that replaces it only when the export succeeded.
 * Exit status: 0 written, 1 the export failed while writing, 2 bad input
 * (options, dates, missing or unreadable database, unwritable -o, -o over a
 * database).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "espfab/cli.h"
#include "espfab/report.h"
#include "espfab/store.h"

static void filter_label(const espfab_report_args_t *a, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
#define ADD(name, v) do { if ((v) && n < len) \
        n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", n ? " " : "", name, v); } while (0)
    ADD("lot", a->filter.lot);
    ADD("profile", a->filter.profile_name);
    ADD("station", a->filter.station);
    if (a->filter.outcome >= 0)
        ADD("outcome", espfab_outcome_name((espfab_outcome_t)a->filter.outcome));
    ADD("from", a->from);
    ADD("to", a->to);
#undef ADD
}

int espfab_cli_report(int argc, char **argv)
{
    espfab_report_args_t a;
    char err[512];
    if (espfab_report_args_parse(argc, argv, &a, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (a.help) {
        fputs(espfab_report_usage(), stdout);
        return 0;
    }
    struct stat sb;
    if (stat(a.db, &sb) != 0) {
        fprintf(stderr, "espfab report: database '%s' not found (%s); pass --db FILE with the "
                        "station's traceability database\n", a.db, strerror(errno));
        return 2;
    }
    if (!S_ISREG(sb.st_mode)) {
        fprintf(stderr, "espfab report: database '%s' is not a regular file; pass --db FILE "
                        "with the station's traceability database\n", a.db);
        return 2;
    }
    espfab_fault_t f;
    espfab_fault_clear(&f);
    char line[1024];
    /* Never over the database (or any SQLite file): checked before the
     * database is even opened, and again before the rename. */
    if (a.output && espfab_report_output_check(a.db, a.output, &f) != 0) {
        fprintf(stderr, "espfab report: %s\n", espfab_fault_format(&f, line, sizeof line));
        return 2;
    }
    espfab_store_t *s = NULL;
    if (espfab_store_open(a.db, ESPFAB_STORE_READONLY, &s, NULL, &f) != 0) {
        fprintf(stderr, "espfab report: %s\n", espfab_fault_format(&f, line, sizeof line));
        return 2;
    }

    FILE *out = stdout;
    espfab_report_file_t rf = {0};
    if (a.output) {
        if (espfab_report_file_open(&rf, a.db, a.output, &f) != 0) {
            fprintf(stderr, "espfab report: %s\n", espfab_fault_format(&f, line, sizeof line));
            espfab_store_close(s);
            return 2;
        }
        out = rf.out;
    }
    char label[512];
    filter_label(&a, label, sizeof label);
    espfab_report_opts_t o = {0};
    o.format = a.format;
    o.filter = a.filter;
    o.db_label = a.db;
    o.filter_label = label;
    /* the record's chain head, printed with every report (docs/record.md) */
    espfab_store_chain_head_t head;
    char head_text[128] = "";
    if (espfab_store_chain_head(s, &head, NULL) == 0 && head.seq > 0) {
        snprintf(head_text, sizeof head_text, "%lld (attempt #%lld) sha256 %s",
                 (long long)head.seq, (long long)head.attempt_id, head.sha256);
        o.chain_head = head_text;
    }
    int64_t rows = 0;
    int rc = espfab_report_write(s, &o, out, &rows, &f);
    espfab_store_close(s);
    if (a.output)
        rc = espfab_report_file_commit(&rf, rc, &f);
    if (rc) {
        fprintf(stderr, "espfab report: %s\n", espfab_fault_format(&f, line, sizeof line));
        return rc == ESPFAB_E_REPORT_OVER_DB ? 2 : 1;
    }
    if (head_text[0])
        fprintf(stderr, "espfab report: record chain head %s\n", head_text);
    if (rows == 0)
        fprintf(stderr, "espfab report: no attempts match the filter in '%s'\n", a.db);
    else if (a.output)
        fprintf(stderr, "espfab report: %lld attempts written to %s\n", (long long)rows,
                a.output);
    return 0;
}

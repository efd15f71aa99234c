/*
 * args.c - the command line of `espfab report` (pure: no I/O; errors come
 * back as one line in a caller buffer).  getopt_long is not used so that the
 * parser can be called repeatedly from tests without resetting global state.
 */
#include "espfab/report.h"

#include <string.h>

static const char USAGE[] =
    "usage: espfab report --format csv|json|html [--db FILE] [-o FILE]\n"
    "                     [--lot LOT] [--profile NAME] [--station NAME]\n"
    "                     [--outcome pass|fail|interrupted|running]\n"
    "                     [--from DATE] [--to DATE]\n"
    "  --db FILE       traceability database (default ./espfab.db), opened read-only\n"
    "  --format F      csv: one row per attempt, regions flattened into region<N>_* columns\n"
    "                  json: an array of attempt objects with a \"regions\" array\n"
    "                  html: self-contained page (summary, failure Pareto, throughput, yield\n"
    "                  per lot/station/line/day, boards; above 2000 boards only those that\n"
    "                  never passed are listed, the others counted)\n"
    "  -o FILE         write to FILE (replaced only when the export succeeded); default stdout\n"
    "  --from/--to     UTC; YYYY-MM-DD or ISO-8601 (2026-11-23T14:00:00Z, +01:00 offsets);\n"
    "                  a --to date includes that whole day, a --to time is exclusive\n";

const char *espfab_report_usage(void)
{
    return USAGE;
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    snprintf(err, errlen, fmt, a, b ? b : "");
    return ESPFAB_E_USAGE;
}

int espfab_report_args_parse(int argc, char **argv, espfab_report_args_t *a, char *err,
                             size_t errlen)
{
    memset(a, 0, sizeof *a);
    espfab_store_filter_init(&a->filter);
    a->db = "espfab.db";
    a->format = (espfab_report_format_t)-1;
    if (errlen)
        err[0] = '\0';
    static const char *const valued[] = {"--db", "--lot", "--from", "--to", "--profile",
                                         "--outcome", "--station", "--format", "-o", "--output"};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        char name[32];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            a->help = true;
            return 0;
        }
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name)
            nlen = sizeof name - 1;
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        bool known = false;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(name, valued[k]);
        if (!known) {
            if (arg[0] == '-')
                return fail(err, errlen, "espfab report: unknown option '%s'; see "
                            "'espfab report --help'%s", arg, NULL);
            return fail(err, errlen, "espfab report: unexpected argument '%s'; options take the "
                        "form --name VALUE, see 'espfab report --help'%s", arg, NULL);
        }
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return fail(err, errlen, "espfab report: option %s needs a value; see "
                        "'espfab report --help'%s", name, NULL);
        }
        if (!val[0])
            return fail(err, errlen, "espfab report: option %s has an empty value%s", name, NULL);
        if (!strcmp(name, "--db")) {
            a->db = val;
        } else if (!strcmp(name, "-o") || !strcmp(name, "--output")) {
            a->output = strcmp(val, "-") ? val : NULL;
        } else if (!strcmp(name, "--lot")) {
            a->filter.lot = val;
        } else if (!strcmp(name, "--profile")) {
            a->filter.profile_name = val;
        } else if (!strcmp(name, "--station")) {
            a->filter.station = val;
        } else if (!strcmp(name, "--outcome")) {
            static const char *const oc[] = {"running", "pass", "fail", "interrupted"};
            a->filter.outcome = -1;
            for (int k = 0; k < 4; k++)
                if (!strcmp(val, oc[k]))
                    a->filter.outcome = k;
            if (a->filter.outcome < 0)
                return fail(err, errlen, "espfab report: unknown --outcome '%s'; use pass, fail, "
                            "interrupted or running%s", val, NULL);
        } else if (!strcmp(name, "--format")) {
            if (!strcmp(val, "csv"))
                a->format = ESPFAB_REPORT_CSV;
            else if (!strcmp(val, "json"))
                a->format = ESPFAB_REPORT_JSON;
            else if (!strcmp(val, "html"))
                a->format = ESPFAB_REPORT_HTML;
            else
                return fail(err, errlen, "espfab report: unknown --format '%s'; use csv, json or "
                            "html%s", val, NULL);
        } else if (!strcmp(name, "--from") || !strcmp(name, "--to")) {
            bool to = !strcmp(name, "--to");
            int64_t ms;
            if (espfab_report_parse_time(val, to, &ms) != 0)
                return fail(err, errlen, "espfab report: bad date %s '%s'; use YYYY-MM-DD or "
                            "ISO-8601 like 2026-11-23T14:30:00Z (UTC)", name, val);
            if (to) {
                a->filter.to_ms = ms;
                a->to = val;
            } else {
                a->filter.from_ms = ms;
                a->from = val;
            }
        }
    }
    if ((int)a->format < 0)
        return fail(err, errlen, "espfab report: missing --format; use --format csv, json or "
                    "html%s%s", "", NULL);
    if (a->filter.from_ms && a->filter.to_ms && a->filter.from_ms >= a->filter.to_ms)
        return fail(err, errlen, "espfab report: --from %s is not before --to %s; swap them or "
                    "widen the range", a->from, a->to);
    return 0;
}

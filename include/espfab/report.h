/*
 * report.h - audit report export (`espfab report`): the attempts of the
 * traceability database (store.h), filtered, written as CSV, JSON or one
 * self-contained HTML page (summary, failure Pareto, throughput per hour,
 * yield per lot / station / line / day, board table).
 *
 * Scale: espfab_report_write() streams every format in bounded memory (a
 * few MiB at a million attempts): CSV and JSON row by row, the HTML page
 * from one pass with bounded state plus the store's aggregate queries (board
 * counts, board table, tallies), all in one read snapshot.  The board table
 * lists every board up to 2000 boards; above that, the boards that never
 * passed in full and the others as a count (id="boards-unlisted"), the full
 * list being the CSV/JSON export.
 *
 * Ownership: the caller owns the store handle, the output FILE and every
 * struct passed in; espfab_report_stats_t owns the memory it allocates until
 * espfab_report_stats_free() (add all attempts, then finish once).  Everything here is synchronous and runs on
 * the calling thread; no callbacks are exposed (the store query callback is
 * internal and fires inside espfab_report_write()).  The serializers, the
 * date parser, the argument parser and the statistics are pure (no I/O apart
 * from writing to the FILE they are given) and are unit-tested with
 * open_memstream(); only the output file helpers (output check, temporary
 * file and rename) touch the file system.  Not thread-safe only in that one stats object must not be
 * shared between threads.
 *
 * Formats (one row per attempt for CSV and JSON, every field of
 * espfab_attempt_t; CSV and JSON come from one field list so they cannot
 * drift):
 *  - CSV: RFC 4180 (CRLF line ends, fields with comma, quote, CR, LF or
 *    leading/trailing space are quoted, quotes doubled); one header row.
 *    Regions are flattened into the same row as region<N>_offset, _file,
 *    _sha256, _md5_expected, _md5_device, _size, _wire_size, _compressed,
 *    _written, _verified for N = 1 .. the largest region count among the
 *    exported rows; rows with fewer regions have empty fields there.  Unknown
 *    values (revision, ROM status, end time of a running attempt) are empty.
 *    Bytes are passed through as stored, except that a text cell starting
 *    with = + - @ tab or CR (a formula to a spreadsheet) gets a leading
 *    single quote and is quoted (OWASP's CSV-injection remedy): "'=1+2".
 *  - JSON: a top-level array, one object per attempt (one per line), regions
 *    as an array of objects; unknown values are null; integers are numbers,
 *    flags are true/false.  Strings are escaped by json.h: valid UTF-8,
 *    control characters and DEL \u-escaped, non-ASCII passed through, bytes
 *    that are not valid UTF-8 replaced by U+FFFD.
 *  - HTML: see espfab_report_write(); every database string is escaped.
 *
 * Statistics (HTML summary): a board is a distinct non-empty MAC.  A unit
 * is a board or an unidentified unit: a completed attempt that ended before
 * the MAC was read (each one counts as one unit, since nothing tells two
 * apart; not a running attempt, not an ALREADY_PASSED one).  The headline
 * yield = units that passed / units and first-pass yield = units whose first
 * attempt passed / units, so failures before identification lower it (shown
 * apart as "N unidentified").  The per-board figures (yield and first-pass
 * yield of identified boards: boards with at least one passed attempt /
 * boards, boards whose first attempt (earliest start within the filter)
 * passed / boards) are kept beside them.  Boards per hour = boards / (last
 * end - first start).  The Pareto counts failed and interrupted attempts by
 * error name.  Crafted times (any int64, a start after its end) do not
 * overflow: spans saturate, the throughput chart keeps at most 240 bars.
 */
#ifndef ESPFAB_REPORT_H
#define ESPFAB_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "espfab/err.h"
#include "espfab/record.h"
#include "espfab/store.h"

/* ---- serializers (write to out; return 0 or ESPFAB_E_IO) ---- */

/* One CSV field, quoted only when needed (RFC 4180); a field starting with
 * = + - @ tab or CR is written "'..." (quoted, single quote prepended) so no
 * spreadsheet runs it as a formula.  s NULL = empty field. */
int espfab_report_csv_field(FILE *out, const char *s);
/* HTML text/attribute content: & < > " ' escaped, invalid UTF-8 and control
 * characters (other than tab, LF, CR) replaced by U+FFFD. */
int espfab_report_html_text(FILE *out, const char *s);

/* ---- dates ---- */

/* "2026-11-23" or ISO-8601 "2026-11-23T20:55[:45[.123]][Z|+01:00]" (also
 * with a space instead of T; no zone = UTC) -> epoch ms.  A date-only value
 * with end_of_range set means the end of that day (next midnight), so
 * --to 2026-11-23 includes the 23rd.  Returns 0 or ESPFAB_E_USAGE. */
int espfab_report_parse_time(const char *s, bool end_of_range, int64_t *ms);

/* ---- command line ---- */

typedef enum espfab_report_format {
    ESPFAB_REPORT_CSV = 0,
    ESPFAB_REPORT_JSON,
    ESPFAB_REPORT_HTML
} espfab_report_format_t;

typedef struct espfab_report_args {
    const char *db;                 /* --db, default "espfab.db" */
    const char *output;             /* -o, NULL = stdout */
    espfab_report_format_t format;  /* --format (required) */
    espfab_store_filter_t filter;   /* --lot --profile --station --outcome --from --to */
    const char *from, *to;          /* as given, for the report header */
    bool help;
} espfab_report_args_t;

/* Parses argv (argv[0] == "report").  Returns 0, or ESPFAB_E_USAGE with err
 * holding one line naming the bad value and what to do.  Pointers in *a
 * point into argv. */
int espfab_report_args_parse(int argc, char **argv, espfab_report_args_t *a, char *err,
                             size_t errlen);
/* The usage text printed by --help. */
const char *espfab_report_usage(void);

/* ---- statistics (pure) ---- */

typedef struct espfab_report_cause {
    int code;                 /* espfab_err_t (negative), 0 = no code recorded */
    char name[48];            /* "PORT_BUSY"; "NO_ERROR_CODE"; "E<number>" if not in the table */
    int64_t count;
} espfab_report_cause_t;

typedef struct espfab_report_bucket {
    int64_t start_ms;         /* UTC hour (or multi-hour bucket) start */
    int64_t passed, failed, interrupted;
} espfab_report_bucket_t;

typedef struct espfab_report_board_region {
    uint32_t offset;
    char *file;
    char sha256[65], md5_expected[33], md5_device[33];
    bool verified;
} espfab_report_board_region_t;

/* One board: its attempt that decides the table row (its latest passed
 * attempt, else its latest attempt) plus counters. */
typedef struct espfab_report_board {
    char mac[18], chip[24], chip_id[24], slot[64], station[64];
    int rev_full;
    uint32_t flash_jedec, flash_size;
    espfab_outcome_t outcome;
    int code;
    char *reason;             /* "ERROR_NAME: message" (fail/interrupted), the message when
                                 passed, "still running: ..." when running */
    int64_t attempt_id, start_ms, end_ms;
    int nregions;
    espfab_report_board_region_t *regions;
    int attempts;             /* attempts of this board within the filter */
    bool ever_passed, first_passed;
    /* internal: ordering keys of the first and deciding attempts */
    int64_t first_key_ms, first_key_id, dec_key_ms, dec_key_id;
} espfab_report_board_t;

/* One espfab version + stub pair that wrote attempts (schema 3; "" = not
 * recorded, or the ROM loader for the stub). */
#define ESPFAB_REPORT_MAX_LOADERS 8
typedef struct espfab_report_loader {
    char espfab_version[24], stub_sha256[65];
    int64_t attempts;
} espfab_report_loader_t;

typedef struct espfab_report_stats {
    int64_t attempts, passed, failed, interrupted, running, no_mac;
    /* Set before the first add: boards are counted and listed from the
     * database (espfab_report_write() does that with the store's board
     * queries, so that a million boards do not sit in memory); add() then
     * keeps no board, and the caller sets board_count, boards_passed and
     * boards_first_pass before finish(). */
    bool boards_elsewhere;
    int64_t board_count;           /* distinct boards (after finish: nboards unless elsewhere) */
    int64_t boards_passed, boards_first_pass;
    int64_t first_ms, last_ms;     /* earliest start, latest end (or start); 0 if none */
    /* after finish: */
    double yield, first_pass_yield; /* identified boards only: 0..1; -1 when there are none */
    int64_t unidentified;           /* completed attempts without a MAC: one unit each */
    int64_t unidentified_passed;    /* of those, passed */
    int64_t units, units_passed, units_first_pass; /* boards + unidentified units */
    double unit_yield, unit_first_pass_yield;      /* the headline: 0..1; -1 when no units */
    double boards_per_hour;         /* -1 when the duration is 0 */
    int64_t failures;               /* failed + interrupted attempts (Pareto total), without
                                     * already_passed */
    int64_t already_passed;         /* interrupted attempts that only found a board that had just
                                     * passed in its slot (ALREADY_PASSED): no failure */
    size_t ncauses;                 /* sorted by count descending, then name */
    espfab_report_cause_t *causes;
    size_t nbuckets;                /* consecutive, from the first attempt's hour */
    int64_t bucket_ms;              /* 1 h, or more when the span is long */
    espfab_report_bucket_t *buckets;
    size_t nboards;                 /* sorted by deciding attempt start, then MAC */
    espfab_report_board_t *boards;
    size_t nloaders;                /* distinct (espfab_version, stub_sha256), first seen first */
    espfab_report_loader_t loaders[ESPFAB_REPORT_MAX_LOADERS];
    int64_t loaders_other;          /* attempts of pairs beyond the first MAX_LOADERS */
    void *priv;                     /* internal (MAC index, per-attempt times) */
} espfab_report_stats_t;

void espfab_report_stats_init(espfab_report_stats_t *st);
/* Adds one attempt (any order).  0 or ESPFAB_E_NOMEM. */
int espfab_report_stats_add(espfab_report_stats_t *st, const espfab_attempt_t *a);
/* Computes the derived fields.  0 or ESPFAB_E_NOMEM. */
int espfab_report_stats_finish(espfab_report_stats_t *st);
void espfab_report_stats_free(espfab_report_stats_t *st);
/* to - from, saturated to the int64 range (crafted times never overflow). */
int64_t espfab_report_span_ms(int64_t from, int64_t to);

/* ---- export ---- */

typedef struct espfab_report_opts {
    espfab_report_format_t format;
    espfab_store_filter_t filter;
    const char *db_label;     /* shown in the HTML header (the --db path) */
    const char *filter_label; /* "lot=L1 from=..." shown in the HTML header; may be NULL */
    int64_t now_ms;           /* "generated at"; 0 = now */
    const char *chain_head;   /* "<seq> (attempt #<id>) sha256 <hex>" of the database's
                                 tamper-evident chain, shown in the HTML header; may be NULL */
} espfab_report_opts_t;

/* Runs the query and writes the report to out.  *rows (may be NULL)
 * receives the number of attempts exported.  Errors: the store's, or
 * ESPFAB_E_IO (writing), ESPFAB_E_NOMEM. */
int espfab_report_write(espfab_store_t *s, const espfab_report_opts_t *o, FILE *out,
                        int64_t *rows, espfab_fault_t *f);

/* Refuses an output path that would destroy a database: the database db
 * itself (same file, by inode or by resolved name, a link or symlink to it
 * too), its -wal/-journal/-shm files, or any existing file that starts like
 * a SQLite database, write-ahead log or rollback journal.  db may be NULL.
 * Touches nothing.  0, or ESPFAB_E_REPORT_OVER_DB with f naming the file. */
int espfab_report_output_check(const char *db, const char *output, espfab_fault_t *f);
/* A report file written safely: espfab_report_file_open() checks path with
 * espfab_report_output_check() and creates a temporary file
 * "PATH.tmp-XXXXXX" in path's folder (rf->out); the caller writes the report
 * to rf->out and passes its result to espfab_report_file_commit(), which on
 * success flushes it to disk, checks path again and renames the temporary
 * file over path, and otherwise (or on its own error) removes it, leaving
 * an existing path as it was.  open: 0, ESPFAB_E_REPORT_OVER_DB, ESPFAB_E_IO
 * (cannot create the temporary file), ESPFAB_E_NOMEM.  commit: rc, or its
 * own ESPFAB_E_IO / ESPFAB_E_REPORT_OVER_DB; rf holds nothing afterwards. */
typedef struct espfab_report_file {
    FILE *out;
    char *tmp;
    const char *db, *path;
} espfab_report_file_t;
int espfab_report_file_open(espfab_report_file_t *rf, const char *db, const char *path,
                            espfab_fault_t *f);
int espfab_report_file_commit(espfab_report_file_t *rf, int rc, espfab_fault_t *f);

/* The HTML page for already computed statistics, every board of st listed,
 * no yield tables (espfab_report_write() draws those from the store).
 * 0, or ESPFAB_E_IO with errno set to the failed write's (0 if it gave none). */
int espfab_report_html(const espfab_report_stats_t *st, const espfab_report_opts_t *o, FILE *out);

#endif

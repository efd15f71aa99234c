/*
 * page.h - the HTML page with its board table and its tallies drawn from a
 * source, so that espfab_report_write() streams them from the database
 * (the store's board and tally queries) while espfab_report_html() uses
 * the boards of a statistics object.  Synchronous: the source's functions
 * call the row function once per row, in order, inside
 * espfab__report_html_page(); pointers are valid during that call only.
 */
#ifndef ESPFAB_REPORT_PAGE_H
#define ESPFAB_REPORT_PAGE_H

#include "espfab/report.h"

/* Writes one row; returns 0 or the write error (ESPFAB_E_IO). */
typedef int (*report_row_fn)(const espfab_report_board_t *b, void *ctx);
typedef int (*report_tally_fn)(const espfab_store_tally_t *t, void *ctx);

typedef struct report_page_src {
    /* Calls row once per listed board; returns row's error or its own. */
    int (*boards)(void *data, report_row_fn row, void *ctx);
    /* Calls row once per tally of one grouping; NULL: no yield tables. */
    int (*tallies)(void *data, espfab_store_group_t by, report_tally_fn row, void *ctx);
    void *data;
    int64_t unlisted_passed; /* boards that passed and are not listed; 0: all listed */
} report_page_src_t;

/* The page: 0, ESPFAB_E_IO with errno set to the failed write's, or the
 * source's error. */
int espfab__report_html_page(const espfab_report_stats_t *st, const espfab_report_opts_t *o,
                             FILE *out, const report_page_src_t *src);

/* (stats.c) b shows attempt a (MAC, chip, regions, reason...; attempts and
 * the pass flags are the caller's): 0 or ESPFAB_E_NOMEM.  clear frees what
 * b holds and zeroes it. */
int espfab__report_board_fill(espfab_report_board_t *b, const espfab_attempt_t *a);
void espfab__report_board_clear(espfab_report_board_t *b);

#endif

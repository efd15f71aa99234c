/*
 * fields.h - the one list of exported fields of an attempt and of a region,
 * shared by the CSV and JSON writers so that the two formats cannot drift.
 * Pure: the visitor is called synchronously, once per field, in column
 * order; string pointers are valid only during the call.
 */
#ifndef ESPFAB_REPORT_FIELDS_H
#define ESPFAB_REPORT_FIELDS_H

#include <stdint.h>

#include "espfab/json.h"
#include "espfab/record.h"

typedef enum report_kind {
    REPORT_STR = 0, /* s */
    REPORT_INT,     /* i */
    REPORT_BOOL,    /* i (0/1) */
    REPORT_NULL     /* unknown value */
} report_kind_t;

typedef struct report_field {
    const char *name;
    report_kind_t kind;
    const char *s;
    int64_t i;
} report_field_t;

/* Returns 0 to go on, non-zero to stop (returned by the walkers). */
typedef int (*report_field_cb)(const report_field_t *fld, void *data);

/* Every attempt field except the regions (the last one is "nregions"). */
int espfab__report_attempt_fields(const espfab_attempt_t *a, int64_t run_id, report_field_cb cb,
                                  void *data);
/* The fields of one region; names without prefix ("offset", "file"...). */
int espfab__report_region_fields(const espfab_region_result_t *r, report_field_cb cb,
                                 void *data);
/* The attempt's fields and a "regions" array of its regions, as members of
 * the object w has open (the report's JSON rows and the station's board
 * events).  Returns w's error (0, ESPFAB_E_IO or ESPFAB_E_NOMEM). */
int espfab__report_attempt_json(espfab_json_t *w, const espfab_attempt_t *a, int64_t run_id);
/* espfab_store_iso8601() for years 1..9999; "out-of-range" for other (crafted
 * or corrupt) times, which the calendar conversion cannot represent. */
void espfab__report_iso8601(int64_t ms, char out[32]);
/* Number of region fields (columns per region in the CSV). */
int espfab__report_region_field_count(void);

#endif

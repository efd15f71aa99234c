/*
 * fuzz_nvs_csv.c - the NVS partition CSV parser and generator (nvs.h) on
 * arbitrary bytes.  `file` rows are given their path as contents (no file is
 * read).  Invariants (abort on violation):
 *  - parse and generate return OK or a code in the error table; a failure
 *    carries a detail that names "fuzz.csv:LINE:" (or the size, for the
 *    generator's own limits) and hands out no image;
 *  - the same input gives the same result twice;
 *  - an image is whole pages, decodes with no CRC problem.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/nvs.h"

#define FAIL(msg)                                                      \
    do {                                                               \
        fprintf(stderr, "fuzz_nvs_csv: invariant broken: %s\n", msg); \
        abort();                                                       \
    } while (0)

static void ignore(const espfab_nvs_ev_t *ev, void *ctx)
{
    (void)ev;
    (void)ctx;
}

static int run(const uint8_t *data, size_t size, uint8_t **img, size_t *len, espfab_fault_t *f)
{
    espfab_nvs_csv_t csv;
    memset(&csv, 0, sizeof csv);
    espfab_fault_clear(f);
    *img = NULL;
    *len = 0;
    int rc = espfab_nvs_csv_parse(&csv, (const char *)data, size, "fuzz.csv", ".", f);
    if (!rc)
        for (size_t i = 0; i < csv.nrows; i++)
            if (csv.rows[i].kind == ESPFAB_NVS_FILE) {
                espfab_nvs_row_t *r = &csv.rows[i];
                r->value = strdup(r->path);
                r->value_len = strlen(r->path);
                r->loaded = 1;
            }
    if (!rc)
        rc = espfab_nvs_generate(&csv, 0x6000, size & 1 ? 1 : 2, img, len, f);
    espfab_nvs_csv_free(&csv);
    if (rc > 0)
        FAIL("positive return");
    if (rc < 0) {
        if (!espfab_err_name(rc))
            FAIL("code not in the error table");
        if (f->code != rc)
            FAIL("fault code differs from the return value");
        if (rc != ESPFAB_E_NOMEM && !strstr(f->detail, "fuzz.csv:"))
            FAIL("error without file:line");
        if (*img)
            FAIL("failure handed out an image");
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *a, *b;
    size_t la, lb;
    espfab_fault_t f1, f2;
    int rc = run(data, size, &a, &la, &f1);
    int rc2 = run(data, size, &b, &lb, &f2);
    if (rc != rc2 || strcmp(f1.detail, f2.detail) || la != lb || (la && memcmp(a, b, la)))
        FAIL("not deterministic");
    if (!rc) {
        if (la == 0 || la % ESPFAB_NVS_PAGE)
            FAIL("image not whole pages");
        if (espfab_nvs_decode(a, la, ignore, NULL) != 0)
            FAIL("generated image does not decode cleanly");
    }
    free(a);
    free(b);
    return 0;
}

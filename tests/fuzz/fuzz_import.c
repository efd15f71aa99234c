/*
 * fuzz_import.c - `espfab profile import` (flasher_args.json -> profile INI)
 * on arbitrary bytes, through espfab_profile_import_text with
 * ESPFAB_PROFILE_NO_FILES (no image file is read).  Invariants (abort on
 * violation):
 *  - the result is OK or a code in the error table; a failure carries a
 *    detail, hands out no text; the same input gives the same result twice;
 *  - an accepted import is one INI text whose only control character is the
 *    newline (no NUL, no CR, no escape reached it), that loads back as a
 *    profile (NO_FILES) with a known chip and 1..ESPFAB_MAX_REGIONS images,
 *    each with a file name and an offset written in the text;
 *  - a JSON with a NUL byte is never accepted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/profile.h"

#define FAIL(msg)                                                    \
    do {                                                             \
        fprintf(stderr, "fuzz_import: invariant broken: %s\n", msg); \
        abort();                                                     \
    } while (0)

static espfab_profile_t prof;

static int run(const uint8_t *data, size_t size, char **ini, espfab_fault_t *f)
{
    espfab_fault_clear(f);
    *ini = NULL;
    int rc = espfab_profile_import_text((const char *)data, size, "fuzz.json", "/nonexistent/build",
                                        "/nonexistent", NULL, ESPFAB_PROFILE_NO_FILES, ini, f);
    if (rc > 0)
        FAIL("positive return");
    if (rc < 0) {
        if (!espfab_err_name(rc))
            FAIL("code not in the error table");
        if (f->code != rc)
            FAIL("fault code differs from the return value");
        if (!f->detail[0])
            FAIL("failure without a detail");
        if (*ini)
            FAIL("failure handed out text");
    } else if (!*ini) {
        FAIL("success without text");
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *ini = NULL, *ini2 = NULL;
    espfab_fault_t f1, f2;
    int rc = run(data, size, &ini, &f1);
    int rc2 = run(data, size, &ini2, &f2);
    if (rc != rc2 || strcmp(f1.detail, f2.detail) != 0)
        FAIL("import is not deterministic");
    free(ini2);
    if (rc != 0)
        return 0;

    if (memchr(data, 0, size))
        FAIL("JSON with a NUL byte accepted");
    for (const char *p = ini; *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\n') || *p == 0x7F)
            FAIL("control character in the INI text");
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (espfab_profile_parse(ini, strlen(ini), "out.ini", "/nonexistent", ESPFAB_PROFILE_NO_FILES,
                             &prof, &f) != 0)
        FAIL("the INI written does not load back");
    if (!espfab_chip_get(prof.chip))
        FAIL("profile without a chip");
    if (prof.nimages < 1 || prof.nimages > ESPFAB_MAX_REGIONS)
        FAIL("image count out of range");
    for (size_t i = 0; i < prof.nimages; i++) {
        char line[64];
        snprintf(line, sizeof line, "offset = 0x%x\n", prof.images[i].offset);
        if (!prof.images[i].file[0] || !strstr(ini, line))
            FAIL("image without a file, or at an offset the text does not say");
    }
    espfab_profile_free(&prof);
    free(ini);
    return 0;
}

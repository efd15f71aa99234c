/*
 * fuzz_profile.c - profile and station-file parsing on arbitrary bytes (no
 * file access: ESPFAB_PROFILE_NO_FILES).  Invariants (abort on violation):
 *  - the result is OK or a code in the error table, and a failure carries a
 *    detail naming the file; the same input gives the same result twice;
 *  - a failed parse leaves nothing allocated (the struct is zeroed);
 *  - an accepted profile has a known chip, 1..ESPFAB_MAX_REGIONS images
 *    sorted by offset, 4 KiB aligned, with distinct offsets, and the SHA-256
 *    of exactly the input bytes;
 *  - an accepted station file has an id and a port for every slot.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/profile.h"
#include "espfab/station_cfg.h"

#define FAIL(msg)                                                     \
    do {                                                              \
        fprintf(stderr, "fuzz_profile: invariant broken: %s\n", msg); \
        abort();                                                      \
    } while (0)

static espfab_profile_t prof;

static void check_fault(int rc, const espfab_fault_t *f)
{
    if (rc > 0)
        FAIL("positive return");
    if (rc < 0) {
        if (!espfab_err_name(rc))
            FAIL("code not in the error table");
        if (f->code != rc)
            FAIL("fault code differs from the return value");
        if (strncmp(f->detail, "fuzz.ini", 8) != 0)
            FAIL("detail does not name the file");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    espfab_fault_t f1, f2;
    espfab_fault_clear(&f1);
    espfab_fault_clear(&f2);

    int rc = espfab_profile_parse(text, size, "fuzz.ini", "/nonexistent", ESPFAB_PROFILE_NO_FILES,
                                  &prof, &f1);
    check_fault(rc, &f1);
    if (rc == 0) {
        if (!espfab_chip_get(prof.chip))
            FAIL("accepted profile without a chip");
        if (prof.nimages < 1 || prof.nimages > ESPFAB_MAX_REGIONS)
            FAIL("image count out of range");
        for (size_t i = 0; i < prof.nimages; i++) {
            if (prof.images[i].offset % 4096)
                FAIL("unaligned image accepted");
            if (i && prof.images[i].offset <= prof.images[i - 1].offset)
                FAIL("images not sorted or offsets repeated");
            if (!prof.images[i].file[0] || !prof.images[i].name[0])
                FAIL("image without file or name");
        }
        char sum[65];
        espfab_sha256_hex(data, size, sum);
        if (strcmp(sum, prof.sha256) != 0)
            FAIL("profile SHA-256 is not that of the input");
        if (!prof.name[0])
            FAIL("accepted profile without a name");
        espfab_profile_free(&prof);
    } else if (prof.nimages != 0 || prof.images[0].data) {
        FAIL("failed parse left state behind");
    }
    int rc2 = espfab_profile_parse(text, size, "fuzz.ini", "/nonexistent", ESPFAB_PROFILE_NO_FILES,
                                   &prof, &f2);
    if (rc2 != rc || strcmp(f1.detail, f2.detail) != 0)
        FAIL("profile parse is not deterministic");
    espfab_profile_free(&prof);

    espfab_station_cfg_t st;
    espfab_fault_clear(&f1);
    rc = espfab_station_cfg_parse(text, size, "fuzz.ini", "/nonexistent", &st, &f1);
    check_fault(rc, &f1);
    if (rc == 0) {
        if (!st.id[0])
            FAIL("station without an id");
        if (st.nslots > ESPFAB_STATION_MAX_SLOTS)
            FAIL("too many slots");
        for (size_t i = 0; i < st.nslots; i++)
            if (!st.slots[i].port[0])
                FAIL("slot without a port");
        espfab_station_cfg_free(&st);
    } else if (st.slots || st.nslots) {
        FAIL("failed station parse left state behind");
    }
    return 0;
}

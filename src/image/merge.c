/*
 * merge.c - one flash image from several files (image.h,
 * espfab_image_merge): the parts laid out at their offsets with 0xFF gaps,
 * the bootloader's header patched as a flash would patch it.  Pure apart
 * from malloc; thread-safe.
 */
#include "espfab/image.h"

#include <stdlib.h>
#include <string.h>

/* Indexes of parts sorted by offset (insertion sort: a handful of files). */
static void sort_by_offset(const espfab_merge_part_t *parts, size_t n, size_t *idx)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = i;
        while (k > 0 && parts[idx[k - 1]].offset > parts[i].offset) {
            idx[k] = idx[k - 1];
            k--;
        }
        idx[k] = i;
    }
}

static const char *nm(const espfab_merge_part_t *p)
{
    return p->name ? p->name : "(unnamed)";
}

static int check_parts(const espfab_merge_part_t *parts, size_t n, const size_t *idx,
                       uint32_t fill_size, uint64_t *end, espfab_fault_t *f)
{
    *end = 0;
    for (size_t k = 0; k < n; k++) {
        const espfab_merge_part_t *a = &parts[idx[k]];
        if (a->len == 0 || !a->data)
            return espfab_fault_set(f, ESPFAB_E_IMAGE_EMPTY, "%s (at 0x%X) is empty", nm(a),
                                    a->offset);
        uint64_t a_end = (uint64_t)a->offset + a->len;
        if (a_end > 0x100000000ull)
            return espfab_fault_set(f, ESPFAB_E_REGION_PAST_FLASH,
                                    "%s at 0x%X (%zu bytes) ends past 4 GiB", nm(a), a->offset,
                                    a->len);
        if (k + 1 < n && a_end > parts[idx[k + 1]].offset) {
            const espfab_merge_part_t *b = &parts[idx[k + 1]];
            return espfab_fault_set(f, ESPFAB_E_REGION_OVERLAP,
                                    "%s at 0x%X-0x%llX overlaps %s at 0x%X",
                                    nm(a), a->offset, (unsigned long long)(a_end - 1), nm(b),
                                    b->offset);
        }
        if (a_end > *end)
            *end = a_end;
    }
    if (fill_size && *end > fill_size) {
        const espfab_merge_part_t *last = &parts[idx[n - 1]];
        return espfab_fault_set(f, ESPFAB_E_REGION_PAST_FLASH,
                                "%s at 0x%X ends at 0x%llX, past the --fill-flash-size of 0x%X "
                                "bytes", nm(last), last->offset, (unsigned long long)*end,
                                fill_size);
    }
    return 0;
}

int espfab_image_merge(const espfab_merge_part_t *parts, size_t n, const espfab_chip_t *chip,
                       const espfab_flash_params_t *p, uint32_t fill_size, uint8_t **out,
                       size_t *out_len, bool *patched, espfab_fault_t *f)
{
    bool dummy;
    if (!patched)
        patched = &dummy;
    *patched = false;
    *out = NULL;
    *out_len = 0;
    if (n == 0)
        return espfab_fault_set(f, ESPFAB_E_USAGE, "nothing to merge: give OFFSET FILE pairs");
    if (p && p->size == ESPFAB_FLASH_SIZE_DETECT)
        return espfab_fault_set(f, ESPFAB_E_FLASH_PARAM,
                                "flash size 'detect' needs a board to read the size from; give "
                                "the size (4MB...) or keep");
    if (!chip && !espfab_flash_params_keep(p))
        return espfab_fault_set(f, ESPFAB_E_USAGE,
                                "the flash mode/frequency/size codes depend on the chip: give "
                                "--chip (no image among the files names it)");
    int rc = chip ? espfab_flash_params_check(chip, p, f) : 0;
    if (rc)
        return rc;
    size_t *idx = malloc(n * sizeof(*idx));
    if (!idx)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "merging %zu files", n);
    sort_by_offset(parts, n, idx);
    uint64_t end;
    rc = check_parts(parts, n, idx, fill_size, &end, f);
    if (rc) {
        free(idx);
        return rc;
    }
    size_t total = fill_size > end ? fill_size : (size_t)end;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(idx);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "a merged image of %zu bytes", total);
    }
    memset(buf, 0xFF, total);
    for (size_t k = 0; k < n; k++) {
        const espfab_merge_part_t *a = &parts[idx[k]];
        memcpy(buf + a->offset, a->data, a->len);
        if (!chip || a->offset != chip->bootloader_offset)
            continue;
        bool pk = false;
        rc = espfab_image_patch_at(buf + a->offset, a->len, a->offset, chip, p, 0, &pk, f);
        if (rc) {
            free(idx);
            free(buf);
            return rc;
        }
        *patched = *patched || pk;
    }
    free(idx);
    *out = buf;
    *out_len = total;
    return 0;
}

/*
 * prepare.c - the bytes to write for one region (prepare.h).
 */
#include "espfab/prepare.h"

#include <stdlib.h>
#include <string.h>

int espfab_prepare_region(espfab_blob_cache_t *cache, espfab_blob_t *src, uint32_t offset,
                          const espfab_chip_t *chip, const espfab_flash_params_t *p, bool patch,
                          uint32_t detected_size, espfab_blob_t **out, bool *patched, espfab_fault_t *f)
{
    *out = NULL;
    *patched = false;
    size_t len = src->len, padded = (len + 3) & ~(size_t)3;
    bool want_patch = patch && chip && offset == chip->bootloader_offset;
    if (!want_patch && padded == len) {
        espfab_blob_ref(src);
        *out = src;
        return 0;
    }
    uint8_t *copy = malloc(padded ? padded : 1);
    if (!copy)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "copying an image of %zu bytes", len);
    memcpy(copy, src->data, len);
    memset(copy + len, 0xFF, padded - len);
    if (want_patch && espfab_image_patch_at(copy, padded, offset, chip, p, detected_size, patched, f) < 0) {
        free(copy);
        return f->code;
    }
    if (!*patched && padded == len) {
        free(copy);
        espfab_blob_ref(src);
        *out = src;
        return 0;
    }
    *out = espfab_blob_intern(cache, copy, padded);
    if (!*out)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "interning an image of %zu bytes", padded);
    return 0;
}

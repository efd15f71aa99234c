/*
 * prepare.h - turns a file to be flashed into the bytes that are written:
 * padded to a multiple of 4 with 0xFF (as esptool does) and, at the chip's
 * bootloader offset, with the flash mode/frequency/size patched into the
 * image header (checksum kept valid).  The result is interned in the blob
 * cache, so its SHA-256 and MD5 (what the record holds and what the device's
 * MD5 is compared with) are computed once and equal results share one copy.
 *
 * Pure apart from the cache: no I/O, no loop callbacks.  Ownership: the
 * caller gets one reference to *out and releases it with
 * espfab_blob_unref(cache, *out).  Threading: the cache's loop thread.
 */
#ifndef ESPFAB_PREPARE_H
#define ESPFAB_PREPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "espfab/blob.h"
#include "espfab/chip.h"
#include "espfab/err.h"
#include "espfab/image.h"

/* Prepares src (interned in cache), to be written at offset on chip.
 * patch: apply p to a bootloader header (false in secure download mode or
 * when espfab_flash_params_keep(p)).  detected_size: the flash size read
 * from the board, for a "detect" size.  *patched says whether the header
 * changed.  Returns 0, or an error with f filled (ESPFAB_E_NOMEM, or the
 * header patch's own errors). */
int espfab_prepare_region(espfab_blob_cache_t *cache, espfab_blob_t *src, uint32_t offset,
                          const espfab_chip_t *chip, const espfab_flash_params_t *p, bool patch,
                          uint32_t detected_size, espfab_blob_t **out, bool *patched, espfab_fault_t *f);

#endif

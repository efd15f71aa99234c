/*
 * memmap.h - internal to src/image: the load-address map of each chip, used
 * to decide which chip an image is for (an ESP8266 V1 image and an ESP32
 * image both start with 0xE9; where their segments load tells them apart).
 * Const data and pure functions; thread-safe.
 */
#ifndef ESPFAB_IMAGE_MEMMAP_H
#define ESPFAB_IMAGE_MEMMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "espfab/chip.h"

typedef struct memmap_region {
    uint32_t start, end;      /* [start, end) */
    const char *name;         /* "DRAM", "IROM"... */
    bool flash_mapped;        /* cache-mapped from flash (MMU page rule applies) */
} memmap_region_t;

/* Region holding addr in the chip's map (the first match), NULL if none. */
const memmap_region_t *espfab__memmap_find(espfab_chip_id_t chip, uint32_t addr);

/* Smallest MMU page size of the chip: a flash-mapped segment's file offset
 * and load address agree modulo this (0 for the ESP8266: no such rule). */
uint32_t espfab__memmap_page(espfab_chip_id_t chip);

#endif

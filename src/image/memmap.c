/*
 * memmap.c - per-chip load-address maps (from esptool's target classes'
 * MEMORY_MAP tables, restated as data).  Address 0..0x10000 is the PADDING
 * range esptool uses for the filler segments of ESP32-family images.
 */
#include "image/memmap.h"

#include <stddef.h>

#define R(s, e, n, m) { (s), (e), (n), (m) }
#define END R(0, 0, NULL, false)

static const memmap_region_t map_esp8266[] = {
    R(0x3FFE8000u, 0x40000000u, "DRAM", false),
    R(0x40100000u, 0x40110000u, "IRAM", false),
    R(0x40200000u, 0x40300000u, "IROM", true),
    END,
};

static const memmap_region_t map_esp32[] = {
    R(0x00000000u, 0x00010000u, "PADDING", false),
    R(0x3F400000u, 0x3F800000u, "DROM", true),
    R(0x3F800000u, 0x3FC00000u, "EXTRAM_DATA", false),
    R(0x3FF80000u, 0x3FF82000u, "RTC_DRAM", false),
    R(0x3FF90000u, 0x40000000u, "DRAM", false),
    R(0x40070000u, 0x40080000u, "CACHE", false),
    R(0x40080000u, 0x400A0000u, "IRAM", false),
    R(0x400A0000u, 0x400C0000u, "DIRAM_IRAM", false),
    R(0x400C0000u, 0x400C2000u, "RTC_IRAM", false),
    R(0x400D0000u, 0x40400000u, "IROM", true),
    R(0x50000000u, 0x50002000u, "RTC_DATA", false),
    END,
};

static const memmap_region_t map_esp32s2[] = {
    R(0x00000000u, 0x00010000u, "PADDING", false),
    R(0x3F000000u, 0x3F3F0000u, "DROM", true),
    R(0x3F3F0000u, 0x3FF80000u, "EXTRAM_DATA", false),
    R(0x3FF9E000u, 0x3FFA0000u, "RTC_DRAM", false),
    R(0x3FFA0000u, 0x40000000u, "DRAM", false),
    R(0x40020000u, 0x40070000u, "IRAM", false),
    R(0x40070000u, 0x40072000u, "RTC_IRAM", false),
    R(0x40080000u, 0x40800000u, "IROM", true),
    R(0x50000000u, 0x50002000u, "RTC_DATA", false),
    END,
};

static const memmap_region_t map_esp32s3[] = {
    R(0x00000000u, 0x00010000u, "PADDING", false),
    R(0x3C000000u, 0x3D000000u, "DROM", true),
    R(0x3D000000u, 0x3E000000u, "EXTRAM_DATA", false),
    R(0x3FC88000u, 0x3FD00000u, "DRAM", false),
    R(0x40370000u, 0x403E0000u, "IRAM", false),
    R(0x42000000u, 0x42800000u, "IROM", true),
    R(0x50000000u, 0x50002000u, "RTC_DATA", false),
    R(0x600FE000u, 0x60100000u, "RTC_RAM", false),
    END,
};

static const memmap_region_t map_esp32c2[] = {
    R(0x00000000u, 0x00010000u, "PADDING", false),
    R(0x3C000000u, 0x3C400000u, "DROM", true),
    R(0x3FC88000u, 0x3FD00000u, "DRAM", false),
    R(0x4037C000u, 0x403C0000u, "IRAM", false),
    R(0x42000000u, 0x42400000u, "IROM", true),
    END,
};

static const memmap_region_t map_esp32c3[] = {
    R(0x00000000u, 0x00010000u, "PADDING", false),
    R(0x3C000000u, 0x3C800000u, "DROM", true),
    R(0x3FC80000u, 0x3FD00000u, "DRAM", false),
    R(0x4037C000u, 0x403E0000u, "IRAM", false),
    R(0x42000000u, 0x42800000u, "IROM", true),
    R(0x50000000u, 0x50002000u, "RTC_RAM", false),
    R(0x600FE000u, 0x60100000u, "MEM_INTERNAL2", false),
    END,
};

/* ESP32-C6 and ESP32-H2 share one map (esptool's H2 class inherits C6's). */
static const memmap_region_t map_esp32c6[] = {
    R(0x00000000u, 0x00010000u, "PADDING", false),
    R(0x40800000u, 0x40880000u, "HP_SRAM", false),
    R(0x42000000u, 0x43000000u, "IROM/DROM", true),
    R(0x50000000u, 0x50004000u, "LP_SRAM", false),
    R(0x600FE000u, 0x60100000u, "MEM_INTERNAL2", false),
    END,
};

static const memmap_region_t map_esp32p4[] = {
    R(0x00000000u, 0x00010000u, "PADDING", false),
    R(0x40000000u, 0x4C000000u, "IROM/DROM", true),
    R(0x4FF00000u, 0x4FFC0000u, "HP_SRAM", false),
    R(0x50108000u, 0x50110000u, "LP_SRAM", false),
    R(0x600FE000u, 0x60100000u, "MEM_INTERNAL2", false),
    END,
};

static const memmap_region_t *map_of(espfab_chip_id_t chip)
{
    switch (chip) {
    case ESPFAB_CHIP_ESP8266: return map_esp8266;
    case ESPFAB_CHIP_ESP32: return map_esp32;
    case ESPFAB_CHIP_ESP32S2: return map_esp32s2;
    case ESPFAB_CHIP_ESP32S3: return map_esp32s3;
    case ESPFAB_CHIP_ESP32C2: return map_esp32c2;
    case ESPFAB_CHIP_ESP32C3: return map_esp32c3;
    case ESPFAB_CHIP_ESP32C6: return map_esp32c6;
    case ESPFAB_CHIP_ESP32H2: return map_esp32c6;
    case ESPFAB_CHIP_ESP32P4: return map_esp32p4;
    default: return NULL;
    }
}

const memmap_region_t *espfab__memmap_find(espfab_chip_id_t chip, uint32_t addr)
{
    const memmap_region_t *r = map_of(chip);
    for (; r && r->name; r++)
        if (addr >= r->start && addr < r->end)
            return r;
    return NULL;
}

uint32_t espfab__memmap_page(espfab_chip_id_t chip)
{
    switch (chip) {
    case ESPFAB_CHIP_ESP8266: return 0;
    case ESPFAB_CHIP_ESP32C2: return 0x4000;     /* 16/32/64 KiB configurable */
    case ESPFAB_CHIP_ESP32C6:
    case ESPFAB_CHIP_ESP32H2: return 0x2000;     /* 8..64 KiB configurable */
    default: return 0x10000;
    }
}

/*
 * image.h - firmware images and flash regions (docs/protocol.md section 6): parse
 * ESP8266 V1/V2 and ESP32-family images, decide which chip an image is for,
 * patch flash mode/frequency/size into a bootloader header, and validate a
 * list of regions before anything is sent to a board.  Pure code (buffers in,
 * results out); only espfab_image_load() touches the file system.
 * Thread-safe.
 */
#ifndef ESPFAB_IMAGE_H
#define ESPFAB_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/chip.h"
#include "espfab/err.h"

typedef enum espfab_image_format {
    ESPFAB_IMAGE_RAW = 0,       /* not an ESP image (data, partition table, FS) */
    ESPFAB_IMAGE_ESP8266_V1,    /* 0xE9, no extended header */
    ESPFAB_IMAGE_ESP8266_V2,    /* 0xEA + IROM + 0xE9 + RAM segments + CRC32 */
    ESPFAB_IMAGE_ESP32          /* 0xE9 + 16-byte extended header (chip id) */
} espfab_image_format_t;

typedef struct espfab_image_info {
    espfab_image_format_t format;
    int image_chip_id;          /* ESP32 family; -1 otherwise */
    espfab_chip_id_t chip;      /* chip the image is for; UNKNOWN for RAW, and
                                 * for an ESP32-family chip espfab does not
                                 * serve (ESP32-C5...: image_chip_id >= 0) */
    uint8_t flash_mode;         /* header byte 2 */
    uint8_t flash_size_freq;    /* header byte 3 */
    uint32_t entry;
    int segments;
    uint16_t min_rev_full, max_rev_full; /* ESP32 family; 0 / 0xFFFF if unset */
    bool hash_appended;
    size_t data_length;         /* bytes up to and including the checksum byte */
    bool checksum_ok;
    bool sha256_ok;             /* true when no hash is appended */
    /* Added by the image module (fields after this line are additions to the
     * original contract; existing fields are unchanged). */
    uint8_t min_rev;            /* legacy min_rev byte (ext. header byte 6) */
    size_t image_length;        /* whole image incl. digest/CRC32; data after
                                 * it (merged binaries) is not part of it */
    char reason[96];            /* why it is taken for that chip, for messages:
                                 * "chip id 9", "no extended header; segment 0
                                 * loads at 0x40100000 = ESP8266 IRAM" */
} espfab_image_info_t;

/* Parses buf.  A buffer that does not start with 0xE9/0xEA, or whose header
 * does not hold together, is ESPFAB_IMAGE_RAW (returns 0): only a plausible
 * image is treated as one.  Returns 0, or ESPFAB_E_IMAGE_BAD_HEADER /
 * _CHECKSUM / _SHA256 for an image that is clearly an image but corrupt
 * (detail says what and where; `name` names the file in the detail).
 * BAD_HEADER: the header and first segment are an image's but the rest does
 * not fit (truncated download, > 16 segments, bad segment length).
 * An 0xE9 buffer is read both as an ESP32-family image (extended header) and
 * as an ESP8266 V1 image; the load addresses of the segments in each chip's
 * memory map decide (info.reason says why).  Data after the image (merged
 * binaries) is ignored: info.image_length says where the image ends.  info
 * is filled as far as known even when an error is returned; f may be NULL. */
int espfab_image_parse(const uint8_t *buf, size_t len, const char *name,
                       espfab_image_info_t *info, espfab_fault_t *f);

/* Refuses an image built for another chip (both directions, ESP8266 vs ESP32
 * family included) and a chip revision outside [min_rev_full, max_rev_full]
 * (rev_full < 0: not checked).  RAW images always pass.  The detail names the
 * file, the chip the image is for and the chip on the port. */
int espfab_image_check_chip(const espfab_image_info_t *info, const char *name,
                            const espfab_chip_t *chip, int rev_full, espfab_fault_t *f);
/* Same, naming the port in the detail ("...; the board on /dev/ttyUSB0 is an
 * ESP8266").  port may be NULL ("the board is an ESP8266"). */
int espfab_image_check_chip_on(const espfab_image_info_t *info, const char *name,
                               const char *port, const espfab_chip_t *chip, int rev_full,
                               espfab_fault_t *f);
/* Same, with the phrase naming what the image is checked against
 * ("the board on /dev/ttyUSB0", "this profile's chip"). */
int espfab_image_check_chip_target(const espfab_image_info_t *info, const char *name,
                                   const char *target, const espfab_chip_t *chip, int rev_full,
                                   espfab_fault_t *f);
/* "ESP8266 V1", "ESP8266 V2", "ESP32-family", "raw data". */
const char *espfab_image_format_name(espfab_image_format_t fmt);

/* Flash parameters given by the user, typed (setting.h turns the user's
 * text into them); each *_KEEP keeps the header's value. */
typedef enum espfab_flash_mode {
    ESPFAB_FLASH_MODE_KEEP = 0,
    ESPFAB_FLASH_MODE_QIO,
    ESPFAB_FLASH_MODE_QOUT,
    ESPFAB_FLASH_MODE_DIO,
    ESPFAB_FLASH_MODE_DOUT,
    ESPFAB_FLASH_MODE_COUNT
} espfab_flash_mode_t;

/* Every frequency some chip has; which ones a chip accepts is chip-specific
 * (espfab_flash_params_check). */
typedef enum espfab_flash_freq {
    ESPFAB_FLASH_FREQ_KEEP = 0,
    ESPFAB_FLASH_FREQ_80M,
    ESPFAB_FLASH_FREQ_60M,
    ESPFAB_FLASH_FREQ_48M,
    ESPFAB_FLASH_FREQ_40M,
    ESPFAB_FLASH_FREQ_30M,
    ESPFAB_FLASH_FREQ_26M,
    ESPFAB_FLASH_FREQ_24M,
    ESPFAB_FLASH_FREQ_20M,
    ESPFAB_FLASH_FREQ_16M,
    ESPFAB_FLASH_FREQ_15M,
    ESPFAB_FLASH_FREQ_12M,
    ESPFAB_FLASH_FREQ_COUNT
} espfab_flash_freq_t;

/* espfab_flash_params_t.size: a byte count (256 KiB .. 128 MiB), or one of: */
#define ESPFAB_FLASH_SIZE_KEEP 0u    /* keep the header's size */
#define ESPFAB_FLASH_SIZE_DETECT 1u  /* the size read from the flash id */

typedef struct espfab_flash_params {
    espfab_flash_mode_t mode;
    espfab_flash_freq_t freq;
    uint32_t size;      /* bytes, or ESPFAB_FLASH_SIZE_KEEP / _DETECT */
    bool size_c1;       /* ESP8266 "2MB-c1" / "4MB-c1" layout of that size */
} espfab_flash_params_t;

/* "keep" "qio" "qout" "dio" "dout" ("?" out of range). */
const char *espfab_flash_mode_name(espfab_flash_mode_t m);
/* "keep" "80m" "60m" ... ("?" out of range). */
const char *espfab_flash_freq_name(espfab_flash_freq_t f);
/* "keep", "detect", "4MB", "512KB", "2MB-c1" into buf; returns buf. */
const char *espfab_flash_size_name(const espfab_flash_params_t *p, char *buf, size_t len);
/* All three are KEEP: nothing to patch. */
bool espfab_flash_params_keep(const espfab_flash_params_t *p);
/* The size the user says the flash has: bytes, 0 for KEEP and DETECT. */
uint32_t espfab_flash_params_size(const espfab_flash_params_t *p);

/* Validates the parameters for a chip (ESPFAB_E_FLASH_PARAM naming the bad
 * value and the allowed ones). detected_size is used for "detect". */
int espfab_flash_params_check(const espfab_chip_t *chip, const espfab_flash_params_t *p,
                              espfab_fault_t *f);

/* Patches mode/size/freq into the header of an image at the chip's bootloader
 * offset, keeping the checksum valid (the header is not covered) and
 * recomputing an appended SHA-256.  Does nothing (returns 0, *patched=false)
 * when the buffer is not an image or all parameters are "keep". */
int espfab_image_patch(uint8_t *buf, size_t len, const espfab_chip_t *chip,
                       const espfab_flash_params_t *p, uint32_t detected_flash_size,
                       bool *patched, espfab_fault_t *f);

/* espfab_image_patch() for data written at flash offset `offset`: patches
 * only when offset is the chip's bootloader offset (esptool's rule), else
 * returns 0 with *patched=false. */
int espfab_image_patch_at(uint8_t *buf, size_t len, uint32_t offset, const espfab_chip_t *chip,
                          const espfab_flash_params_t *p, uint32_t detected_flash_size,
                          bool *patched, espfab_fault_t *f);

/* What a region is declared to be (a profile's `kind =`; AUTO elsewhere). */
typedef enum espfab_region_kind {
    ESPFAB_REGION_AUTO = 0,     /* judged by its content and offset */
    ESPFAB_REGION_DATA,         /* declared data ("kind = data") */
    ESPFAB_REGION_IMAGE         /* declared firmware image ("kind = image") */
} espfab_region_kind_t;

/* A region to write. */
typedef struct espfab_region {
    uint32_t offset;
    const char *name;           /* file name for messages */
    size_t len;
} espfab_region_t;

/* Refuses overlapping regions, unaligned offsets (4 KiB), empty regions and
 * regions past flash_size (0 = unknown: not checked).  The detail names both
 * files and offsets. */
int espfab_regions_check(const espfab_region_t *r, size_t n, uint32_t flash_size,
                         espfab_fault_t *f);

/* ---- what may be flashed where (layout.c; docs/protocol.md section 6.6) ----
 *
 * An ESP-IDF partition table: 32-byte entries (magic 0xAA50), an optional
 * MD5 entry (0xEBEB), ended by an 0xFF entry or its 0xC00-byte limit. */
#define ESPFAB_PARTITIONS_MAX 95

typedef enum espfab_partition_type {
    ESPFAB_PART_APP = 0x00,
    ESPFAB_PART_DATA = 0x01,
    ESPFAB_PART_BOOTLOADER = 0x02,     /* ESP-IDF >= 5.3 */
    ESPFAB_PART_TABLE = 0x03           /* ESP-IDF >= 5.3 */
} espfab_partition_type_t;             /* 0x40..0xFE: custom (data) types */

typedef struct espfab_partition {
    uint8_t type, subtype;
    uint32_t offset, size;
    char label[17];                    /* NUL-terminated, printable only */
    uint32_t flags;
} espfab_partition_t;

typedef struct espfab_partition_table {
    size_t n;
    bool has_md5;
    espfab_partition_t p[ESPFAB_PARTITIONS_MAX];
    bool md5_bad;                      /* an MD5 entry that does not match
                                          (the parse fails; p[0..n) hold the
                                          entries it covers) */
} espfab_partition_table_t;

/* True when buf starts like a partition table (0xAA 0x50). */
bool espfab_partition_table_like(const uint8_t *buf, size_t len);
/* Decodes a partition table.  Returns 0 with *t filled, or
 * ESPFAB_E_PARTITION_TABLE_BAD (a bad entry, MD5, overlap or a partition
 * not 4 KiB aligned; the detail names the file and the entry).  Pure. */
int espfab_partition_table_parse(const uint8_t *buf, size_t len, const char *name,
                                 espfab_partition_table_t *t, espfab_fault_t *f);
/* "app", "data", "bootloader", "partition table", "custom". */
const char *espfab_partition_type_name(uint8_t type);
/* ESP-IDF's name for a subtype ("nvs", "phy", "factory", "ota_3", "spiffs")
 * into buf, or its number ("0x42") when it has none; returns buf. */
const char *espfab_partition_subtype_name(uint8_t type, uint8_t subtype, char *buf, size_t len);

/* True when buf is an ELF file (0x7F 'E' 'L' 'F'). */
bool espfab_image_is_elf(const uint8_t *buf, size_t len);

/* Flags for espfab_regions_check_layout(). */
#define ESPFAB_LAYOUT_DECLARED 0x1u    /* raw data must be declared (kind =
                                          data) or lie in a data partition of
                                          a partition table among the regions
                                          (profiles: where a declaration can
                                          be written) */
#define ESPFAB_LAYOUT_DEFAULT_APP 0x2u /* with no partition table among the
                                          regions, 0x10000 is the app offset
                                          on ESP32-family chips (ESP-IDF's
                                          layout) unless declared data */
#define ESPFAB_LAYOUT_KINDS_UNKNOWN 0x4u /* the caller does not have the
                                          declarations (the session: they
                                          were checked where the regions
                                          came from): every rule a kind =
                                          data overrides is left out */
#define ESPFAB_LAYOUT_FORCE 0x8u       /* --force: only what nothing excuses
                                          (an ELF) is refused */

/* What may be written where, for chip (NULL: not known yet; the rules that
 * need it are left for the check at the board).  Run after
 * espfab_regions_check().  data[i] is region i's bytes (r[i].len of them;
 * data NULL or data[i] NULL: not known, judged by offset only); kind[i] its
 * declared kind (kind NULL: all AUTO).
 *  - an ELF is always refused (ESPFAB_E_IMAGE_ELF, with the way out);
 *  - the chip's bootloader offset, an app (or bootloader) partition and a
 *    region declared kind = image must hold an ESP image
 *    (ESPFAB_E_IMAGE_NOT_IMAGE);
 *  - a partition table among the regions is decoded (_PARTITION_TABLE_BAD);
 *    its partitions must end within flash_size (0 = unknown: not checked;
 *    _PARTITION_PAST_FLASH); a region must stay inside the partition it
 *    starts in and outside every other (_PARTITION_MISFIT); an image outside
 *    every partition must be the bootloader at the chip's offset
 *    (_IMAGE_BOOT_OFFSET); raw data outside every data partition, or an
 *    image inside one, must be declared data (_IMAGE_UNDECLARED_DATA /
 *    _PARTITION_MISFIT);
 *  - with no table: an ESP32-family image below 0x8000 must sit at the
 *    chip's bootloader offset; flags add the rules above.
 * The detail names the file, its offset, the partition and the way out;
 * *at (may be NULL) gets the index of the region at fault.  Pure;
 * thread-safe. */
int espfab_regions_check_layout(const espfab_region_t *r, const uint8_t *const *data,
                                const espfab_region_kind_t *kind, size_t n,
                                const espfab_chip_t *chip, uint32_t flash_size, unsigned flags,
                                size_t *at, espfab_fault_t *f);

/* ---- describing an image (describe.c; `espfab image-info`) ---- */

/* One segment as the file holds it. */
typedef struct espfab_image_segment {
    uint32_t addr;              /* load address (0: padding / V2 IROM) */
    uint32_t len;               /* data bytes */
    size_t file_offset;         /* offset of the segment's 8-byte header */
    const char *region;         /* "DROM", "IRAM"... in the chip's map; "" */
} espfab_image_segment_t;

#define ESPFAB_IMAGE_SEGMENTS_MAX 17 /* V2: the IROM segment + 16 */

/* The segments of an image espfab_image_parse() recognised (info from it,
 * even when it returned a checksum or digest error).  Returns how many were
 * stored in seg (at most cap; fewer when the file ends early), 0 for RAW. */
size_t espfab_image_segments(const uint8_t *buf, size_t len, const espfab_image_info_t *info,
                             espfab_image_segment_t *seg, size_t cap);

/* The ESP-IDF application description (esp_app_desc_t, 256 bytes) at the
 * start of an app's first segment when that segment is flash-mapped data
 * (DROM) and starts with the magic word 0xABCD5432.  Strings are NUL-ended
 * copies, non-printable bytes replaced by '?'. */
#define ESPFAB_APP_DESC_MAGIC 0xABCD5432u
typedef struct espfab_app_desc {
    uint32_t secure_version;
    char version[33];
    char project_name[33];
    char time[17];
    char date[17];
    char idf_ver[33];
    uint8_t elf_sha256[32];
    uint16_t min_efuse_blk_rev_full, max_efuse_blk_rev_full;
    uint8_t mmu_page_size_log2; /* 0: not recorded (ESP-IDF < 5.3) */
} espfab_app_desc_t;

/* Fills *d and returns true when the image (ESP32 family) has one. */
bool espfab_image_app_desc(const uint8_t *buf, size_t len, const espfab_image_info_t *info,
                           espfab_app_desc_t *d);

/* The header's flash mode, frequency and size as names for the chip the
 * image is for ("dio", "40m", "4MB"; "unknown (0x5)" for a code the chip
 * does not have; the ESP32-C6's code 0 is "80m/40m").  Pure. */
typedef struct espfab_image_header_names {
    char mode[24], freq[24], size[24];
} espfab_image_header_names_t;
void espfab_image_header_names(const espfab_image_info_t *info, espfab_image_header_names_t *n);

/* ---- merging files into one flash image (merge.c; `espfab merge`) ---- */

typedef struct espfab_merge_part {
    uint32_t offset;            /* flash offset */
    const char *name;           /* file name for messages */
    const uint8_t *data;
    size_t len;
} espfab_merge_part_t;

/* One image of the flash from offset 0, as esptool's merge_bin writes it:
 * the parts in offset order (any order given), the gaps 0xFF, the image at
 * the chip's bootloader offset patched with p (espfab_image_patch_at: same
 * bytes as a flash would write), then 0xFF up to fill_size (0: no fill).
 * chip may be NULL only when p is all "keep" (nothing to patch).  Refuses
 * overlapping parts (ESPFAB_E_REGION_OVERLAP naming both files), an empty
 * part (_IMAGE_EMPTY), size "detect" (_FLASH_PARAM: no board to detect) and
 * an output longer than fill_size (_REGION_PAST_FLASH).  *out is malloc'd
 * (the caller frees it), *out_len its length; *patched (may be NULL) says
 * whether a header changed.  Pure; thread-safe. */
int espfab_image_merge(const espfab_merge_part_t *parts, size_t n, const espfab_chip_t *chip,
                       const espfab_flash_params_t *p, uint32_t fill_size, uint8_t **out,
                       size_t *out_len, bool *patched, espfab_fault_t *f);

/* Reads a whole file into a malloc'd buffer (ESPFAB_E_IMAGE_MISSING / _EMPTY /
 * _READ / _TOO_BIG / _NOT_FILE with the path in the detail).  Only a regular
 * file is read: a FIFO, device or socket is refused without reading from it
 * (a FIFO is opened non-blocking, so a writer-less FIFO does not hang). */
int espfab_image_load(const char *path, uint8_t **buf, size_t *len, espfab_fault_t *f);

#endif

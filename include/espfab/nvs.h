/*
 * nvs.h - ESP-IDF NVS partitions: the partition CSV parsed into rows, rows
 * turned into the partition binary (byte for byte what ESP-IDF's
 * esp-idf-nvs-partition-gen writes, version 1 or 2), and a binary decoded
 * back into pages and entries.  docs/nvs.md describes the format.
 *
 * Ownership: an espfab_nvs_csv_t owns its rows, their keys and values and
 * the names of the CSVs they came from; espfab_nvs_csv_free() releases all
 * of it.  espfab_nvs_generate() hands out a malloc'd image the caller frees.
 * Decoding borrows the caller's buffer and hands the visitor pointers that
 * are valid only during the call.
 *
 * Threading and I/O: everything here is pure (no I/O, no global state) and
 * may run on any thread, one set of rows per thread at a time, except
 * espfab_nvs_csv_read() and espfab_nvs_load_files() (src/nvs/nvs_file.c),
 * the edge that reads the CSV and the files `file` rows name.  The visitor
 * of espfab_nvs_decode() is called synchronously, in flash order.
 *
 * The two steps, parse then generate, let a caller change a row's value
 * (placeholders filled per board) between them with espfab_nvs_row_set().
 */
#ifndef ESPFAB_NVS_H
#define ESPFAB_NVS_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/err.h"

#define ESPFAB_NVS_PAGE 4096u
#define ESPFAB_NVS_KEY_MAX 15 /* bytes, without the NUL */

typedef enum espfab_nvs_kind {
    ESPFAB_NVS_NAMESPACE,
    ESPFAB_NVS_DATA,
    ESPFAB_NVS_FILE, /* value is a path, relative to the CSV's folder */
} espfab_nvs_kind_t;

typedef enum espfab_nvs_enc {
    ESPFAB_NVS_U8,
    ESPFAB_NVS_I8,
    ESPFAB_NVS_U16,
    ESPFAB_NVS_I16,
    ESPFAB_NVS_U32,
    ESPFAB_NVS_I32,
    ESPFAB_NVS_U64,
    ESPFAB_NVS_I64,
    ESPFAB_NVS_STRING,
    ESPFAB_NVS_HEX2BIN,
    ESPFAB_NVS_BASE64,
    ESPFAB_NVS_BINARY,
} espfab_nvs_enc_t;

typedef struct espfab_nvs_row {
    espfab_nvs_kind_t kind;
    espfab_nvs_enc_t enc;  /* not used by namespace rows */
    char key[ESPFAB_NVS_KEY_MAX + 1];
    char *value;           /* CSV text, or a FILE row's contents once loaded */
    size_t value_len;
    char *path;            /* FILE rows: the path as written (NULL otherwise) */
    int loaded;            /* FILE rows: value holds the file's contents */
    unsigned line;         /* line of the CSV the row starts on */
    size_t src;            /* index into espfab_nvs_csv_t.srcs */
} espfab_nvs_row_t;

typedef struct espfab_nvs_src {
    char *name; /* for messages: "nvs.csv" */
    char *dir;  /* folder FILE paths are relative to ("." when none) */
} espfab_nvs_src_t;

typedef struct espfab_nvs_csv {
    espfab_nvs_row_t *rows;
    size_t nrows, cap;
    espfab_nvs_src_t *srcs;
    size_t nsrcs, srccap;
} espfab_nvs_csv_t;

/* Parses one CSV text (header `key,type,encoding,value` in any column
 * order, '#' lines skipped, RFC-4180 quotes) and appends its rows to *csv
 * (zero-initialise it before the first call; several CSVs make one
 * partition, as the reference's `generate a.csv b.csv ...`).  name is used
 * in messages, dir is where FILE paths start.  Every error is
 * ESPFAB_E_NVS_CSV with "name:line: ..." in the detail; *csv then keeps
 * only the rows of earlier calls. */
int espfab_nvs_csv_parse(espfab_nvs_csv_t *csv, const char *text, size_t len, const char *name,
                         const char *dir, espfab_fault_t *f);
void espfab_nvs_csv_free(espfab_nvs_csv_t *csv);
/* Replaces a row's value (a DATA row's text or a FILE row's path, which
 * then needs loading again).  0 or ESPFAB_E_NOMEM. */
int espfab_nvs_row_set(espfab_nvs_row_t *row, const char *value, size_t len);

/* Edge (I/O): reads a CSV file and parses it (dir = the file's folder). */
int espfab_nvs_csv_read(espfab_nvs_csv_t *csv, const char *path, espfab_fault_t *f);
/* Edge (I/O): loads every FILE row not loaded yet; ESPFAB_E_NVS_FILE names
 * the CSV line and the path on failure. */
int espfab_nvs_load_files(espfab_nvs_csv_t *csv, espfab_fault_t *f);

/* A partition size as the reference takes it ("0x6000", "24576", "0o..",
 * "0b..."): a multiple of 4096, at least 4096.  ESPFAB_E_NVS_SIZE. */
int espfab_nvs_size_parse(const char *text, uint32_t *size, espfab_fault_t *f);

/* Builds the partition: version 1 or 2, size a multiple of 4096 (>= 4096).
 * Partitions of 12 KiB and more get every page of size (the last one the
 * reserved spare page); smaller ones are read-only and the image holds only
 * the pages used, as the reference writes them.  Errors name the CSV line:
 * ESPFAB_E_NVS_CSV (a value the encoding cannot hold, no namespace yet,
 * too long), ESPFAB_E_NVS_FULL (size too small), ESPFAB_E_NVS_FILE (a FILE
 * row not loaded).  On success *out (malloc'd) and *out_len are set. */
int espfab_nvs_generate(const espfab_nvs_csv_t *csv, uint32_t size, int version, uint8_t **out,
                        size_t *out_len, espfab_fault_t *f);

/* ---- decoding ---- */

/* Entry type bytes as they sit in flash. */
enum {
    ESPFAB_NVS_T_U8 = 0x01,
    ESPFAB_NVS_T_I8 = 0x11,
    ESPFAB_NVS_T_U16 = 0x02,
    ESPFAB_NVS_T_I16 = 0x12,
    ESPFAB_NVS_T_U32 = 0x04,
    ESPFAB_NVS_T_I32 = 0x14,
    ESPFAB_NVS_T_U64 = 0x08,
    ESPFAB_NVS_T_I64 = 0x18,
    ESPFAB_NVS_T_STR = 0x21,
    ESPFAB_NVS_T_BLOB = 0x41,
    ESPFAB_NVS_T_BLOB_DATA = 0x42,
    ESPFAB_NVS_T_BLOB_IDX = 0x48,
};

typedef enum espfab_nvs_ev_kind {
    ESPFAB_NVS_EV_PAGE,  /* a page header */
    ESPFAB_NVS_EV_ENTRY, /* one written entry (and its span) */
} espfab_nvs_ev_kind_t;

/* Problems found, as bits of espfab_nvs_ev_t.bad. */
enum {
    ESPFAB_NVS_BAD_HEADER_CRC = 1, /* page header CRC */
    ESPFAB_NVS_BAD_ENTRY_CRC = 2,  /* entry CRC (bytes 0-3 and 8-31) */
    ESPFAB_NVS_BAD_DATA_CRC = 4,   /* CRC of a string's or blob chunk's data */
    ESPFAB_NVS_BAD_SPAN = 8,       /* span runs past the page or is 0 */
    ESPFAB_NVS_BAD_BLOB = 16,      /* blob index whose chunks are missing or short */
};

typedef struct espfab_nvs_ev {
    espfab_nvs_ev_kind_t kind;
    unsigned page;       /* page index in the buffer */
    unsigned entry;      /* ENTRY: first entry index in the page */
    unsigned bad;        /* ESPFAB_NVS_BAD_* bits */
    /* PAGE */
    uint32_t state;      /* 0xFFFFFFFE active, 0xFFFFFFFC full, 0xFFFFFFF8 freeing, ... */
    uint32_t seq;
    uint8_t version;     /* 0xFF v1, 0xFE v2 */
    int empty;           /* the page is all 0xFF (never used) */
    /* ENTRY */
    uint8_t ns;          /* 0: this entry declares a namespace */
    const char *ns_name; /* the namespace's name, NULL if undeclared */
    uint8_t type;        /* ESPFAB_NVS_T_* (anything for a damaged entry) */
    uint8_t span, chunk;
    char key[ESPFAB_NVS_KEY_MAX + 1];
    uint64_t u;          /* primitives: the value's bits (sign-extend by type) */
    const uint8_t *data; /* strings (with their NUL), v1 blobs, blob data
                          * chunks, and for a blob index the whole blob
                          * assembled from its chunks (NULL if it could not be) */
    size_t data_len;
    uint32_t blob_size;  /* BLOB_IDX */
    uint8_t chunk_count, chunk_start;
} espfab_nvs_ev_t;

typedef void (*espfab_nvs_visit_fn)(const espfab_nvs_ev_t *ev, void *ctx);

/* Decodes len bytes (whole pages; a trailing partial page is ignored) and
 * calls fn for each page and each written entry.  Returns the number of
 * problems found (0: every CRC holds) or ESPFAB_E_NOMEM. */
int espfab_nvs_decode(const uint8_t *buf, size_t len, espfab_nvs_visit_fn fn, void *ctx);
/* "u8", "i16", "string", "blob", "blob_data", "blob_index"; "?" otherwise. */
const char *espfab_nvs_type_name(uint8_t type);

#endif

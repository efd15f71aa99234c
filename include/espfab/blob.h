/*
 * blob.h - content-addressed image blobs shared by every session of a run.
 *
 * A blob is an immutable byte buffer with its SHA-256 and MD5, and (once
 * requested) its zlib-compressed form (level 9, as esptool sends it).  The
 * cache interns blobs by SHA-256, so 64 boards flashing the same image hold
 * one copy and compress it once: compression runs on the libuv threadpool
 * (uv_queue_work) once per blob, never per board; every waiter's callback
 * fires on the loop thread when the result is ready.
 *
 * Ownership: the cache owns blobs; sessions take references with
 * espfab_blob_ref/unref.  The cache and all blobs belong to one loop.
 */
#ifndef ESPFAB_BLOB_H
#define ESPFAB_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct espfab_blob_cache espfab_blob_cache_t;

typedef struct espfab_blob {
    uint8_t *data;
    size_t len;
    uint8_t sha256[32];
    char sha256_hex[65];
    uint8_t md5[16];
    char md5_hex[33];
    uint8_t *zdata;        /* NULL until compressed */
    size_t zlen;
    int refs;              /* private */
    void *priv;            /* private */
} espfab_blob_t;

typedef void (*espfab_blob_ready_cb)(espfab_blob_t *b, int status, void *data);

espfab_blob_cache_t *espfab_blob_cache_new(uv_loop_t *loop);
/* Frees the cache; blobs still referenced are freed too (call at shutdown). */
void espfab_blob_cache_free(espfab_blob_cache_t *c);

/* Takes ownership of data (malloc'd).  Returns the blob with that SHA-256,
 * with one reference for the caller: an existing one (data is freed) or a
 * new one.  NULL only on allocation failure (data freed). */
espfab_blob_t *espfab_blob_intern(espfab_blob_cache_t *c, uint8_t *data, size_t len);
/* Same, copying data. */
espfab_blob_t *espfab_blob_intern_copy(espfab_blob_cache_t *c, const uint8_t *data, size_t len);
void espfab_blob_ref(espfab_blob_t *b);
void espfab_blob_unref(espfab_blob_cache_t *c, espfab_blob_t *b);

/* Ensures b->zdata.  cb fires on the loop thread (never synchronously from
 * this call), with status 0 or ESPFAB_E_NOMEM.  Compression of one blob runs
 * at most once however many callers ask. Returns 0 or an error. */
int espfab_blob_compress(espfab_blob_cache_t *c, espfab_blob_t *b, espfab_blob_ready_cb cb,
                         void *data);
/* Number of compressions actually run (for tests and the benchmark). */
unsigned espfab_blob_cache_compressions(const espfab_blob_cache_t *c);

#endif

/* test_blob.c - the content-addressed blob cache (src/session/blob.c). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "check.h"
#include "espfab/blob.h"
#include "espfab/err.h"

static uint8_t *pattern(size_t len, uint32_t seed)
{
    uint8_t *p = malloc(len);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        /* Compressible but not trivial: runs of pseudo-random bytes. */
        p[i] = (i % 64 < 40) ? (uint8_t)(x >> 24) : 0xFF;
    }
    return p;
}

static void test_intern_dedups(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    espfab_blob_cache_t *c = espfab_blob_cache_new(&loop);
    CHECK(c != NULL);
    uint8_t *a = pattern(5000, 1);
    espfab_blob_t *b1 = espfab_blob_intern_copy(c, a, 5000);
    espfab_blob_t *b2 = espfab_blob_intern(c, pattern(5000, 1), 5000);
    espfab_blob_t *b3 = espfab_blob_intern(c, pattern(5000, 2), 5000);
    CHECK(b1 && b2 && b3);
    CHECK(b1 == b2);
    CHECK(b1 != b3);
    CHECK_EQ(b1->refs, 2);
    CHECK_EQ(b1->len, 5000);
    CHECK_MEM(b1->data, a, 5000);

    /* Digests against OpenSSL computed here independently. */
    uint8_t sha[32], md5[16];
    unsigned n = 0;
    EVP_Digest(a, 5000, sha, &n, EVP_sha256(), NULL);
    EVP_Digest(a, 5000, md5, &n, EVP_md5(), NULL);
    CHECK_MEM(b1->sha256, sha, 32);
    CHECK_MEM(b1->md5, md5, 16);
    char hx[3];
    snprintf(hx, sizeof(hx), "%02x", sha[0]);
    CHECK(strncmp(b1->sha256_hex, hx, 2) == 0);
    CHECK_EQ(strlen(b1->sha256_hex), 64);
    CHECK_EQ(strlen(b1->md5_hex), 32);
    snprintf(hx, sizeof(hx), "%02x", md5[15]);
    CHECK(strcmp(b1->md5_hex + 30, hx) == 0);

    /* Known vector: MD5("") and SHA-256(""). */
    espfab_blob_t *e = espfab_blob_intern_copy(c, (const uint8_t *)"", 0);
    CHECK(e != NULL);
    if (e) {
        CHECK_STR(e->md5_hex, "d41d8cd98f00b204e9800998ecf8427e");
        CHECK_STR(e->sha256_hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        espfab_blob_unref(c, e);
    }

    /* Dropping every reference forgets the blob; interning again makes a new one. */
    espfab_blob_unref(c, b2);
    CHECK_EQ(b1->refs, 1);
    espfab_blob_unref(c, b1);
    espfab_blob_t *b4 = espfab_blob_intern_copy(c, a, 5000);
    CHECK(b4 != NULL);
    CHECK_EQ(b4->refs, 1);
    espfab_blob_unref(c, b4);
    espfab_blob_unref(c, b3);
    free(a);
    espfab_blob_cache_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

typedef struct {
    int calls;
    int status;
    espfab_blob_t *blob;
    int sync_guard;      /* set while inside espfab_blob_compress */
    int called_sync;
} waiter_ctx;

static void on_ready(espfab_blob_t *b, int status, void *data)
{
    waiter_ctx *w = data;
    if (w->sync_guard)
        w->called_sync = 1;
    w->calls++;
    w->status = status;
    w->blob = b;
}

static void test_compress_once(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    espfab_blob_cache_t *c = espfab_blob_cache_new(&loop);
    const size_t len = 300 * 1024;
    uint8_t *orig = pattern(len, 7);
    espfab_blob_t *blobs[10];
    waiter_ctx w[10];
    memset(w, 0, sizeof(w));
    /* Ten sessions with the same image ask at the same time. */
    for (int i = 0; i < 10; i++) {
        blobs[i] = espfab_blob_intern_copy(c, orig, len);
        CHECK(blobs[i] == blobs[0]);
        w[i].sync_guard = 1;
        CHECK_EQ(espfab_blob_compress(c, blobs[i], on_ready, &w[i]), 0);
        w[i].sync_guard = 0;
    }
    CHECK_EQ(espfab_blob_cache_compressions(c), 1);
    CHECK(blobs[0]->zdata == NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(w[i].calls, 1);
        CHECK_EQ(w[i].status, 0);
        CHECK(w[i].blob == blobs[0]);
        CHECK_EQ(w[i].called_sync, 0);
    }
    espfab_blob_t *b = blobs[0];
    CHECK(b->zdata != NULL);
    CHECK(b->zlen > 0 && b->zlen < len);

    /* The compressed form inflates back to the data. */
    uLongf outlen = len + 16;
    uint8_t *back = malloc(outlen);
    CHECK_EQ(uncompress(back, &outlen, b->zdata, b->zlen), Z_OK);
    CHECK_EQ(outlen, len);
    CHECK_MEM(back, orig, len);
    /* Level 9 as esptool: identical to compress2(..., 9) done here. */
    uLongf reflen = compressBound(len);
    uint8_t *ref = malloc(reflen);
    compress2(ref, &reflen, orig, len, 9);
    CHECK_EQ(reflen, b->zlen);
    CHECK_MEM(ref, b->zdata, reflen);
    free(ref);
    free(back);

    /* A late caller gets the cached result, asynchronously, with no new compression. */
    waiter_ctx late;
    memset(&late, 0, sizeof(late));
    late.sync_guard = 1;
    CHECK_EQ(espfab_blob_compress(c, b, on_ready, &late), 0);
    late.sync_guard = 0;
    CHECK_EQ(late.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(late.calls, 1);
    CHECK_EQ(late.status, 0);
    CHECK_EQ(late.called_sync, 0);
    CHECK_EQ(espfab_blob_cache_compressions(c), 1);

    /* A different image compresses separately. */
    espfab_blob_t *other = espfab_blob_intern(c, pattern(1000, 9), 1000);
    waiter_ctx wo;
    memset(&wo, 0, sizeof(wo));
    CHECK_EQ(espfab_blob_compress(c, other, on_ready, &wo), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(wo.calls, 1);
    CHECK_EQ(espfab_blob_cache_compressions(c), 2);

    for (int i = 0; i < 10; i++)
        espfab_blob_unref(c, blobs[i]);
    espfab_blob_unref(c, other);
    free(orig);
    espfab_blob_cache_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

/* A waiter may drop its reference from the callback; the others still get
 * theirs, and the cache may be freed with compression still running. */
static espfab_blob_cache_t *drop_cache;
static void on_ready_unref(espfab_blob_t *b, int status, void *data)
{
    on_ready(b, status, data);
    espfab_blob_unref(drop_cache, b);
}

static void test_unref_in_callback_and_free_while_running(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    espfab_blob_cache_t *c = espfab_blob_cache_new(&loop);
    drop_cache = c;
    const size_t len = 64 * 1024;
    waiter_ctx w[3];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < 3; i++) {
        espfab_blob_t *b = espfab_blob_intern(c, pattern(len, 3), len);
        CHECK_EQ(espfab_blob_compress(c, b, on_ready_unref, &w[i]), 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(w[i].calls, 1);

    /* Free with a compression queued: no callback, no leak (ASan checks). */
    espfab_blob_t *b = espfab_blob_intern(c, pattern(len, 4), len);
    waiter_ctx x;
    memset(&x, 0, sizeof(x));
    CHECK_EQ(espfab_blob_compress(c, b, on_ready, &x), 0);
    espfab_blob_cache_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(x.calls, 0);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    RUN(test_intern_dedups);
    RUN(test_compress_once);
    RUN(test_unref_in_callback_and_free_while_running);
    return check_summary();
}

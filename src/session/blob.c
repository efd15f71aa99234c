/*
 * blob.c - content-addressed image blobs (see blob.h).  Blobs are kept in a
 * singly linked list per cache (a run holds a handful of images).  Each blob
 * compresses at most once: the first espfab_blob_compress() queues a
 * uv_work_t, later callers join its waiter list.  Callers arriving after the
 * result is ready are served through a no-op uv_work_t so that their callback
 * still fires on the loop thread and never from inside the call.
 */
#include "espfab/blob.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "espfab/err.h"

typedef enum { Z_NONE = 0, Z_RUNNING, Z_DONE, Z_FAILED } zstate_t;

typedef struct waiter {
    uv_work_t req;             /* used only for the "already done" path */
    struct waiter *next;
    espfab_blob_t *blob;
    espfab_blob_ready_cb cb;
    void *data;
} waiter_t;

typedef struct blob_priv {
    struct blob_priv *next;
    espfab_blob_t *blob;
    espfab_blob_cache_t *cache;
    zstate_t zstate;
    uv_work_t work;            /* the compression */
    uint8_t *zout;             /* filled by the worker thread */
    size_t zout_len;
    int zstatus;
    waiter_t *waiters;         /* joined while RUNNING */
    int inflight;              /* outstanding uv_work_t for this blob */
} blob_priv_t;

struct espfab_blob_cache {
    uv_loop_t *loop;
    blob_priv_t *blobs;
    unsigned compressions;
    int pending;               /* outstanding uv_work_t in total */
    int closing;               /* espfab_blob_cache_free() called with work pending */
};

espfab_blob_cache_t *espfab_blob_cache_new(uv_loop_t *loop)
{
    espfab_blob_cache_t *c = calloc(1, sizeof(*c));
    if (c)
        c->loop = loop;
    return c;
}

static void blob_destroy(blob_priv_t *p)
{
    espfab_blob_t *b = p->blob;
    free(b->data);
    free(b->zdata);
    free(p->zout);
    /* Waiters still listed never get their callback: the cache is going away. */
    for (waiter_t *w = p->waiters, *nx; w; w = nx) {
        nx = w->next;
        free(w);
    }
    free(b);
    free(p);
}

static void cache_destroy(espfab_blob_cache_t *c)
{
    for (blob_priv_t *p = c->blobs, *nx; p; p = nx) {
        nx = p->next;
        blob_destroy(p);
    }
    free(c);
}

void espfab_blob_cache_free(espfab_blob_cache_t *c)
{
    if (!c)
        return;
    if (c->pending > 0) {
        /* A worker may still be reading a blob: the last after-work
         * callback finishes the job (and calls no user callback). */
        c->closing = 1;
        return;
    }
    cache_destroy(c);
}

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int digest(const EVP_MD *md, const uint8_t *data, size_t len, uint8_t *out)
{
    unsigned int olen = 0;
    return EVP_Digest(data, len, out, &olen, md, NULL) == 1 ? 0 : -1;
}

static void unlink_blob(espfab_blob_cache_t *c, blob_priv_t *p)
{
    for (blob_priv_t **pp = &c->blobs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

espfab_blob_t *espfab_blob_intern(espfab_blob_cache_t *c, uint8_t *data, size_t len)
{
    if (!c) {
        free(data);
        return NULL;
    }
    uint8_t sha[32];
    if (digest(EVP_sha256(), data, len, sha) != 0) {
        free(data);
        return NULL;
    }
    for (blob_priv_t *p = c->blobs; p; p = p->next) {
        espfab_blob_t *b = p->blob;
        if (b->len == len && memcmp(b->sha256, sha, 32) == 0) {
            free(data);
            b->refs++;
            return b;
        }
    }
    espfab_blob_t *b = calloc(1, sizeof(*b));
    blob_priv_t *p = calloc(1, sizeof(*p));
    if (!b || !p || digest(EVP_md5(), data, len, b->md5) != 0) {
        free(b);
        free(p);
        free(data);
        return NULL;
    }
    b->data = data;
    b->len = len;
    memcpy(b->sha256, sha, 32);
    hex(b->sha256, 32, b->sha256_hex);
    hex(b->md5, 16, b->md5_hex);
    b->refs = 1;
    b->priv = p;
    p->blob = b;
    p->cache = c;
    p->next = c->blobs;
    c->blobs = p;
    return b;
}

espfab_blob_t *espfab_blob_intern_copy(espfab_blob_cache_t *c, const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return NULL;
    if (len)
        memcpy(copy, data, len);
    return espfab_blob_intern(c, copy, len);
}

void espfab_blob_ref(espfab_blob_t *b)
{
    if (b)
        b->refs++;
}

void espfab_blob_unref(espfab_blob_cache_t *c, espfab_blob_t *b)
{
    if (!c || !b || b->refs <= 0)
        return;
    if (--b->refs > 0)
        return;
    blob_priv_t *p = b->priv;
    if (p->inflight > 0)
        return; /* the last after-work callback frees it */
    unlink_blob(c, p);
    blob_destroy(p);
}

/* Called after any work item of blob p completes: frees what is no longer
 * wanted.  Returns 1 if the cache itself was destroyed. */
static int after_any(espfab_blob_cache_t *c, blob_priv_t *p)
{
    p->inflight--;
    c->pending--;
    if (c->closing) {
        if (c->pending == 0) {
            cache_destroy(c);
            return 1;
        }
        return 0;
    }
    if (p->blob->refs <= 0 && p->inflight == 0) {
        unlink_blob(c, p);
        blob_destroy(p);
    }
    return 0;
}

/* Worker thread: touches only p->blob->data/len and p->zout*. */
static void compress_work(uv_work_t *req)
{
    blob_priv_t *p = req->data;
    const espfab_blob_t *b = p->blob;
    uLongf bound = compressBound((uLong)b->len);
    uint8_t *out = malloc(bound ? bound : 1);
    if (!out) {
        p->zstatus = ESPFAB_E_NOMEM;
        return;
    }
    int z = compress2(out, &bound, b->data, (uLong)b->len, 9);
    if (z != Z_OK) {
        free(out);
        p->zstatus = ESPFAB_E_NOMEM; /* Z_MEM_ERROR; Z_BUF_ERROR cannot happen with compressBound */
        return;
    }
    uint8_t *shrunk = realloc(out, bound ? bound : 1);
    p->zout = shrunk ? shrunk : out;
    p->zout_len = bound;
    p->zstatus = 0;
}

static void compress_after(uv_work_t *req, int status)
{
    blob_priv_t *p = req->data;
    espfab_blob_cache_t *c = p->cache;
    espfab_blob_t *b = p->blob;
    int st = p->zstatus;
    if (status != 0 && st == 0)
        st = ESPFAB_E_CANCELLED;
    if (st == 0) {
        b->zdata = p->zout;
        b->zlen = p->zout_len;
        p->zout = NULL;
        p->zstate = Z_DONE;
    } else {
        free(p->zout);
        p->zout = NULL;
        p->zstate = Z_FAILED; /* a later request tries again */
    }
    waiter_t *list = p->waiters;
    p->waiters = NULL;
    /* Keep the blob alive while callbacks run (one may drop the last ref). */
    p->inflight++;
    c->pending++;
    if (!c->closing) {
        /* Waiters were pushed at the head: reverse to call them in order. */
        waiter_t *rev = NULL;
        while (list) {
            waiter_t *nx = list->next;
            list->next = rev;
            rev = list;
            list = nx;
        }
        list = rev;
        while (list) {
            waiter_t *nx = list->next;
            if (!c->closing)
                list->cb(b, st, list->data);
            free(list);
            list = nx;
        }
    } else {
        for (waiter_t *nx; list; list = nx) {
            nx = list->next;
            free(list);
        }
    }
    p->inflight--;
    c->pending--;
    after_any(c, p);
}

static void noop_work(uv_work_t *req)
{
    (void)req;
}

static void done_after(uv_work_t *req, int status)
{
    waiter_t *w = req->data;
    blob_priv_t *p = w->blob->priv;
    espfab_blob_cache_t *c = p->cache;
    if (!c->closing)
        w->cb(w->blob, status == 0 ? 0 : ESPFAB_E_CANCELLED, w->data);
    free(w);
    after_any(c, p);
}

int espfab_blob_compress(espfab_blob_cache_t *c, espfab_blob_t *b, espfab_blob_ready_cb cb, void *data)
{
    if (!c || !b || !cb || c->closing)
        return ESPFAB_E_INVALID_ARG;
    blob_priv_t *p = b->priv;
    waiter_t *w = calloc(1, sizeof(*w));
    if (!w)
        return ESPFAB_E_NOMEM;
    w->blob = b;
    w->cb = cb;
    w->data = data;
    switch (p->zstate) {
    case Z_RUNNING:
        w->next = p->waiters;
        p->waiters = w;
        return 0;
    case Z_DONE:
        w->req.data = w;
        if (uv_queue_work(c->loop, &w->req, noop_work, done_after) != 0) {
            free(w);
            return ESPFAB_E_NOMEM;
        }
        p->inflight++;
        c->pending++;
        return 0;
    case Z_NONE:
    case Z_FAILED:
        break;
    }
    p->work.data = p;
    p->zstatus = 0;
    if (uv_queue_work(c->loop, &p->work, compress_work, compress_after) != 0) {
        free(w);
        return ESPFAB_E_NOMEM;
    }
    p->zstate = Z_RUNNING;
    p->waiters = w;
    p->inflight++;
    c->pending++;
    c->compressions++;
    return 0;
}

unsigned espfab_blob_cache_compressions(const espfab_blob_cache_t *c)
{
    return c ? c->compressions : 0;
}

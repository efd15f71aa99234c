/* test_vec.c - the growable array and byte buffer (vec.h). */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "espfab/err.h"
#include "espfab/vec.h"

typedef struct {
    int64_t a;
    char tag[12];
} item_t;

static void test_vec_growth(void)
{
    item_t *v = NULL;
    size_t cap = 0;
    CHECK_EQ(ESPFAB_VEC_RESERVE(v, cap, 0), 0); /* nothing asked, nothing done */
    CHECK(v == NULL);
    CHECK_EQ(cap, 0);
    for (size_t n = 0; n < 1000; n++) {
        CHECK_EQ(ESPFAB_VEC_RESERVE(v, cap, n + 1), 0);
        CHECK(cap >= n + 1);
        v[n].a = (int64_t)n;
    }
    CHECK_EQ(cap, 1024); /* 16 doubled six times */
    for (size_t n = 0; n < 1000; n++)
        CHECK_EQ(v[n].a, (int64_t)n); /* kept across every realloc */
    /* asking for less never shrinks */
    CHECK_EQ(ESPFAB_VEC_RESERVE(v, cap, 3), 0);
    CHECK_EQ(cap, 1024);
    /* a jump past the doubling lands on a power-of-two multiple */
    CHECK_EQ(ESPFAB_VEC_RESERVE(v, cap, 5000), 0);
    CHECK_EQ(cap, 8192);
    free(v);
}

static void test_vec_overflow_refused(void)
{
    item_t *v = NULL;
    size_t cap = 0;
    CHECK_EQ(ESPFAB_VEC_RESERVE(v, cap, 4), 0);
    item_t *before = v;
    /* element count whose byte size does not fit in size_t */
    CHECK_EQ(ESPFAB_VEC_RESERVE(v, cap, SIZE_MAX / sizeof(item_t) + 1), ESPFAB_E_NOMEM);
    CHECK_EQ(ESPFAB_VEC_RESERVE(v, cap, SIZE_MAX), ESPFAB_E_NOMEM);
    CHECK(v == before);
    CHECK_EQ(cap, 16);
    free(v);
}

static void test_buf(void)
{
    espfab_buf_t b = ESPFAB_BUF_INIT;
    CHECK_EQ(espfab_buf_puts(&b, "ab"), 0);
    CHECK_EQ(espfab_buf_append(&b, "cdef", 2), 0);
    CHECK_EQ(espfab_buf_printf(&b, "[%d:%s]", 42, "x"), 0);
    CHECK_STR(b.data, "abcd[42:x]");
    CHECK_EQ(b.len, 10);
    /* a long formatted string forces growth inside printf */
    char big[300];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ(espfab_buf_printf(&b, "%s!", big), 0);
    CHECK_EQ(b.len, 10 + 299 + 1);
    CHECK(b.data[b.len - 1] == '!' && b.data[b.len] == 0);
    char *s = espfab_buf_take(&b);
    CHECK(s && strncmp(s, "abcd[42:x]zz", 12) == 0);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    free(s);
    /* empty buffer: take gives "", not NULL */
    s = espfab_buf_take(&b);
    CHECK_STR(s, "");
    free(s);
    /* a refused append sticks */
    CHECK_EQ(espfab_buf_append(&b, "x", SIZE_MAX), ESPFAB_E_NOMEM);
    CHECK(b.oom);
    CHECK_EQ(espfab_buf_puts(&b, "y"), ESPFAB_E_NOMEM);
    CHECK(espfab_buf_take(&b) == NULL);
    espfab_buf_free(&b);
}

int main(void)
{
    RUN(test_vec_growth);
    RUN(test_vec_overflow_refused);
    RUN(test_buf);
    return check_summary();
}

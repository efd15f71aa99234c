/*
 * check.h - a tiny assertion library for espfab's unit tests.
 *
 * Each test program defines test functions and lists them in main() with
 * RUN(fn).  A failed CHECK prints file:line and the expression, marks the
 * current test failed and continues; main() returns check_summary(), which
 * prints "N passed, N failed" and is non-zero if anything failed.
 */
#ifndef ESPFAB_TEST_CHECK_H
#define ESPFAB_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failed_tests, check_passed_tests, check_cur_failed;
static const char *check_cur_name;

#define CHECK(expr)                                                                  \
    do {                                                                             \
        if (!(expr)) {                                                               \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,     \
                    check_cur_name, #expr);                                          \
            check_cur_failed = 1;                                                    \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                               \
    do {                                                                             \
        long long a_ = (long long)(a), b_ = (long long)(b);                          \
        if (a_ != b_) {                                                              \
            fprintf(stderr, "%s:%d: %s: CHECK_EQ(%s, %s) failed: %lld != %lld\n",     \
                    __FILE__, __LINE__, check_cur_name, #a, #b, a_, b_);             \
            check_cur_failed = 1;                                                    \
        }                                                                            \
    } while (0)

#define CHECK_STR(a, b)                                                              \
    do {                                                                             \
        const char *a_ = (a), *b_ = (b);                                             \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                     \
            fprintf(stderr, "%s:%d: %s: CHECK_STR(%s, %s) failed: \"%s\" != \"%s\"\n",\
                    __FILE__, __LINE__, check_cur_name, #a, #b, a_ ? a_ : "(null)",  \
                    b_ ? b_ : "(null)");                                             \
            check_cur_failed = 1;                                                    \
        }                                                                            \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                  \
    do {                                                                             \
        const char *h_ = (hay), *n_ = (needle);                                      \
        if (!h_ || !strstr(h_, n_)) {                                                \
            fprintf(stderr, "%s:%d: %s: \"%s\" does not contain \"%s\"\n", __FILE__, \
                    __LINE__, check_cur_name, h_ ? h_ : "(null)", n_);               \
            check_cur_failed = 1;                                                    \
        }                                                                            \
    } while (0)

#define CHECK_MEM(a, b, n)                                                           \
    do {                                                                             \
        if (memcmp((a), (b), (n)) != 0) {                                            \
            fprintf(stderr, "%s:%d: %s: CHECK_MEM(%s, %s, %s) failed\n", __FILE__,    \
                    __LINE__, check_cur_name, #a, #b, #n);                           \
            check_cur_failed = 1;                                                    \
        }                                                                            \
    } while (0)

#define RUN(fn)                                                                      \
    do {                                                                             \
        check_cur_name = #fn;                                                        \
        check_cur_failed = 0;                                                        \
        fn();                                                                        \
        if (check_cur_failed) {                                                      \
            check_failed_tests++;                                                    \
            fprintf(stderr, "FAIL %s\n", #fn);                                       \
        } else {                                                                     \
            check_passed_tests++;                                                    \
        }                                                                            \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_passed_tests, check_failed_tests);
    return check_failed_tests ? 1 : 0;
}

#endif

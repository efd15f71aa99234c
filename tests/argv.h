/*
 * argv.h - tests that call a getopt parser build argv here: getopt permutes
 * argv, so every parse gets a fresh writable copy of its words.  The copy is
 * static (one parse at a time; single-threaded tests).
 */
#ifndef ESPFAB_TEST_ARGV_H
#define ESPFAB_TEST_ARGV_H

#include <stdarg.h>
#include <stdio.h>

#define TEST_ARGV_MAX 32

/* n words from ap -> a NULL-terminated argv valid until the next call. */
static inline char **test_argv(int n, va_list ap)
{
    static char store[TEST_ARGV_MAX][128];
    static char *argv[TEST_ARGV_MAX + 1];
    for (int i = 0; i < n && i < TEST_ARGV_MAX; i++) {
        snprintf(store[i], sizeof(store[i]), "%s", va_arg(ap, const char *));
        argv[i] = store[i];
    }
    argv[n < TEST_ARGV_MAX ? n : TEST_ARGV_MAX] = NULL;
    return argv;
}

#endif

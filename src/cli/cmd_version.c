/*
 * cmd_version.c - `espfab --version`: the program's version, the stub set
 * (the package the build took it from, the directory this run would load
 * stubs from, and the SHA-256 of each stub file there now: what a record's
 * stub_sha256 is compared with) and the libraries it runs against.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/build.h"
#include "espfab/cli.h"
#include "espfab/profile.h" /* espfab_sha256_hex */
#include "espfab/stub.h"

/* Reads a whole (small) file; NULL when it cannot. */
static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap || cap >= (64u << 20))
            break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line per *.json in dir, sorted: "  <sha256>  <name>" (sha256sum's format). */
static void print_stub_hashes(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("  (cannot open the stub directory: no stub would load; see `espfab errors`)\n");
        return;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < sizeof names / sizeof names[0]) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".json") && (names[n] = strdup(e->d_name)))
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], by_name);
    for (size_t i = 0; i < n; i++) {
        char path[4096], hex[65];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len = 0;
        char *buf = slurp(path, &len);
        if (buf) {
            espfab_sha256_hex(buf, len, hex);
            printf("  %s  %s\n", hex, names[i]);
        } else {
            printf("  %-64s  %s\n", "(unreadable)", names[i]);
        }
        free(buf);
        free(names[i]);
    }
    if (n == 0)
        printf("  (no stub files in this directory)\n");
}

int espfab_cli_version(int argc, char **argv)
{
    const char *stub_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stub-dir") && i + 1 < argc) {
            stub_dir = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: espfab --version [--stub-dir DIR]\n"
                   "Prints the version, the flasher stub set (with the SHA-256 of each stub file\n"
                   "that would be loaded now) and the library versions.\n");
            return 0;
        } else {
            fprintf(stderr, "espfab --version: unknown argument '%s' (see espfab --version --help)\n",
                    argv[i]);
            return 2;
        }
    }
    printf("espfab %s\n", espfab_build_version());
    const char *pkg = espfab_build_stub_package();
    printf("stubs: %s\n", pkg[0] ? pkg : "(package not known at build time)");
    printf("stub directory: %s\n", espfab_stub_default_dir(stub_dir));
    print_stub_hashes(espfab_stub_default_dir(stub_dir));
    printf("libraries:\n");
    for (const espfab_build_lib_t *l = espfab_build_libs(); l->name; l++)
        printf("  %-14s %s%s\n", l->name, l->version[0] ? l->version : "(unknown)",
               !strcmp(l->name, "inih") && l->version[0] ? " (at build time)" : "");
    return 0;
}

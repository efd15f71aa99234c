/* build.c - the binary's identity and the installed share/ directory (build.h). */
#include "espfab/build.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <libserialport.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#ifndef ESPFAB_VERSION
#define ESPFAB_VERSION "unknown"
#endif
#ifndef ESPFAB_STUB_PACKAGE
#define ESPFAB_STUB_PACKAGE ""
#endif
#ifndef ESPFAB_INIH_VERSION
#define ESPFAB_INIH_VERSION ""
#endif

const char *espfab_build_version(void) { return ESPFAB_VERSION; }

const char *espfab_build_stub_package(void) { return ESPFAB_STUB_PACKAGE; }

const char *espfab_build_installed_stub_dir(void)
{
    static bool done;
    static char dir[PATH_MAX];
    static const char *result;
    if (done)
        return result;
    done = true;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0'; /* the binary's directory */
    int w = snprintf(dir, sizeof dir, "%s/../share/espfab/stubs", exe);
    struct stat st;
    if (w > 0 && (size_t)w < sizeof dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        result = dir;
    return result;
}

const espfab_build_lib_t *espfab_build_libs(void)
{
    static espfab_build_lib_t libs[7];
    libs[0] = (espfab_build_lib_t){"libuv", uv_version_string()};
    libs[1] = (espfab_build_lib_t){"libserialport", sp_get_package_version_string()};
    libs[2] = (espfab_build_lib_t){"SQLite", sqlite3_libversion()};
    libs[3] = (espfab_build_lib_t){"zlib", zlibVersion()};
    libs[4] = (espfab_build_lib_t){"OpenSSL", OpenSSL_version(OPENSSL_VERSION)};
    libs[5] = (espfab_build_lib_t){"inih", ESPFAB_INIH_VERSION};
    libs[6] = (espfab_build_lib_t){NULL, NULL};
    return libs;
}

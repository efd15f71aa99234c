/*
 * build.h - what this espfab binary is: its version, the stub set it was
 * built with, the library versions it runs against, and where an installed
 * copy finds its shared files (<bindir>/../share/espfab, from /proc/self/exe).
 *
 * Pure look-ups, no state beyond a path computed once (first call; not
 * thread-safe before that, so the loop thread or main calls it first).
 * Strings returned are static and live for the whole process.
 */
#ifndef ESPFAB_BUILD_H
#define ESPFAB_BUILD_H

#include <stddef.h>

/* "0.1.0". */
const char *espfab_build_version(void);
/* The package the build took its flasher stubs from, "esptool-js 0.7.0";
 * "" when the build did not find it. */
const char *espfab_build_stub_package(void);
/* <dir of the running binary>/../share/espfab/stubs when that directory
 * exists (an installed espfab), else NULL. */
const char *espfab_build_installed_stub_dir(void);

/* One library: name and version ("" unknown); the table ends with name NULL. */
typedef struct espfab_build_lib {
    const char *name;
    const char *version;
} espfab_build_lib_t;
const espfab_build_lib_t *espfab_build_libs(void);

#endif

/*
 * espsim fault specs: "--fault BOARD:KIND[=ARG][,KIND...]" parsed into a
 * sim_faults_t.  See docs/espsim.md for what each kind does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espsim.h"

void sim_faults_init(sim_faults_t *f)
{
    memset(f, 0, sizeof *f);
    f->unplug_bytes = -1;
    f->rom_err_op = -1;
}

static int num(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    *out = strtod(s, &end);
    return *end ? -1 : 0;
}

static int one(sim_faults_t *f, char *kind, char *msg, size_t n)
{
    char *arg = strchr(kind, '=');
    double v = 0;
    if (arg)
        *arg++ = '\0';
    if (strcmp(kind, "silent") == 0) {
        f->silent = true;
    } else if (strcmp(kind, "normal-boot") == 0) {
        f->normal_boot = true;
    } else if (strcmp(kind, "no-sync") == 0) {
        f->no_sync = true;
    } else if (strcmp(kind, "md5-stuck") == 0) {
        f->md5_stuck = true;
    } else if (strcmp(kind, "secure-download") == 0) {
        f->secure_download = true;
    } else if (strcmp(kind, "noise") == 0 || strcmp(kind, "drop") == 0) {
        if (num(arg, &v) || v < 0 || v > 1) {
            snprintf(msg, n, "%s needs a rate between 0 and 1", kind);
            return -1;
        }
        if (kind[0] == 'n')
            f->noise = v;
        else
            f->drop = v;
    } else if (strcmp(kind, "baud-limit") == 0) {
        if (num(arg, &v) || v <= 0) {
            snprintf(msg, n, "baud-limit needs a baud rate");
            return -1;
        }
        f->baud_limit = (uint32_t)v;
    } else if (strcmp(kind, "slow-flash") == 0) {
        if (num(arg, &v) || v <= 0) {
            snprintf(msg, n, "slow-flash needs a positive factor");
            return -1;
        }
        f->slow_flash = v;
    } else if (strcmp(kind, "unplug") == 0) {
        if (num(arg, &v) || v < 0) {
            snprintf(msg, n, "unplug needs a byte count");
            return -1;
        }
        f->unplug_bytes = (long)v;
    } else if (strcmp(kind, "sync-miss") == 0) {
        if (num(arg, &v) || v < 0) {
            snprintf(msg, n, "sync-miss needs a count");
            return -1;
        }
        f->sync_miss = (int)v;
    } else if (strcmp(kind, "rom-error") == 0) {
        unsigned op, code, nth = 1;
        int k = arg ? sscanf(arg, "%i:%i:%i", (int *)&op, (int *)&code,
                             (int *)&nth)
                    : 0;
        if (k < 2 || op > 255 || code > 255) {
            snprintf(msg, n, "rom-error needs OP:CODE[:NTH], e.g. 0x03:0x07:2");
            return -1;
        }
        f->rom_err_op = (int)op;
        f->rom_err_code = (int)code;
        f->rom_err_nth = (int)nth;
    } else {
        snprintf(msg, n, "unknown fault kind '%s'", kind);
        return -1;
    }
    return 0;
}

int sim_faults_parse(sim_faults_t *f, const char *spec, char *msg, size_t n)
{
    char *copy = strdup(spec), *save = NULL, *tok;
    int rc = 0;
    if (!copy)
        return -1;
    for (tok = strtok_r(copy, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save))
        rc = one(f, tok, msg, n);
    free(copy);
    return rc;
}

/*
 * nvs_file.c - the I/O edge of the NVS module (nvs.h): reads a partition
 * CSV, and the files its `file` rows name, relative to the CSV's folder.
 * Runs on the calling thread; blocking reads of small local files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/cfg.h"
#include "espfab/nvs.h"

#define NVS_FILE_MAX (16u << 20) /* no NVS partition is anywhere near this */

/* Reads a whole regular file through the project's one config-file reader
 * (it refuses FIFOs and devices without blocking on them); 0, or -errno. */
static int slurp(const char *path, char **out, size_t *len)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (cfg_read_file(path, NVS_FILE_MAX, out, len, &f) == 0)
        return 0;
    return -(f.sys_errno ? f.sys_errno : EFBIG);
}

int espfab_nvs_csv_read(espfab_nvs_csv_t *csv, const char *path, espfab_fault_t *f)
{
    char *text = NULL;
    size_t len = 0;
    int rc = slurp(path, &text, &len);
    if (rc)
        return espfab_fault_errno(f, ESPFAB_E_NVS_FILE, -rc, "%s: cannot read the CSV", path);
    char *dir = strdup(path);
    if (!dir) {
        free(text);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s", path);
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        slash == dir ? (void)(slash[1] = 0) : (void)(*slash = 0);
    rc = espfab_nvs_csv_parse(csv, text, len, path, slash ? dir : ".", f);
    free(dir);
    free(text);
    return rc;
}

int espfab_nvs_load_files(espfab_nvs_csv_t *csv, espfab_fault_t *f)
{
    for (size_t i = 0; i < csv->nrows; i++) {
        espfab_nvs_row_t *r = &csv->rows[i];
        if (r->kind != ESPFAB_NVS_FILE || r->loaded)
            continue;
        const espfab_nvs_src_t *src = &csv->srcs[r->src];
        char *full;
        if (r->path[0] == '/') {
            full = strdup(r->path);
        } else {
            size_t n = strlen(src->dir) + strlen(r->path) + 2;
            full = malloc(n);
            if (full)
                snprintf(full, n, "%s/%s", src->dir, r->path);
        }
        if (!full)
            return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s", r->path);
        char *data = NULL;
        size_t len = 0;
        int rc = slurp(full, &data, &len);
        if (rc) {
            espfab_fault_errno(f, ESPFAB_E_NVS_FILE, -rc, "%s:%u: key '%s': cannot read '%s'",
                               src->name, r->line, r->key, full);
            free(full);
            return ESPFAB_E_NVS_FILE;
        }
        free(full);
        free(r->value);
        r->value = data;
        r->value_len = len;
        r->loaded = 1;
    }
    return 0;
}

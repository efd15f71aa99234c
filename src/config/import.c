/*
 * import.c - ESP-IDF build/flasher_args.json -> profile INI text
 * (espfab_profile_import in profile.h).  The JSON is read with SQLite's JSON
 * functions on an in-memory database, so no JSON library is needed.
 */
#include "espfab/profile.h"
#include "espfab/vec.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/cfg.h"
#include "espfab/num.h"
#include "espfab/setting.h"

#define IMPORT_MAX_BYTES (4u << 20)

typedef struct {
    uint32_t offset;
    char file[PATH_MAX];   /* as in the JSON, relative to the build directory */
    char name[64];
} imp_image_t;

typedef struct {
    sqlite3 *db;
    const char *json;
    const char *path;
    espfab_fault_t *f;
} imp_t;

/* json_extract(json, jpath) as text into out ("" if absent or null).
 * Returns 0, or CONFIG_IMPORT when present with another type than want
 * ("text", "true/false" or NULL for any). */
static int jtext(imp_t *im, const char *jpath, const char *want, char *out, size_t len)
{
    out[0] = '\0';
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(im->db, "SELECT json_type(?1, ?2), json_extract(?1, ?2)", -1, &st,
                           NULL) != SQLITE_OK)
        return espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT, "%s: %s", im->path,
                                sqlite3_errmsg(im->db));
    sqlite3_bind_text(st, 1, im->json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, jpath, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        bool ok = !want || strcmp(type, "null") == 0 || strstr(want, type) != NULL;
        if (!ok)
            rc = espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT, "%s: %s is a JSON %s, expected %s",
                                  im->path, jpath, type, want);
        else if (strcmp(type, "null") != 0) {
            const unsigned char *v = sqlite3_column_text(st, 1);
            snprintf(out, len, "%s", v ? (const char *)v : "");
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* The value after `flag` in write_flash_args, for builds without flash_settings. */
static void write_flash_arg(imp_t *im, const char *flag, char *out, size_t len)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(im->db,
                           "SELECT b.value FROM json_each(?1, '$.write_flash_args') a "
                           "JOIN json_each(?1, '$.write_flash_args') b ON b.key = a.key + 1 "
                           "WHERE a.value = ?2 OR a.value = replace(?2, '_', '-')",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, im->json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, flag, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(out, len, "%s", v ? (const char *)v : "");
    }
    sqlite3_finalize(st);
}

/* esptool's "default_reset" written as "default-reset" (in place). */
static const char *dash_name(char *s)
{
    for (char *p = s; *p; p++)
        *p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
    return s;
}

static void sanitize_name(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            *s = '-';
}

static int read_images(imp_t *im, imp_image_t *img, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(im->db, "SELECT key, value, type FROM json_each(?1, '$.flash_files')",
                           -1, &st, NULL) != SQLITE_OK)
        return espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT, "%s: flash_files: %s", im->path,
                                sqlite3_errmsg(im->db));
    sqlite3_bind_text(st, 1, im->json, -1, SQLITE_STATIC);
    int rc = 0, step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *val = (const char *)sqlite3_column_text(st, 1);
        const char *type = (const char *)sqlite3_column_text(st, 2);
        if (*n >= ESPFAB_MAX_REGIONS) {
            rc = espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT, "%s: more than %d flash_files",
                                  im->path, ESPFAB_MAX_REGIONS);
            break;
        }
        imp_image_t *g = &img[*n];
        if (!key || espfab_num_parse_u32(key, &g->offset) != 0) {
            rc = espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT,
                                  "%s: flash_files key '%s' is not an offset", im->path,
                                  key ? key : "");
            break;
        }
        if (!type || strcmp(type, "text") != 0 || !val || !val[0] ||
            strlen(val) >= sizeof g->file) {
            rc = espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT,
                                  "%s: flash_files[\"%s\"] is not a file name", im->path, key);
            break;
        }
        snprintf(g->file, sizeof g->file, "%s", val);
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (*n == 0)
        return espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT, "%s: no flash_files", im->path);

    /* Names from the top-level {"bootloader": {"offset", "file"}, ...} entries. */
    if (sqlite3_prepare_v2(im->db,
                           "SELECT key, json_extract(value, '$.offset'), json_extract(value, '$.file') "
                           "FROM json_each(?1) WHERE type = 'object' AND "
                           "json_extract(value, '$.file') IS NOT NULL", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, im->json, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *key = (const char *)sqlite3_column_text(st, 0);
            const char *off = (const char *)sqlite3_column_text(st, 1);
            const char *file = (const char *)sqlite3_column_text(st, 2);
            uint32_t o;
            if (!key || !off || !file || espfab_num_parse_u32(off, &o) != 0)
                continue;
            for (size_t i = 0; i < *n; i++)
                if (img[i].offset == o && strcmp(img[i].file, file) == 0 && !img[i].name[0]) {
                    snprintf(img[i].name, sizeof img[i].name, "%s", key);
                    sanitize_name(img[i].name);
                }
        }
        sqlite3_finalize(st);
    }
    for (size_t i = 0; i < *n; i++) {
        if (!img[i].name[0])
            snprintf(img[i].name, sizeof img[i].name, "image-0x%x", img[i].offset);
        for (size_t j = 0; j < i; j++)
            if (strcmp(img[i].name, img[j].name) == 0)
                snprintf(img[i].name, sizeof img[i].name, "image-0x%x", img[i].offset);
    }
    /* offset order */
    for (size_t i = 1; i < *n; i++)
        for (size_t j = i; j > 0 && img[j - 1].offset > img[j].offset; j--) {
            imp_image_t t = img[j];
            img[j] = img[j - 1];
            img[j - 1] = t;
        }
    return 0;
}

/* Path of target relative to directory from (both absolute, normalised). */
static void relative_path(const char *from, const char *target, char *out, size_t len)
{
    size_t common = 0, i = 0;
    /* longest common prefix ending at a component boundary */
    while (from[i] && target[i] && from[i] == target[i]) {
        i++;
        if ((from[i] == '/' || from[i] == '\0') && (target[i] == '/' || target[i] == '\0'))
            common = i;
    }
    if (from[1] == '\0') /* from is "/" */
        common = 0;
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = from + common; *p; p++)
        if (*p == '/' && n + 4 < len) {
            memcpy(out + n, "../", 4);
            n += 3;
        }
    const char *rest = target + common;
    if (*rest == '/')
        rest++;
    snprintf(out + n, len - n, "%s", rest);
}

int espfab_profile_import(const char *json_path, const char *out_dir, const char *name,
                          char **ini_text, espfab_fault_t *f)
{
    if (!json_path || !ini_text)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_profile_import");
    *ini_text = NULL;
    char *json;
    size_t jlen;
    int rc = cfg_read_file(json_path, IMPORT_MAX_BYTES, &json, &jlen, f);
    if (rc)
        return rc;
    char build_dir[PATH_MAX], odir[PATH_MAX];
    rc = cfg_dirname_abs(json_path, build_dir, sizeof build_dir, f);
    if (!rc && out_dir && !realpath(out_dir, odir))
        rc = espfab_fault_errno(f, ESPFAB_E_CONFIG_OPEN, errno, "output directory %s", out_dir);
    if (!rc && !out_dir)
        cfg_copy(odir, sizeof odir, build_dir);
    imp_t im = {NULL, json, json_path, f};
    if (!rc && sqlite3_open_v2(":memory:", &im.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: in-memory database", json_path);

    char chip[32] = "", mode[16] = "", freq[16] = "", size[16] = "", before[32] = "",
         after[32] = "", stub[16] = "";
    if (!rc) {
        sqlite3_stmt *st;
        int valid = 0;
        if (sqlite3_prepare_v2(im.db, "SELECT json_valid(?1) AND json_type(?1) = 'object'", -1,
                               &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                valid = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
        }
        if (!valid)
            rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT, "%s: not a JSON object", json_path);
    }
    if (!rc)
        rc = jtext(&im, "$.extra_esptool_args.chip", "text", chip, sizeof chip);
    if (!rc)
        rc = jtext(&im, "$.extra_esptool_args.before", "text", before, sizeof before);
    if (!rc)
        rc = jtext(&im, "$.extra_esptool_args.after", "text", after, sizeof after);
    if (!rc)
        rc = jtext(&im, "$.extra_esptool_args.stub", "true false", stub, sizeof stub);
    if (!rc)
        rc = jtext(&im, "$.flash_settings.flash_mode", "text", mode, sizeof mode);
    if (!rc)
        rc = jtext(&im, "$.flash_settings.flash_freq", "text", freq, sizeof freq);
    if (!rc)
        rc = jtext(&im, "$.flash_settings.flash_size", "text", size, sizeof size);
    if (!rc) {
        if (!mode[0])
            write_flash_arg(&im, "--flash_mode", mode, sizeof mode);
        if (!freq[0])
            write_flash_arg(&im, "--flash_freq", freq, sizeof freq);
        if (!size[0])
            write_flash_arg(&im, "--flash_size", size, sizeof size);
    }
    const espfab_chip_t *c = NULL;
    if (!rc) {
        c = espfab_chip_by_key(chip);
        if (!chip[0])
            rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                                  "%s: no extra_esptool_args.chip (ESP-IDF >= 4.0 writes it)",
                                  json_path);
        else if (!c)
            rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT, "%s: unknown chip '%s' (known: %s)",
                                  json_path, chip, espfab_chip_keys());
    }
    /* Checked here (setting.h's parsers) so the INI written is one the
     * loader accepts; written in esptool's dash spelling. */
    const char *bname = NULL, *aname = NULL;
    espfab_reset_t bval;
    espfab_after_t aval;
    if (!rc && before[0] && espfab_setting_parse_before(before, NULL, &bval, NULL) == 0)
        bname = dash_name(before);
    if (!rc && after[0] && espfab_setting_parse_after(after, NULL, &aval, NULL) == 0)
        aname = dash_name(after);
    if (!rc && before[0] && !bname)
        rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT, "%s: unknown before '%s'", json_path,
                              before);
    if (!rc && after[0] && !aname)
        rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT, "%s: unknown after '%s'", json_path, after);

    imp_image_t *img = calloc(ESPFAB_MAX_REGIONS, sizeof *img);
    size_t nimg = 0;
    if (!img && !rc)
        rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s", json_path);
    if (!rc)
        rc = read_images(&im, img, &nimg);

    char pname[64] = "";
    if (!rc) {
        if (name && name[0]) {
            snprintf(pname, sizeof pname, "%s", name);
        } else {
            /* <project>/build/flasher_args.json -> "<project>" */
            char tmp[PATH_MAX];
            cfg_copy(tmp, sizeof tmp, build_dir);
            char *proj = basename(dirname(tmp));
            snprintf(pname, sizeof pname, "%s", proj && proj[0] && strcmp(proj, "/") ? proj : "imported");
        }
    }

    espfab_buf_t out = ESPFAB_BUF_INIT;
    if (!rc) {
        char when[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
        espfab_buf_printf(&out, "; Imported by `espfab profile import` from %s on %s.\n",
                          json_path, when);
        espfab_buf_printf(&out, "[profile]\nname = %s\nchip = %s\n", pname, c->key);
        if (mode[0])
            espfab_buf_printf(&out, "flash_mode = %s\n", mode);
        if (freq[0])
            espfab_buf_printf(&out, "flash_freq = %s\n", freq);
        if (size[0])
            espfab_buf_printf(&out, "flash_size = %s\n", size);
        if (bname)
            espfab_buf_printf(&out, "before = %s\n", bname);
        if (aname)
            espfab_buf_printf(&out, "after = %s\n", aname);
        if (stub[0])
            espfab_buf_printf(&out, "stub = %s\n", strcmp(stub, "0") ? "yes" : "no");
        for (size_t i = 0; i < nimg && !out.oom; i++) {
            char abs[PATH_MAX * 2], rel[PATH_MAX * 2];
            if (img[i].file[0] == '/')
                cfg_copy(abs, sizeof abs, img[i].file);
            else
                snprintf(abs, sizeof abs, "%s/%s", build_dir, img[i].file);
            char real[PATH_MAX];
            if (realpath(abs, real))
                cfg_copy(abs, sizeof abs, real);
            relative_path(odir, abs, rel, sizeof rel);
            if (strlen(rel) > 180) {
                rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                                      "%s: image path '%s' is too long for a profile line; "
                                      "write the profile nearer the build directory", json_path,
                                      rel);
                break;
            }
            espfab_buf_printf(&out, "\n[image %s]\nfile = %s\noffset = 0x%x\n", img[i].name,
                              rel, img[i].offset);
        }
        if (!rc && out.oom)
            rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s", json_path);
    }
    if (rc)
        espfab_buf_free(&out);
    *ini_text = rc ? NULL : espfab_buf_take(&out);
    free(img);
    sqlite3_close(im.db);
    free(json);
    return rc;
}

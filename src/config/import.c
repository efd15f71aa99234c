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

/* A JSON string that cannot go into a profile line as it is: an embedded
 * NUL (it would cut the text short: "\u0000" in the JSON) or a control
 * character (a newline would start a new INI line). */
static bool bad_text(const char *v, int bytes)
{
    if (bytes < 0 || strlen(v) != (size_t)bytes)
        return true;
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7F)
            return true;
    return false;
}

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
            if (v && bad_text((const char *)v, sqlite3_column_bytes(st, 1)))
                rc = espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT,
                                      "%s: %s holds a NUL or control character", im->path, jpath);
            else
                snprintf(out, len, "%s", v ? (const char *)v : "");
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* json_type(json, jpath) into out ("" if absent). */
static int jtext_type(imp_t *im, const char *jpath, char *out, size_t len)
{
    out[0] = '\0';
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(im->db, "SELECT json_type(?1, ?2)", -1, &st, NULL) != SQLITE_OK)
        return espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT, "%s: %s", im->path,
                                sqlite3_errmsg(im->db));
    sqlite3_bind_text(st, 1, im->json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, jpath, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return 0;
}

/* s with control characters (and anything past len) shown as '?'. */
static void printable(const char *s, char *out, size_t len)
{
    size_t k = 0;
    for (; s && s[k] && k + 1 < len; k++)
        out[k] = (unsigned char)s[k] < 0x20 || s[k] == 0x7F ? '?' : s[k];
    out[k] = '\0';
}

/* Flash encryption: ESP-IDF marks each file "encrypted": "true" (and
 * passes --encrypt to esptool).  espfab has no encrypted write, so such a
 * build is refused rather than written in plaintext. */
static int check_encrypted(imp_t *im)
{
    sqlite3_stmt *st;
    static const char sql[] =
        "SELECT key FROM json_each(?1) WHERE type = 'object' AND "
        "lower(CAST(json_extract(value, '$.encrypted') AS TEXT)) IN ('true', '1') "
        "UNION ALL SELECT 'write_flash_args' FROM json_each(?1, '$.write_flash_args') "
        "WHERE value IN ('--encrypt', '--encrypt-files', '--encrypt_files') "
        "UNION ALL SELECT 'encrypted_flash_files' WHERE "
        "json_type(?1, '$.encrypted_flash_files') IN ('object', 'array') AND "
        "(SELECT count(*) FROM json_each(?1, '$.encrypted_flash_files')) > 0";
    if (sqlite3_prepare_v2(im->db, sql, -1, &st, NULL) != SQLITE_OK)
        return espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT, "%s: %s", im->path,
                                sqlite3_errmsg(im->db));
    sqlite3_bind_text(st, 1, im->json, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char what[64];
        printable((const char *)sqlite3_column_text(st, 0), what, sizeof what);
        rc = espfab_fault_set(im->f, ESPFAB_E_IMAGE_ENCRYPTED,
                              "%s: '%s' is to be written encrypted (flash encryption is on in "
                              "this build); espfab writes plaintext only, so it does not import it",
                              im->path, what);
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
    char ftype[16];
    int trc = jtext_type(im, "$.flash_files", ftype, sizeof ftype);
    if (trc)
        return trc;
    if (ftype[0] && strcmp(ftype, "object") != 0)
        return espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT,
                                "%s: flash_files is a JSON %s; ESP-IDF writes an object of "
                                "\"offset\": \"file\" pairs ({\"0x1000\": "
                                "\"bootloader/bootloader.bin\", ...})",
                                im->path, ftype);
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
        if ((key && bad_text(key, sqlite3_column_bytes(st, 0))) ||
            (val && type && strcmp(type, "text") == 0 && bad_text(val, sqlite3_column_bytes(st, 1)))) {
            char shown[64];
            printable(key && !bad_text(key, sqlite3_column_bytes(st, 0)) ? val : key, shown,
                      sizeof shown);
            rc = espfab_fault_set(im->f, ESPFAB_E_CONFIG_IMPORT,
                                  "%s: flash_files entry '%s' holds a NUL or control character "
                                  "(a file name must be one plain line)", im->path, shown);
            break;
        }
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

/* The INI text must load back as a profile with exactly the images it was
 * written from (a name the INI would read differently, a missing file, raw
 * data at an app offset... are refused here, with or without -o). */
static int check_written(const char *ini, size_t len, const char *odir, unsigned flags, const imp_image_t *img,
                         size_t nimg, const char *json_path, espfab_fault_t *f)
{
    espfab_profile_t *p = calloc(1, sizeof *p);
    if (!p)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s", json_path);
    int rc = espfab_profile_parse(ini, len, "imported profile", odir,
                                  flags & ESPFAB_PROFILE_NO_FILES, p, f);
    if (!rc && p->nimages != nimg)
        rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                              "%s: the profile written holds %zu images, not %zu", json_path,
                              p->nimages, nimg);
    for (size_t i = 0; !rc && i < nimg; i++)
        if (p->images[i].offset != img[i].offset)
            rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                                  "%s: image %zu reads back at 0x%x, not 0x%x", json_path, i,
                                  p->images[i].offset, img[i].offset);
    espfab_profile_free(p);
    free(p);
    return rc;
}

/* Rejects a file name that a profile line would read differently. */
static int check_file_line(const char *rel, const char *json_path, espfab_fault_t *f)
{
    size_t n = strlen(rel);
    bool edge_space = n && (isspace((unsigned char)rel[0]) || isspace((unsigned char)rel[n - 1]));
    if (edge_space || strchr(rel, ';') || strchr(rel, '#'))
        return espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                                "%s: image path '%s' cannot be written in a profile line (leading "
                                "or trailing space, ';' or '#'); rename the file",
                                json_path, rel);
    return 0;
}

/* The [profile] settings read from the JSON, checked. */
typedef struct {
    char chip[32], mode[16], freq[16], size[16], before[32], after[32], stub[16];
    const char *bname, *aname;   /* before/after in dash spelling, or NULL */
    const espfab_chip_t *c;
} imp_settings_t;

static int read_settings(imp_t *im, imp_settings_t *s)
{
    const char *json_path = im->path;
    espfab_fault_t *f = im->f;
    memset(s, 0, sizeof *s);
    int rc = jtext(im, "$.extra_esptool_args.chip", "text", s->chip, sizeof s->chip);
    if (!rc)
        rc = jtext(im, "$.extra_esptool_args.before", "text", s->before, sizeof s->before);
    if (!rc)
        rc = jtext(im, "$.extra_esptool_args.after", "text", s->after, sizeof s->after);
    if (!rc)
        rc = jtext(im, "$.extra_esptool_args.stub", "true false", s->stub, sizeof s->stub);
    if (!rc)
        rc = jtext(im, "$.flash_settings.flash_mode", "text", s->mode, sizeof s->mode);
    if (!rc)
        rc = jtext(im, "$.flash_settings.flash_freq", "text", s->freq, sizeof s->freq);
    if (!rc)
        rc = jtext(im, "$.flash_settings.flash_size", "text", s->size, sizeof s->size);
    if (rc)
        return rc;
    if (!s->mode[0])
        write_flash_arg(im, "--flash_mode", s->mode, sizeof s->mode);
    if (!s->freq[0])
        write_flash_arg(im, "--flash_freq", s->freq, sizeof s->freq);
    if (!s->size[0])
        write_flash_arg(im, "--flash_size", s->size, sizeof s->size);
    if ((rc = check_encrypted(im)) != 0)
        return rc;
    s->c = espfab_chip_by_key(s->chip);
    if (!s->chip[0])
        return espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                                "%s: no extra_esptool_args.chip (ESP-IDF >= 4.0 writes it)",
                                json_path);
    if (!s->c)
        return espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT, "%s: unknown chip '%s' (known: %s)",
                                json_path, s->chip, espfab_chip_keys());
    /* Checked here (setting.h's parsers) so the INI written is one the
     * loader accepts; written in esptool's dash spelling. */
    espfab_reset_t bval;
    espfab_after_t aval;
    if (s->before[0] && espfab_setting_parse_before(s->before, NULL, &bval, NULL) == 0)
        s->bname = dash_name(s->before);
    if (s->after[0] && espfab_setting_parse_after(s->after, NULL, &aval, NULL) == 0)
        s->aname = dash_name(s->after);
    if (s->before[0] && !s->bname)
        return espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT, "%s: unknown before '%s'", json_path,
                                s->before);
    if (s->after[0] && !s->aname)
        return espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT, "%s: unknown after '%s'", json_path,
                                s->after);
    /* Flash settings: only values the profile loader takes go in the INI
     * (write_flash_args values do not pass through jtext's checks). */
    espfab_flash_params_t fp;
    espfab_flash_mode_t fm;
    espfab_flash_freq_t ff;
    if ((s->mode[0] && espfab_setting_parse_flash_mode(s->mode, NULL, &fm, NULL) != 0) ||
        (s->freq[0] && espfab_setting_parse_flash_freq(s->freq, NULL, &ff, NULL) != 0) ||
        (s->size[0] && espfab_setting_parse_flash_size(s->size, NULL, &fp, NULL) != 0)) {
        char shown[3][16];
        printable(s->mode, shown[0], sizeof shown[0]);
        printable(s->freq, shown[1], sizeof shown[1]);
        printable(s->size, shown[2], sizeof shown[2]);
        return espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                                "%s: unknown flash settings (mode '%s', freq '%s', size '%s')",
                                json_path, shown[0], shown[1], shown[2]);
    }
    return 0;
}

/* The INI text into out. */
static int write_ini(const imp_settings_t *s, const char *pname, const imp_image_t *img,
                     size_t nimg, const char *json_path, const char *build_dir, const char *odir,
                     unsigned flags, espfab_buf_t *out, espfab_fault_t *f)
{
    char when[32], shown[256];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    printable(json_path, shown, sizeof shown);
    espfab_buf_printf(out, "; Imported by `espfab profile import` from %s on %s.\n", shown, when);
    espfab_buf_printf(out, "[profile]\nname = %s\nchip = %s\n", pname, s->c->key);
    if (s->mode[0])
        espfab_buf_printf(out, "flash_mode = %s\n", s->mode);
    if (s->freq[0])
        espfab_buf_printf(out, "flash_freq = %s\n", s->freq);
    if (s->size[0])
        espfab_buf_printf(out, "flash_size = %s\n", s->size);
    if (s->bname)
        espfab_buf_printf(out, "before = %s\n", s->bname);
    if (s->aname)
        espfab_buf_printf(out, "after = %s\n", s->aname);
    if (s->stub[0])
        espfab_buf_printf(out, "stub = %s\n", strcmp(s->stub, "0") ? "yes" : "no");
    for (size_t i = 0; i < nimg && !out->oom; i++) {
        char abs[PATH_MAX * 2], rel[PATH_MAX * 2];
        if (img[i].file[0] == '/')
            cfg_copy(abs, sizeof abs, img[i].file);
        else
            snprintf(abs, sizeof abs, "%s/%s", build_dir, img[i].file);
        char real[PATH_MAX];
        if (!(flags & ESPFAB_PROFILE_NO_FILES) && realpath(abs, real))
            cfg_copy(abs, sizeof abs, real);
        relative_path(odir, abs, rel, sizeof rel);
        if (strlen(rel) > 180)
            return espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                                    "%s: image path '%s' is too long for a profile line; "
                                    "write the profile nearer the build directory", json_path,
                                    rel);
        int rc = check_file_line(rel, json_path, f);
        if (rc)
            return rc;
        espfab_buf_printf(out, "\n[image %s]\nfile = %s\noffset = 0x%x\n", img[i].name, rel,
                          img[i].offset);
    }
    if (out->oom)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s", json_path);
    return 0;
}

/* The escape \u0000 anywhere in the JSON text: SQLite's JSON functions
 * hand such a string out cut at the NUL ("app\u0000.elf" would become
 * "app"), so it is refused before they see it. */
static const char *nul_escape(const char *json, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (json[i] != '\\')
            continue;
        if (json[i + 1] == 'u' && i + 6 <= len && memcmp(json + i + 2, "0000", 4) == 0)
            return json + i;
        i++; /* the escaped character: "\\\\u0000" is a backslash, then text */
    }
    return NULL;
}

/* Everything but reading the file: json[0, len) is the JSON text. */
static int import_text(const char *json, size_t jlen, const char *json_path, const char *build_dir,
                       const char *odir, const char *name, unsigned flags, char **ini_text,
                       espfab_fault_t *f)
{
    imp_t im = {NULL, json, json_path, f};
    int rc = 0;
    const char *nul = memchr(json, '\0', jlen);
    if (nul)
        rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                              "%s: NUL byte at offset %zu (not a text file)", json_path,
                              (size_t)(nul - json));
    else if ((nul = nul_escape(json, jlen)) != NULL)
        rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                              "%s: \\u0000 (a NUL character) at offset %zu: no name or value may "
                              "hold one", json_path, (size_t)(nul - json));
    for (const char *q = name; !rc && q && *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7F)
            rc = espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT,
                                  "profile name holds a control character");
    if (!rc && sqlite3_open_v2(":memory:", &im.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: in-memory database", json_path);
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
    imp_settings_t set;
    if (!rc)
        rc = read_settings(&im, &set);
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
            sanitize_name(pname);
        }
    }
    espfab_buf_t out = ESPFAB_BUF_INIT;
    if (!rc)
        rc = write_ini(&set, pname, img, nimg, json_path, build_dir, odir, flags, &out, f);
    if (!rc)
        rc = check_written(out.data, out.len, odir, flags, img, nimg, json_path, f);
    if (rc)
        espfab_buf_free(&out);
    *ini_text = rc ? NULL : espfab_buf_take(&out);
    free(img);
    sqlite3_close(im.db);
    return rc;
}

int espfab_profile_import_text(const char *json, size_t len, const char *display,
                               const char *build_dir, const char *out_dir, const char *name,
                               unsigned flags, char **ini_text, espfab_fault_t *f)
{
    if (!ini_text || (!json && len) || !build_dir)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_profile_import_text");
    *ini_text = NULL;
    if (len > IMPORT_MAX_BYTES)
        return espfab_fault_set(f, ESPFAB_E_CONFIG_IMPORT, "%s: larger than %u bytes",
                                display ? display : "flasher_args.json", IMPORT_MAX_BYTES);
    char *copy = malloc(len + 1);
    if (!copy)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%zu bytes", len);
    if (len)
        memcpy(copy, json, len);
    copy[len] = '\0';
    int rc = import_text(copy, len, display ? display : "flasher_args.json", build_dir,
                         out_dir ? out_dir : build_dir, name, flags, ini_text, f);
    free(copy);
    return rc;
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
    if (!rc)
        rc = import_text(json, jlen, json_path, build_dir, odir, name, 0, ini_text, f);
    free(json);
    return rc;
}

/* profile.c - INI flashing profiles: parse, validate, load images (profile.h). */
#include "espfab/profile.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "espfab/num.h"

#define PROFILE_MAX_BYTES (1u << 20)

enum {
    PK_NAME, PK_CHIP, PK_BAUD, PK_FLASH_MODE, PK_FLASH_FREQ, PK_FLASH_SIZE, PK_BEFORE, PK_AFTER,
    PK_STUB, PK_COMPRESS, PK_ERASE, PK_VERIFY, PK_MIN_REV, PK_MAX_REV, PK_COUNT
};

static const char *const profile_keys[PK_COUNT + 1] = {
    "name", "chip", "baud", "flash_mode", "flash_freq", "flash_size", "before", "after",
    "stub", "compress", "erase", "verify", "min_rev", "max_rev", NULL};

enum { IK_FILE, IK_OFFSET, IK_KIND, IK_COUNT };
static const char *const image_keys[IK_COUNT + 1] = {"file", "offset", "kind", NULL};
/* IK_KIND values, in espfab_region_kind_t order. */
static const char *const kind_names[] = {"auto", "data", "image", NULL};

typedef struct {
    espfab_profile_t *p;
    const char *display;
    espfab_fault_t *f;
    int profile_line;                 /* 0: no [profile] yet */
    int key_line[PK_COUNT];
    int img_key_line[ESPFAB_MAX_REGIONS][IK_COUNT];
    int cur;                          /* -1 [profile], >= 0 image index */
} pstate_t;

void espfab_sha256_hex(const void *buf, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return;
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- sections and keys ---- */

static int image_first_line(void *user, const char *name)
{
    const espfab_profile_t *p = user;
    for (size_t i = 0; i < p->nimages; i++)
        if (strcmp(p->images[i].name, name) == 0)
            return p->images[i].line;
    return 0;
}

static const cfg_sections_t profile_sections = {
    "profile", "image", "app", sizeof(((espfab_profile_image_t *)0)->name), ESPFAB_MAX_REGIONS,
    "images in one profile",
};

static int on_section(void *user, const char *section, int line)
{
    pstate_t *st = user;
    espfab_profile_t *p = st->p;
    char name[sizeof p->images[0].name];
    bool named;
    int rc = cfg_section(&profile_sections, st->display, section, line, &st->profile_line,
                         p->nimages, image_first_line, p, name, &named, st->f);
    if (rc)
        return rc;
    if (!named) {
        st->cur = -1;
        return 0;
    }
    espfab_profile_image_t *im = &p->images[p->nimages];
    memcpy(im->name, name, sizeof im->name);
    im->line = line;
    st->cur = (int)p->nimages++;
    return 0;
}

static int set_bool(pstate_t *st, int line, const char *key, const char *value, bool *dst)
{
    if (!cfg_parse_bool(value, dst))
        return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                        "bad value '%s' for %s (allowed: yes, no)", value, key);
    return 0;
}

static int profile_key(pstate_t *st, int k, const char *value, int line)
{
    espfab_profile_t *p = st->p;
    const char *key = profile_keys[k];
    const espfab_setting_src_t src = {st->display, line, key};
    switch (k) {
    case PK_NAME: {
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof p->name)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "name must be 1 to %zu characters", sizeof p->name - 1);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
                return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                                "name contains a control character");
        snprintf(p->name, sizeof p->name, "%s", value);
        return 0;
    }
    case PK_CHIP: {
        const espfab_chip_t *c = espfab_chip_by_key(value);
        if (!c)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "unknown chip '%s' (allowed: %s)", value, espfab_chip_keys());
        p->chip = c->id;
        return 0;
    }
    case PK_BAUD:
        if (espfab_num_parse_u32(value, &p->baud) != 0 || p->baud < 1200 || p->baud > 20000000)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "bad number '%s' for baud (a baud rate such as 115200, 460800, "
                            "921600)", value);
        return 0;
    case PK_FLASH_MODE:
        return espfab_setting_parse_flash_mode(value, &src, &p->flash.mode, st->f);
    case PK_FLASH_FREQ:
        return espfab_setting_parse_flash_freq(value, &src, &p->flash.freq, st->f);
    case PK_FLASH_SIZE:
        return espfab_setting_parse_flash_size(value, &src, &p->flash, st->f);
    case PK_BEFORE:
        return espfab_setting_parse_before(value, &src, &p->before, st->f);
    case PK_AFTER:
        return espfab_setting_parse_after(value, &src, &p->after, st->f);
    case PK_STUB: return set_bool(st, line, key, value, &p->stub);
    case PK_COMPRESS: return set_bool(st, line, key, value, &p->compress);
    case PK_VERIFY: return set_bool(st, line, key, value, &p->verify);
    case PK_ERASE:
        return espfab_setting_parse_erase(value, &src, &p->erase, st->f);
    case PK_MIN_REV:
    case PK_MAX_REV: {
        int r;
        if (!cfg_parse_rev(value, &r))
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "bad revision '%s' for %s (MAJOR.MINOR, e.g. 0.0 or 3.99)", value, key);
        *(k == PK_MIN_REV ? &p->min_rev_full : &p->max_rev_full) = r;
        return 0;
    }
    }
    return 0;
}

static int image_key(pstate_t *st, espfab_profile_image_t *im, int k, const char *value, int line)
{
    if (k == IK_FILE) {
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof im->file)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "file must be 1 to %zu characters", sizeof im->file - 1);
        snprintf(im->file, sizeof im->file, "%s", value);
        return 0;
    }
    if (k == IK_KIND) {
        int v = cfg_enum(value, kind_names);
        if (v < 0 || strcmp(value, kind_names[v]) != 0)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "bad value '%s' for kind (allowed: data, image, auto)", value);
        im->kind = (espfab_region_kind_t)v;
        return 0;
    }
    if (espfab_num_parse_u32(value, &im->offset) != 0)
        return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                        "bad number '%s' for offset (e.g. 0x10000)", value);
    return 0;
}

static int on_key(void *user, const char *section, const char *key, const char *value, int line)
{
    pstate_t *st = user;
    if (!section[0])
        return cfg_fail(st->f, ESPFAB_E_CONFIG_SYNTAX, st->display, line,
                        "key '%s' before any section (start with [profile])", key);
    if (st->cur < 0) {
        int k = cfg_enum(key, profile_keys);
        if (k < 0 || strcmp(key, profile_keys[k]) != 0) {
            if (cfg_enum(key, image_keys) >= 0)
                return cfg_fail(st->f, ESPFAB_E_CONFIG_UNKNOWN_KEY, st->display, line,
                                "unknown key '%s' in [profile] (it belongs in an [image NAME] "
                                "section)", key);
            const char *s = cfg_suggest(key, profile_keys);
            if (s)
                return cfg_fail(st->f, ESPFAB_E_CONFIG_UNKNOWN_KEY, st->display, line,
                                "unknown key '%s' in [profile] (did you mean '%s'?)", key, s);
            return cfg_fail(st->f, ESPFAB_E_CONFIG_UNKNOWN_KEY, st->display, line,
                            "unknown key '%s' in [profile]", key);
        }
        if (st->key_line[k])
            return cfg_fail(st->f, ESPFAB_E_CONFIG_DUPLICATE, st->display, line,
                            "duplicate key '%s' in [profile] (first at line %d)", key,
                            st->key_line[k]);
        st->key_line[k] = line;
        return profile_key(st, k, value, line);
    }
    espfab_profile_image_t *im = &st->p->images[st->cur];
    int k = cfg_enum(key, image_keys);
    if (k < 0 || strcmp(key, image_keys[k]) != 0) {
        if (cfg_enum(key, profile_keys) >= 0)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_UNKNOWN_KEY, st->display, line,
                            "unknown key '%s' in [image %s] (it belongs in [profile])", key,
                            im->name);
        const char *s = cfg_suggest(key, image_keys);
        if (s)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_UNKNOWN_KEY, st->display, line,
                            "unknown key '%s' in [image %s] (did you mean '%s'?)", key,
                            im->name, s);
        return cfg_fail(st->f, ESPFAB_E_CONFIG_UNKNOWN_KEY, st->display, line,
                        "unknown key '%s' in [image %s] (keys: file, offset, kind)", key, im->name);
    }
    int *seen = &st->img_key_line[st->cur][k];
    if (*seen)
        return cfg_fail(st->f, ESPFAB_E_CONFIG_DUPLICATE, st->display, line,
                        "duplicate key '%s' in [image %s] (first at line %d)", key, im->name,
                        *seen);
    *seen = line;
    return image_key(st, im, k, value, line);
}

/* ---- whole-profile checks ---- */

static void sort_images(pstate_t *st)
{
    espfab_profile_t *p = st->p;
    for (size_t i = 1; i < p->nimages; i++) {
        for (size_t j = i; j > 0 && p->images[j - 1].offset > p->images[j].offset; j--) {
            espfab_profile_image_t t = p->images[j];
            p->images[j] = p->images[j - 1];
            p->images[j - 1] = t;
            int tl[IK_COUNT];
            memcpy(tl, st->img_key_line[j], sizeof tl);
            memcpy(st->img_key_line[j], st->img_key_line[j - 1], sizeof tl);
            memcpy(st->img_key_line[j - 1], tl, sizeof tl);
        }
    }
}

/* The line to blame for a region fault: the offset line of the image at
 * fault (regions sorted by offset). */
static int region_line(pstate_t *st, int code, uint32_t flash_size)
{
    espfab_profile_t *p = st->p;
    for (size_t i = 0; i < p->nimages; i++) {
        const espfab_profile_image_t *im = &p->images[i];
        uint64_t end = (uint64_t)im->offset + (im->size ? im->size : 1);
        if (code == ESPFAB_E_REGION_UNALIGNED && im->offset % 4096)
            return st->img_key_line[i][IK_OFFSET];
        if (code == ESPFAB_E_REGION_OVERLAP && i + 1 < p->nimages && end > p->images[i + 1].offset)
            return st->img_key_line[i + 1][IK_OFFSET];
        if (code == ESPFAB_E_REGION_PAST_FLASH && flash_size && end > flash_size)
            return st->img_key_line[i][IK_OFFSET];
    }
    return p->nimages ? st->img_key_line[0][IK_OFFSET] : st->profile_line;
}

/* One flash parameter checked for the profile's chip, blamed on its line. */
static int check_flash_param(pstate_t *st, const espfab_chip_t *chip, int k)
{
    espfab_flash_params_t one = {ESPFAB_FLASH_MODE_KEEP, ESPFAB_FLASH_FREQ_KEEP,
                                 ESPFAB_FLASH_SIZE_KEEP, false};
    if (k == PK_FLASH_MODE)
        one.mode = st->p->flash.mode;
    else if (k == PK_FLASH_FREQ)
        one.freq = st->p->flash.freq;
    else {
        one.size = st->p->flash.size;
        one.size_c1 = st->p->flash.size_c1;
    }
    int rc = espfab_flash_params_check(chip, &one, st->f);
    if (rc)
        return cfg_prefix(st->f, st->display, st->key_line[k]);
    return 0;
}

static int load_images(pstate_t *st, const char *base_dir, const espfab_chip_t *chip)
{
    espfab_profile_t *p = st->p;
    for (size_t i = 0; i < p->nimages; i++) {
        espfab_profile_image_t *im = &p->images[i];
        int fline = st->img_key_line[i][IK_FILE];
        char joined[PATH_MAX];
        if (!cfg_join_path(base_dir, im->file, joined, sizeof joined))
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, fline,
                            "path of '%s' is too long", im->file);
        char canon[PATH_MAX];
        const char *use = realpath(joined, canon) ? canon : joined;
        if (strlen(use) >= sizeof im->path)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, fline,
                            "path of '%s' is too long", im->file);
        cfg_copy(im->path, sizeof im->path, use);
        int rc = espfab_image_load(im->path, &im->data, &im->size, st->f);
        if (rc)
            return cfg_prefix(st->f, st->display, fline);
        espfab_sha256_hex(im->data, im->size, im->sha256);
        rc = espfab_image_parse(im->data, im->size, im->file, &im->info, st->f);
        if (rc)
            return cfg_prefix(st->f, st->display, fline);
        rc = espfab_image_check_chip_target(&im->info, im->file, "this profile's chip", chip, -1, st->f);
        if (rc)
            return cfg_prefix(st->f, st->display, fline);
        /* An image that no board accepted by the profile could run. */
        if (im->info.format == ESPFAB_IMAGE_ESP32) {
            int imin = im->info.min_rev_full, imax = im->info.max_rev_full;
            if (p->max_rev_full >= 0 && imin > p->max_rev_full)
                return cfg_fail(st->f, ESPFAB_E_IMAGE_REVISION, st->display, fline,
                                "%s needs chip revision %d.%d or later, but the profile accepts "
                                "boards up to %d.%d (max_rev)", im->file, imin / 100, imin % 100,
                                p->max_rev_full / 100, p->max_rev_full % 100);
            if (p->min_rev_full >= 0 && imax != 0xFFFF && imax < p->min_rev_full)
                return cfg_fail(st->f, ESPFAB_E_IMAGE_REVISION, st->display, fline,
                                "%s runs on chip revisions up to %d.%d, but the profile accepts "
                                "boards from %d.%d (min_rev)", im->file, imax / 100, imax % 100,
                                p->min_rev_full / 100, p->min_rev_full % 100);
        }
    }
    return 0;
}

static int finish(pstate_t *st, const char *base_dir, unsigned flags)
{
    espfab_profile_t *p = st->p;
    if (!st->profile_line)
        return cfg_fail(st->f, ESPFAB_E_CONFIG_MISSING_KEY, st->display, 0,
                        "no [profile] section (it needs at least 'chip')");
    const espfab_chip_t *chip = espfab_chip_get(p->chip);
    if (!st->key_line[PK_CHIP] || !chip)
        return cfg_fail(st->f, ESPFAB_E_CONFIG_MISSING_KEY, st->display, st->profile_line,
                        "[profile] has no 'chip' (one of: %s)", espfab_chip_keys());
    if (p->nimages == 0)
        return cfg_fail(st->f, ESPFAB_E_CONFIG_NO_IMAGES, st->display, 0,
                        "no [image NAME] section");
    for (size_t i = 0; i < p->nimages; i++) {
        for (int k = 0; k < IK_KIND; k++) /* kind is optional */
            if (!st->img_key_line[i][k])
                return cfg_fail(st->f, ESPFAB_E_CONFIG_MISSING_KEY, st->display,
                                p->images[i].line, "[image %s] has no '%s'", p->images[i].name,
                                image_keys[k]);
    }
    if (p->min_rev_full >= 0 && p->max_rev_full >= 0 && p->min_rev_full > p->max_rev_full)
        return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, st->key_line[PK_MAX_REV],
                        "max_rev %d.%d is below min_rev %d.%d", p->max_rev_full / 100,
                        p->max_rev_full % 100, p->min_rev_full / 100, p->min_rev_full % 100);
    int rc = check_flash_param(st, chip, PK_FLASH_MODE);
    if (!rc)
        rc = check_flash_param(st, chip, PK_FLASH_FREQ);
    if (!rc)
        rc = check_flash_param(st, chip, PK_FLASH_SIZE);
    if (rc)
        return rc;

    sort_images(st);
    if (!(flags & ESPFAB_PROFILE_NO_FILES)) {
        rc = load_images(st, base_dir, chip);
        if (rc)
            return rc;
    }
    uint32_t flash_size = espfab_flash_params_size(&p->flash);
    espfab_region_t regions[ESPFAB_MAX_REGIONS];
    for (size_t i = 0; i < p->nimages; i++) {
        regions[i].offset = p->images[i].offset;
        regions[i].name = p->images[i].file;
        regions[i].len = p->images[i].data ? p->images[i].size : 1;
    }
    rc = espfab_regions_check(regions, p->nimages, flash_size, st->f);
    if (rc)
        return cfg_prefix(st->f, st->display, region_line(st, rc, flash_size));
    /* What may go where: ELF, raw data at the bootloader offset or in an
     * app partition, data the profile does not declare, a partition table
     * the regions or the flash do not fit (bytes unknown with NO_FILES). */
    const uint8_t *bytes[ESPFAB_MAX_REGIONS];
    espfab_region_kind_t kinds[ESPFAB_MAX_REGIONS];
    for (size_t i = 0; i < p->nimages; i++) {
        bytes[i] = p->images[i].data;
        kinds[i] = p->images[i].kind;
    }
    size_t at = 0;
    rc = espfab_regions_check_layout(regions, bytes, kinds, p->nimages, chip, flash_size,
                                     ESPFAB_LAYOUT_DECLARED | ESPFAB_LAYOUT_DEFAULT_APP, &at, st->f);
    if (rc) {
        int line = st->img_key_line[at][IK_KIND] ? st->img_key_line[at][IK_KIND]
                                                 : st->img_key_line[at][IK_FILE];
        return cfg_prefix(st->f, st->display, line);
    }
    return 0;
}

/* ---- public ---- */

static void defaults(espfab_profile_t *p)
{
    memset(p, 0, sizeof *p);
    p->chip = ESPFAB_CHIP_UNKNOWN;
    p->baud = 460800;
    p->flash = (espfab_flash_params_t){ESPFAB_FLASH_MODE_KEEP, ESPFAB_FLASH_FREQ_KEEP,
                                       ESPFAB_FLASH_SIZE_KEEP, false};
    p->before = ESPFAB_RESET_AUTO;
    p->after = ESPFAB_AFTER_HARD_RESET;
    p->stub = p->compress = p->verify = true;
    p->erase = ESPFAB_ERASE_NONE;
    p->min_rev_full = p->max_rev_full = -1;
}

static void default_name(espfab_profile_t *p, const char *display)
{
    const char *base = strrchr(display, '/');
    base = base ? base + 1 : display;
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".ini") == 0)
        n -= 4;
    if (n >= sizeof p->name)
        n = sizeof p->name - 1;
    snprintf(p->name, sizeof p->name, "%.*s", (int)n, base);
}

int espfab_profile_parse(const char *text, size_t len, const char *display_name,
                         const char *base_dir, unsigned flags, espfab_profile_t *out,
                         espfab_fault_t *f)
{
    if (!out || (!text && len))
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_profile_parse");
    defaults(out);
    pstate_t *st = calloc(1, sizeof *st);
    if (!st)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "profile");
    st->p = out;
    st->display = display_name ? display_name : "(profile)";
    st->f = f;
    st->cur = -1;
    espfab_sha256_hex(text ? text : "", len, out->sha256);
    int rc = cfg_parse(text ? text : "", len, st->display, on_section, on_key, st, f);
    if (!rc)
        rc = finish(st, base_dir, flags);
    if (!rc && !out->name[0])
        default_name(out, st->display);
    free(st);
    if (rc)
        espfab_profile_free(out);
    return rc;
}

int espfab_profile_load(const char *path, espfab_profile_t *out, espfab_fault_t *f)
{
    if (!path || !out)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_profile_load");
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    int rc = cfg_read_file(path, PROFILE_MAX_BYTES, &text, &len, f);
    if (rc)
        return rc;
    char dir[PATH_MAX], abs[PATH_MAX];
    rc = cfg_dirname_abs(path, dir, sizeof dir, f);
    if (!rc && (!realpath(path, abs) || strlen(abs) >= sizeof out->path))
        rc = espfab_fault_set(f, ESPFAB_E_CONFIG_OPEN, "%s: path too long", path);
    if (!rc)
        rc = espfab_profile_parse(text, len, path, dir, 0, out, f);
    if (!rc)
        cfg_copy(out->path, sizeof out->path, abs);
    free(text);
    return rc;
}

void espfab_profile_free(espfab_profile_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < ESPFAB_MAX_REGIONS; i++)
        free(p->images[i].data);
    memset(p, 0, sizeof *p);
}

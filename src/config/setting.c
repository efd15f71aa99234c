/* setting.c - user text to typed settings, the only such parsers (setting.h). */
#include "espfab/setting.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/cfg.h"

/* One accepted spelling.  hidden: accepted but not listed in messages. */
typedef struct name_map {
    const char *name;
    int value;
    bool hidden;
} name_map_t;

#define END_MAP { NULL, 0, false }

static const name_map_t before_map[] = {
    /* esptool's names first: profiles and station files use them */
    { "default-reset", ESPFAB_RESET_AUTO, false },   { "usb-reset", ESPFAB_RESET_USB_JTAG, false },
    { "no-reset", ESPFAB_RESET_NONE, false },        { "no-reset-no-sync", ESPFAB_RESET_NONE, false },
    { "auto", ESPFAB_RESET_AUTO, false },            { "classic", ESPFAB_RESET_CLASSIC, false },
    { "tight", ESPFAB_RESET_TIGHT, false },          { "usb-jtag", ESPFAB_RESET_USB_JTAG, false },
    { "none", ESPFAB_RESET_NONE, false },            { "unix-tight", ESPFAB_RESET_TIGHT, true },
    { "default", ESPFAB_RESET_AUTO, true },          END_MAP,
};

static const name_map_t after_map[] = {
    { "hard-reset", ESPFAB_AFTER_HARD_RESET, false }, { "soft-reset", ESPFAB_AFTER_NO_RESET, false },
    { "no-reset", ESPFAB_AFTER_NO_RESET, false },     { "no-reset-stub", ESPFAB_AFTER_NO_RESET, false },
    { "watchdog-reset", ESPFAB_AFTER_HARD_RESET, false }, { "none", ESPFAB_AFTER_NO_RESET, false },
    END_MAP,
};

static const name_map_t erase_map[] = {
    { "none", ESPFAB_ERASE_NONE, false }, { "regions", ESPFAB_ERASE_REGIONS, false },
    { "all", ESPFAB_ERASE_ALL, false },   END_MAP,
};

static const name_map_t mode_map[] = {
    { "keep", ESPFAB_FLASH_MODE_KEEP, false }, { "qio", ESPFAB_FLASH_MODE_QIO, false },
    { "qout", ESPFAB_FLASH_MODE_QOUT, false }, { "dio", ESPFAB_FLASH_MODE_DIO, false },
    { "dout", ESPFAB_FLASH_MODE_DOUT, false }, END_MAP,
};

static const name_map_t freq_map[] = {
    { "keep", ESPFAB_FLASH_FREQ_KEEP, false }, { "80m", ESPFAB_FLASH_FREQ_80M, false },
    { "60m", ESPFAB_FLASH_FREQ_60M, false },   { "48m", ESPFAB_FLASH_FREQ_48M, false },
    { "40m", ESPFAB_FLASH_FREQ_40M, false },   { "30m", ESPFAB_FLASH_FREQ_30M, false },
    { "26m", ESPFAB_FLASH_FREQ_26M, false },   { "24m", ESPFAB_FLASH_FREQ_24M, false },
    { "20m", ESPFAB_FLASH_FREQ_20M, false },   { "16m", ESPFAB_FLASH_FREQ_16M, false },
    { "15m", ESPFAB_FLASH_FREQ_15M, false },   { "12m", ESPFAB_FLASH_FREQ_12M, false },
    END_MAP,
};

/* Sizes by name; the value is an index into size_names' byte counts below. */
static const name_map_t size_map[] = {
    { "keep", 0, false },   { "detect", 1, false }, { "256KB", 2, false }, { "512KB", 3, false },
    { "1MB", 4, false },    { "2MB", 5, false },    { "2MB-c1", 6, false }, { "4MB", 7, false },
    { "4MB-c1", 8, false }, { "8MB", 9, false },    { "16MB", 10, false }, { "32MB", 11, false },
    { "64MB", 12, false },  { "128MB", 13, false }, END_MAP,
};

/* Case-insensitive, '_' and '-' the same. */
static bool same(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : (char)tolower((unsigned char)*a);
        char y = *b == '_' ? '-' : (char)tolower((unsigned char)*b);
        if (x != y)
            return false;
    }
    return *a == *b;
}

static int refuse(const char *s, const espfab_setting_src_t *src, const name_map_t *m,
                  espfab_fault_t *f)
{
    char allowed[256];
    size_t used = 0;
    allowed[0] = '\0';
    for (; m->name && used < sizeof(allowed); m++) {
        if (m->hidden)
            continue;
        int k = snprintf(allowed + used, sizeof(allowed) - used, "%s%s", used ? ", " : "", m->name);
        if (k < 0)
            break;
        used += (size_t)k;
    }
    const char *key = src && src->key ? src->key : "value";
    if (src && src->file)
        return cfg_fail(f, ESPFAB_E_CONFIG_BAD_VALUE, src->file, src->line,
                        "bad value '%s' for %s (allowed: %s)", s ? s : "", key, allowed);
    return espfab_fault_set(f, ESPFAB_E_USAGE, "bad value '%s' for %s (allowed: %s)", s ? s : "",
                            key, allowed);
}

static int parse(const char *s, const espfab_setting_src_t *src, const name_map_t *map,
                 int *out, espfab_fault_t *f)
{
    for (const name_map_t *m = map; s && m->name; m++) {
        if (same(s, m->name)) {
            *out = m->value;
            return 0;
        }
    }
    return refuse(s, src, map, f);
}

int espfab_setting_parse_before(const char *s, const espfab_setting_src_t *src,
                                espfab_reset_t *out, espfab_fault_t *f)
{
    int v, rc = parse(s, src, before_map, &v, f);
    if (!rc)
        *out = (espfab_reset_t)v;
    return rc;
}

int espfab_setting_parse_after(const char *s, const espfab_setting_src_t *src,
                               espfab_after_t *out, espfab_fault_t *f)
{
    int v, rc = parse(s, src, after_map, &v, f);
    if (!rc)
        *out = (espfab_after_t)v;
    return rc;
}

int espfab_setting_parse_erase(const char *s, const espfab_setting_src_t *src,
                               espfab_erase_t *out, espfab_fault_t *f)
{
    int v, rc = parse(s, src, erase_map, &v, f);
    if (!rc)
        *out = (espfab_erase_t)v;
    return rc;
}

int espfab_setting_parse_flash_mode(const char *s, const espfab_setting_src_t *src,
                                    espfab_flash_mode_t *out, espfab_fault_t *f)
{
    int v, rc = parse(s, src, mode_map, &v, f);
    if (!rc)
        *out = (espfab_flash_mode_t)v;
    return rc;
}

int espfab_setting_parse_flash_freq(const char *s, const espfab_setting_src_t *src,
                                    espfab_flash_freq_t *out, espfab_fault_t *f)
{
    int v, rc = parse(s, src, freq_map, &v, f);
    if (!rc)
        *out = (espfab_flash_freq_t)v;
    return rc;
}

int espfab_setting_parse_flash_size(const char *s, const espfab_setting_src_t *src,
                                    espfab_flash_params_t *p, espfab_fault_t *f)
{
    int v, rc = parse(s, src, size_map, &v, f);
    if (rc)
        return rc;
    if (v == 0) {
        p->size = ESPFAB_FLASH_SIZE_KEEP;
        p->size_c1 = false;
    } else if (v == 1) {
        p->size = ESPFAB_FLASH_SIZE_DETECT;
        p->size_c1 = false;
    } else {
        const char *name = size_map[v].name;
        p->size = espfab_flash_size_parse(name);
        p->size_c1 = strchr(name, '-') != NULL;
    }
    return 0;
}

const char *espfab_after_name(espfab_after_t a)
{
    return a == ESPFAB_AFTER_HARD_RESET ? "hard-reset" : a == ESPFAB_AFTER_NO_RESET ? "no-reset" : "?";
}

const char *espfab_erase_name(espfab_erase_t e)
{
    static const char *const n[] = {"none", "regions", "all"};
    return (unsigned)e < 3 ? n[e] : "?";
}

#define KB 1024u
#define MB (1024u * 1024u)

uint32_t espfab_flash_size_parse(const char *s)
{
    if (!s || !isdigit((unsigned char)*s))
        return 0;
    unsigned long v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (unsigned long)(*s++ - '0');
        if (v > 4096)
            return 0;
    }
    uint64_t mult;
    if (strncasecmp(s, "KB", 2) == 0)
        mult = KB;
    else if (strncasecmp(s, "MB", 2) == 0)
        mult = MB;
    else
        return 0;
    s += 2;
    /* "2MB-c1" / "4MB-c1" (ESP8266 layouts) are sizes too. */
    if (*s && strcasecmp(s, "-c1") != 0)
        return 0;
    uint64_t bytes = v * mult;
    if (bytes == 0 || bytes > 0x80000000ull)
        return 0;
    return (uint32_t)bytes;
}

/* station_cfg.c - the station file and slot resolution (station_cfg.h). */
#include "espfab/station_cfg.h"
#include "espfab/port_spec.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/cfg.h"
#include "espfab/chip.h"
#include "espfab/num.h"
#include "espfab/setting.h"

#define STATION_MAX_BYTES (1u << 20)

enum { SK_ID, SK_LINE, SK_OPERATOR, SK_LOT, SK_DATABASE, SK_PROFILE, SK_MODE, SK_COUNT };
static const char *const station_keys[SK_COUNT + 1] = {
    "id", "line", "operator", "lot", "database", "profile", "mode", NULL};

enum { LK_PORT, LK_BEFORE, LK_BAUD, LK_PROFILE, LK_USB_ID, LK_COUNT };
static const char *const slot_keys[LK_COUNT + 1] = {"port", "before", "baud", "profile", "usb_id", NULL};

static const char *const mode_names[] = {"batch", "continuous", NULL};

typedef struct {
    espfab_station_cfg_t *c;
    const char *display;
    const char *base_dir;
    espfab_fault_t *f;
    int station_line;
    int key_line[SK_COUNT];
    int (*slot_key_line)[LK_COUNT];  /* per slot */
    int cur;                         /* -1 [station], >= 0 slot index */
    size_t cap;
} sstate_t;

const char *espfab_station_mode_name(espfab_station_mode_t m)
{
    return (unsigned)m < 2 ? mode_names[m] : "unknown-mode";
}

static int slot_first_line(void *user, const char *name)
{
    const espfab_station_cfg_t *c = user;
    for (size_t i = 0; i < c->nslots; i++)
        if (strcmp(c->slots[i].name, name) == 0)
            return c->slots[i].line;
    return 0;
}

static const cfg_sections_t station_sections = {
    "station", "slot", "A1", sizeof(((espfab_slot_cfg_t *)0)->name), ESPFAB_STATION_MAX_SLOTS,
    "slots",
};

static int on_section(void *user, const char *section, int line)
{
    sstate_t *st = user;
    espfab_station_cfg_t *c = st->c;
    char name[sizeof c->slots[0].name];
    bool named;
    int rc = cfg_section(&station_sections, st->display, section, line, &st->station_line,
                         c->nslots, slot_first_line, c, name, &named, st->f);
    if (rc)
        return rc;
    if (!named) {
        st->cur = -1;
        return 0;
    }
    if (c->nslots == st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 16;
        espfab_slot_cfg_t *ns = realloc(c->slots, ncap * sizeof *ns);
        if (!ns)
            return espfab_fault_set(st->f, ESPFAB_E_NOMEM, "%s", st->display);
        c->slots = ns;
        int (*nk)[LK_COUNT] = realloc(st->slot_key_line, ncap * sizeof *nk);
        if (!nk)
            return espfab_fault_set(st->f, ESPFAB_E_NOMEM, "%s", st->display);
        st->slot_key_line = nk;
        st->cap = ncap;
    }
    espfab_slot_cfg_t *s = &c->slots[c->nslots];
    memset(s, 0, sizeof *s);
    memset(st->slot_key_line[c->nslots], 0, sizeof st->slot_key_line[0]);
    memcpy(s->name, name, sizeof s->name);
    s->line = line;
    st->cur = (int)c->nslots++;
    return 0;
}

int espfab_station_label_copy(char *dst, size_t n, const char *value, char *why, size_t whylen)
{
    size_t l = strlen(value);
    if (l == 0 || l >= n) {
        snprintf(why, whylen, "must be 1 to %zu characters", n - 1);
        return -1;
    }
    for (size_t i = 0; i < l; i++)
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
            snprintf(why, whylen, "contains a control character");
            return -1;
        }
    memcpy(dst, value, l + 1);
    return 0;
}

static int set_text(sstate_t *st, int line, const char *key, const char *value, char *dst,
                    size_t n)
{
    char why[64];
    if (espfab_station_label_copy(dst, n, value, why, sizeof why) != 0)
        return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line, "%s %s", key, why);
    return 0;
}

static int set_path(sstate_t *st, int line, const char *key, const char *value, char *dst,
                    size_t n)
{
    if (!value[0])
        return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line, "%s is empty", key);
    if (!cfg_join_path(st->base_dir, value, dst, n))
        return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line, "%s path too long",
                        key);
    return 0;
}

static int station_key(sstate_t *st, int k, const char *value, int line)
{
    espfab_station_cfg_t *c = st->c;
    switch (k) {
    case SK_ID: return set_text(st, line, "id", value, c->id, sizeof c->id);
    case SK_LINE: return set_text(st, line, "line", value, c->line, sizeof c->line);
    case SK_OPERATOR:
        return set_text(st, line, "operator", value, c->operator_name, sizeof c->operator_name);
    case SK_LOT: return set_text(st, line, "lot", value, c->lot, sizeof c->lot);
    case SK_DATABASE: return set_path(st, line, "database", value, c->database, sizeof c->database);
    case SK_PROFILE: return set_path(st, line, "profile", value, c->profile, sizeof c->profile);
    case SK_MODE: {
        int m = cfg_enum(value, mode_names);
        if (m < 0)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "bad value '%s' for mode (allowed: batch, continuous)", value);
        c->mode = (espfab_station_mode_t)m;
        return 0;
    }
    }
    return 0;
}

static int slot_key(sstate_t *st, espfab_slot_cfg_t *s, int k, const char *value, int line)
{
    if (k == LK_PORT) {
        size_t l = strlen(value);
        if (l == 0 || l >= sizeof s->port)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "port must be 1 to %zu characters", sizeof s->port - 1);
        espfab_port_spec_t spec;
        espfab_fault_t pf;
        espfab_fault_clear(&pf);
        if (espfab_port_spec_parse(value, &spec, &pf) != 0)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "bad port '%s' (tcp://HOST:PORT): %s", value, pf.detail);
        s->is_tcp = spec.kind == ESPFAB_PORT_SPEC_TCP;
        if (!s->is_tcp && value[0] != '/')
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "bad port '%s' (a device path such as /dev/ttyUSB0, a "
                            "/dev/serial/by-path/... path or glob, or tcp://HOST:PORT)", value);
        s->is_glob = !s->is_tcp && spec.is_glob;
        for (size_t i = 0; i < st->c->nslots; i++) {
            const espfab_slot_cfg_t *o = &st->c->slots[i];
            if (o != s && strcmp(o->port, value) == 0)
                return cfg_fail(st->f, ESPFAB_E_CONFIG_DUPLICATE, st->display, line,
                                "port '%s' is already slot %s's (line %d)", value, o->name,
                                st->slot_key_line[i][LK_PORT]);
        }
        memcpy(s->port, value, l + 1);
        return 0;
    }
    if (k == LK_BEFORE) {
        const espfab_setting_src_t src = {st->display, line, "before"};
        int rc = espfab_setting_parse_before(value, &src, &s->before, st->f);
        s->has_before = rc == 0;
        return rc;
    }
    if (k == LK_PROFILE)
        return set_path(st, line, "profile", value, s->profile, sizeof s->profile);
    if (k == LK_USB_ID) {
        if (espfab_usb_id_parse(value, &s->usb_vid, &s->usb_pid) != 0)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                            "bad usb_id '%s' (VID:PID in hex, e.g. 303a:1001 for the chip's "
                            "USB-Serial/JTAG behind a serial server)", value);
        return 0;
    }
    if (espfab_num_parse_u32(value, &s->baud) != 0 || s->baud < 1200 || s->baud > 20000000)
        return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, line,
                        "bad number '%s' for baud (a baud rate such as 115200, 460800, 921600)",
                        value);
    return 0;
}

static int on_key(void *user, const char *section, const char *key, const char *value, int line)
{
    sstate_t *st = user;
    if (!section[0])
        return cfg_fail(st->f, ESPFAB_E_CONFIG_SYNTAX, st->display, line,
                        "key '%s' before any section (start with [station])", key);
    const char *const *keys = st->cur < 0 ? station_keys : slot_keys;
    const char *const *other = st->cur < 0 ? slot_keys : station_keys;
    char where[96];
    if (st->cur < 0)
        snprintf(where, sizeof where, "[station]");
    else
        snprintf(where, sizeof where, "[slot %s]", st->c->slots[st->cur].name);
    int k = cfg_enum(key, keys);
    if (k < 0 || strcmp(key, keys[k]) != 0) {
        if (cfg_enum(key, other) >= 0)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_UNKNOWN_KEY, st->display, line,
                            "unknown key '%s' in %s (it belongs in %s)", key, where,
                            st->cur < 0 ? "a [slot NAME] section" : "[station]");
        const char *s = cfg_suggest(key, keys);
        if (s)
            return cfg_fail(st->f, ESPFAB_E_CONFIG_UNKNOWN_KEY, st->display, line,
                            "unknown key '%s' in %s (did you mean '%s'?)", key, where, s);
        return cfg_fail(st->f, ESPFAB_E_CONFIG_UNKNOWN_KEY, st->display, line,
                        "unknown key '%s' in %s", key, where);
    }
    int *seen = st->cur < 0 ? &st->key_line[k] : &st->slot_key_line[st->cur][k];
    if (*seen)
        return cfg_fail(st->f, ESPFAB_E_CONFIG_DUPLICATE, st->display, line,
                        "duplicate key '%s' in %s (first at line %d)", key, where, *seen);
    *seen = line;
    if (st->cur < 0)
        return station_key(st, k, value, line);
    return slot_key(st, &st->c->slots[st->cur], k, value, line);
}

static int finish(sstate_t *st)
{
    espfab_station_cfg_t *c = st->c;
    if (!st->station_line)
        return cfg_fail(st->f, ESPFAB_E_CONFIG_MISSING_KEY, st->display, 0,
                        "no [station] section (it needs at least 'id')");
    c->station_line = st->station_line;
    if (!c->id[0])
        return cfg_fail(st->f, ESPFAB_E_CONFIG_MISSING_KEY, st->display, st->station_line,
                        "[station] has no 'id'");
    for (size_t i = 0; i < c->nslots; i++)
        if (!c->slots[i].port[0])
            return cfg_fail(st->f, ESPFAB_E_CONFIG_MISSING_KEY, st->display, c->slots[i].line,
                            "[slot %s] has no 'port'", c->slots[i].name);
    if (!c->database[0] && !cfg_join_path(st->base_dir, "espfab.db", c->database,
                                          sizeof c->database))
        return cfg_fail(st->f, ESPFAB_E_CONFIG_BAD_VALUE, st->display, 0, "database path too long");
    return 0;
}

int espfab_station_cfg_parse(const char *text, size_t len, const char *display_name,
                             const char *base_dir, espfab_station_cfg_t *out, espfab_fault_t *f)
{
    if (!out || (!text && len))
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_station_cfg_parse");
    memset(out, 0, sizeof *out);
    sstate_t st;
    memset(&st, 0, sizeof st);
    st.c = out;
    st.display = display_name ? display_name : "(station)";
    st.base_dir = base_dir;
    st.f = f;
    st.cur = -1;
    int rc = cfg_parse(text ? text : "", len, st.display, on_section, on_key, &st, f);
    if (!rc)
        rc = finish(&st);
    free(st.slot_key_line);
    if (rc)
        espfab_station_cfg_free(out);
    return rc;
}

int espfab_station_cfg_load(const char *path, espfab_station_cfg_t *out, espfab_fault_t *f)
{
    if (!path || !out)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_station_cfg_load");
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    int rc = cfg_read_file(path, STATION_MAX_BYTES, &text, &len, f);
    if (rc)
        return rc;
    char dir[PATH_MAX], abs[PATH_MAX];
    rc = cfg_dirname_abs(path, dir, sizeof dir, f);
    if (!rc && (!realpath(path, abs) || strlen(abs) >= sizeof out->path))
        rc = espfab_fault_set(f, ESPFAB_E_CONFIG_OPEN, "%s: path too long", path);
    if (!rc)
        rc = espfab_station_cfg_parse(text, len, path, dir, out, f);
    if (!rc)
        cfg_copy(out->path, sizeof out->path, abs);
    free(text);
    return rc;
}

void espfab_station_cfg_free(espfab_station_cfg_t *c)
{
    if (!c)
        return;
    free(c->slots);
    memset(c, 0, sizeof *c);
}

const espfab_slot_cfg_t *espfab_station_cfg_slot(const espfab_station_cfg_t *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->nslots; i++)
        if (strcmp(c->slots[i].name, name) == 0)
            return &c->slots[i];
    return NULL;
}

static int put(const espfab_slot_cfg_t *s, const char *path, bool follow, char *dev, size_t len,
               espfab_fault_t *f)
{
    char real[PATH_MAX];
    if (follow && realpath(path, real))
        path = real;
    if (strlen(path) >= len)
        return espfab_fault_set(f, ESPFAB_E_BUFFER_TOO_SMALL, "slot %s: %s", s->name, path);
    memcpy(dev, path, strlen(path) + 1);
    return 0;
}

int espfab_station_slot_resolve(const espfab_slot_cfg_t *s, bool follow, char *dev, size_t len,
                                espfab_fault_t *f)
{
    if (!s || !dev || !len)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_station_slot_resolve");
    dev[0] = '\0';
    if (s->is_tcp)
        return put(s, s->port, false, dev, len, f);
    if (!s->is_glob) {
        struct stat sb;
        if (stat(s->port, &sb) != 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                return espfab_fault_set(f, ESPFAB_E_PORT_NOT_FOUND,
                                        "slot %s: nothing plugged in at %s", s->name, s->port);
            return espfab_fault_errno(f, ESPFAB_E_PORT_NOT_FOUND, errno, "slot %s: %s", s->name,
                                      s->port);
        }
        return put(s, s->port, follow, dev, len, f);
    }
    glob_t g;
    memset(&g, 0, sizeof g);
    int rc = glob(s->port, GLOB_NOSORT, NULL, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        return espfab_fault_set(f, ESPFAB_E_PORT_NOT_FOUND, "slot %s: nothing plugged in at %s",
                                s->name, s->port);
    }
    if (rc != 0) {
        globfree(&g);
        return espfab_fault_set(f, rc == GLOB_NOSPACE ? ESPFAB_E_NOMEM : ESPFAB_E_PORT_NOT_FOUND,
                                "slot %s: cannot read the directories of %s", s->name, s->port);
    }
    if (g.gl_pathc > 1) {
        int r = espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                 "slot %s: %s matches %zu devices (%s, %s%s); make the pattern "
                                 "name one hub position", s->name, s->port, (size_t)g.gl_pathc,
                                 g.gl_pathv[0], g.gl_pathv[1], g.gl_pathc > 2 ? ", ..." : "");
        globfree(&g);
        return r;
    }
    rc = put(s, g.gl_pathv[0], follow, dev, len, f);
    globfree(&g);
    return rc;
}

int espfab_station_cfg_check_run(const espfab_station_cfg_t *c, espfab_fault_t *f)
{
    const char *file = c->path[0] ? c->path : "(station)";
    if (c->nslots == 0)
        return espfab_fault_set(f, ESPFAB_E_STATION_NO_PORTS,
                                "%s:%d: the station has no [slot NAME] section: add one per jig "
                                "position, e.g. [slot A1] with port = /dev/serial/by-path/...",
                                file, c->station_line);
    for (size_t i = 0; i < c->nslots; i++) {
        const espfab_slot_cfg_t *s = &c->slots[i];
        glob_t g;
        memset(&g, 0, sizeof g);
        if (!s->is_glob || glob(s->port, 0, NULL, &g) != 0 || g.gl_pathc < 2) {
            globfree(&g);
            continue;
        }
        /* the fix before the devices: long by-path names may be cut */
        int r = espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                 "%s:%d: [slot %s] port matches %zu devices (make it name one hub "
                                 "position): %s, %s%s", file, s->line, s->name,
                                 (size_t)g.gl_pathc, g.gl_pathv[0], g.gl_pathv[1],
                                 g.gl_pathc > 2 ? ", ..." : "");
        globfree(&g);
        return r;
    }
    return 0;
}

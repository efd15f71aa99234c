/* cfg.c - INI plumbing shared by profiles and station files (see cfg.h). */
#include "config/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- faults ---- */

int cfg_fail(espfab_fault_t *f, int code, const char *display, int line, const char *fmt, ...)
{
    char msg[sizeof f->detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        return espfab_fault_set(f, code, "%s:%d: %s", display, line, msg);
    return espfab_fault_set(f, code, "%s: %s", display, msg);
}

int cfg_prefix(espfab_fault_t *f, const char *display, int line)
{
    if (!f)
        return 0;
    char pre[sizeof f->detail];
    int w = line > 0 ? snprintf(pre, sizeof pre, "%s:%d: ", display, line)
                     : snprintf(pre, sizeof pre, "%s: ", display);
    if (w <= 0)
        return f->code;
    size_t plen = strlen(pre), cap = sizeof f->detail - 1;
    size_t dlen = strnlen(f->detail, cap);
    if (plen > cap)
        plen = cap;
    if (plen + dlen > cap)
        dlen = cap - plen; /* keep the prefix; truncate the old detail */
    memmove(f->detail + plen, f->detail, dlen);
    memcpy(f->detail, pre, plen);
    f->detail[plen + dlen] = '\0';
    return f->code;
}

void cfg_copy(char *dst, size_t n, const char *src)
{
    if (!n)
        return;
    size_t l = strlen(src);
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

/* ---- the line reader ---- */

typedef struct {
    const char *text;
    size_t len, pos;
    int line;
    const char *display;
    cfg_section_cb on_section;
    cfg_key_cb on_key;
    void *user;
    espfab_fault_t *f;
    int rc, rc_line;
    char section[128];
} reader_t;

static char *read_line(char *str, int num, void *stream)
{
    reader_t *r = stream;
    if (r->rc || r->pos >= r->len)
        return NULL;
    size_t start = r->pos, end = start;
    while (end < r->len && r->text[end] != '\n')
        end++;
    r->pos = end < r->len ? end + 1 : end;
    r->line++;
    const char *p = r->text + start;
    size_t n = end - start;
    if (n && p[n - 1] == '\r')
        n--;
    if (r->line == 1 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
        n -= 3;
    }
    if (memchr(p, '\0', n)) {
        r->rc = cfg_fail(r->f, ESPFAB_E_CONFIG_SYNTAX, r->display, r->line,
                         "NUL byte in the line (is this a text file?)");
        r->rc_line = r->line;
        return NULL;
    }
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    if (num < 3 || n > (size_t)num - 2) {
        r->rc = cfg_fail(r->f, ESPFAB_E_CONFIG_SYNTAX, r->display, r->line,
                         "line is longer than %d characters", num - 2);
        r->rc_line = r->line;
        return NULL;
    }
    memcpy(str, p, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    if (n && p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (!close) {
            r->rc = cfg_fail(r->f, ESPFAB_E_CONFIG_SYNTAX, r->display, r->line,
                             "section header without ']'");
            r->rc_line = r->line;
            return NULL;
        }
        size_t sl = (size_t)(close - p - 1);
        if (sl >= sizeof r->section) {
            r->rc = cfg_fail(r->f, ESPFAB_E_CONFIG_SYNTAX, r->display, r->line,
                             "section name longer than %zu characters", sizeof r->section - 1);
            r->rc_line = r->line;
            return NULL;
        }
        memcpy(r->section, p + 1, sl);
        r->section[sl] = '\0';
        if (r->on_section) {
            int rc = r->on_section(r->user, r->section, r->line);
            if (rc) {
                r->rc = rc;
                r->rc_line = r->line;
                return NULL;
            }
        }
    }
    return str;
}

static int on_ini_key(void *user, const char *section, const char *name, const char *value)
{
    reader_t *r = user;
    (void)section; /* ours, from read_line, is the same and has a line number */
    if (r->rc)
        return 1;
    int rc = r->on_key(r->user, r->section, name, value, r->line);
    if (rc) {
        r->rc = rc;
        r->rc_line = r->line;
    }
    return 1;
}

/* Copies line number `line` of text (trimmed, at most 60 chars) into out. */
static void line_text(const char *text, size_t len, int line, char *out, size_t outlen)
{
    size_t pos = 0;
    for (int l = 1; l < line && pos < len; pos++)
        if (text[pos] == '\n')
            l++;
    while (pos < len && (text[pos] == ' ' || text[pos] == '\t'))
        pos++;
    size_t n = 0;
    while (pos + n < len && text[pos + n] != '\n' && text[pos + n] != '\r' && n < 60 &&
           n + 1 < outlen)
        n++;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[pos + i];
        out[i] = isprint(c) ? (char)c : '?';
    }
    out[n] = '\0';
}

int cfg_parse(const char *text, size_t len, const char *display, cfg_section_cb on_section,
              cfg_key_cb on_key, void *user, espfab_fault_t *f)
{
    reader_t r;
    memset(&r, 0, sizeof r);
    r.text = text;
    r.len = len;
    r.display = display ? display : "(config)";
    r.on_section = on_section;
    r.on_key = on_key;
    r.user = user;
    r.f = f;
    int bad = ini_parse_stream(read_line, &r, on_ini_key, &r);
    if (bad > 0 && (!r.rc || bad < r.rc_line)) {
        char shown[64];
        line_text(text, len, bad, shown, sizeof shown);
        return cfg_fail(f, ESPFAB_E_CONFIG_SYNTAX, r.display, bad,
                        "expected 'key = value' or '[section]', got '%s'", shown);
    }
    if (r.rc)
        return r.rc;
    if (bad < 0)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: inih could not allocate", r.display);
    return 0;
}

/* ---- suggestions ---- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            cur[j] = v;
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

const char *cfg_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t bestd = 99;
    for (size_t i = 0; candidates[i]; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d < bestd) {
            bestd = d;
            best = candidates[i];
        }
    }
    if (best && bestd <= 2 && bestd < strlen(best))
        return best;
    return NULL;
}

/* ---- value parsers ---- */

bool cfg_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1", NULL};
    static const char *const no[] = {"no", "false", "off", "0", NULL};
    if (cfg_enum(s, yes) >= 0) {
        *out = true;
        return true;
    }
    if (cfg_enum(s, no) >= 0) {
        *out = false;
        return true;
    }
    return false;
}

bool cfg_parse_rev(const char *s, int *out)
{
    if (!s)
        return false;
    if (*s == 'v' || *s == 'V')
        s++;
    if (!isdigit((unsigned char)*s))
        return false;
    long major = 0, minor = 0;
    int nd = 0;
    while (isdigit((unsigned char)*s)) {
        major = major * 10 + (*s++ - '0');
        if (++nd > 3)
            return false;
    }
    if (*s == '.') {
        s++;
        nd = 0;
        while (isdigit((unsigned char)*s)) {
            minor = minor * 10 + (*s++ - '0');
            if (++nd > 2)
                return false;
        }
        if (nd == 0)
            return false;
    }
    if (*s)
        return false;
    *out = (int)(major * 100 + minor);
    return true;
}

int cfg_enum(const char *s, const char *const *values)
{
    if (!s)
        return -1;
    for (int i = 0; values[i]; i++)
        if (strcasecmp(s, values[i]) == 0)
            return i;
    return -1;
}

const char *cfg_join(const char *const *values, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; values[i] && n < len; i++) {
        int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", values[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    return buf;
}

/* ---- files ---- */

int cfg_read_file(const char *path, size_t max, char **buf, size_t *len, espfab_fault_t *f)
{
    *buf = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer (the
     * check below refuses it); regular files ignore the flag. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    FILE *fp = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!fp) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return espfab_fault_errno(f, ESPFAB_E_CONFIG_OPEN, e, "%s", path);
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        int e = errno;
        fclose(fp);
        return espfab_fault_errno(f, ESPFAB_E_CONFIG_OPEN, e, "%s", path);
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(fp);
        return espfab_fault_errno(f, ESPFAB_E_CONFIG_OPEN, S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
                                  "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        fclose(fp);
        return espfab_fault_set(f, ESPFAB_E_CONFIG_OPEN, "%s: %lld bytes, a configuration file "
                                "is at most %zu", path, (long long)st.st_size, max);
    }
    char *b = malloc((size_t)st.st_size + 1);
    if (!b) {
        fclose(fp);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s", path);
    }
    size_t n = fread(b, 1, (size_t)st.st_size, fp);
    if (ferror(fp)) {
        int e = errno;
        free(b);
        fclose(fp);
        return espfab_fault_errno(f, ESPFAB_E_CONFIG_OPEN, e, "%s: read failed", path);
    }
    fclose(fp);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int cfg_dirname_abs(const char *path, char *dir, size_t len, espfab_fault_t *f)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *d = dirname(tmp);
    char abs[PATH_MAX];
    if (!realpath(d, abs))
        return espfab_fault_errno(f, ESPFAB_E_CONFIG_OPEN, errno, "%s: directory %s", path, d);
    if (strlen(abs) >= len)
        return espfab_fault_set(f, ESPFAB_E_CONFIG_OPEN, "%s: path too long", path);
    snprintf(dir, len, "%s", abs);
    return 0;
}

bool cfg_join_path(const char *base_dir, const char *rel, char *out, size_t len)
{
    int n;
    if (rel[0] == '/')
        n = snprintf(out, len, "%s", rel);
    else if (base_dir && base_dir[0])
        n = snprintf(out, len, "%s/%s", base_dir, rel);
    else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return false;
        n = snprintf(out, len, "%s/%s", cwd, rel);
    }
    return n >= 0 && (size_t)n < len;
}

/* "KIND NAME" -> true with the trimmed name; false for another section. */
static bool section_named(const char *section, const char *kind, const char **name, size_t *len)
{
    size_t kl = strlen(kind);
    if (strncmp(section, kind, kl) != 0 ||
        (section[kl] != ' ' && section[kl] != '\t' && section[kl] != '\0'))
        return false;
    const char *n = section + kl;
    while (*n == ' ' || *n == '\t')
        n++;
    size_t nl = strlen(n);
    while (nl && (n[nl - 1] == ' ' || n[nl - 1] == '\t'))
        nl--;
    *name = n;
    *len = nl;
    return true;
}

int cfg_section(const cfg_sections_t *d, const char *display, const char *section, int line,
                int *main_line, size_t count, cfg_first_line_cb first_line, void *user,
                char *name, bool *named, espfab_fault_t *f)
{
    *named = false;
    if (strcmp(section, d->main) == 0) {
        if (*main_line)
            return cfg_fail(f, ESPFAB_E_CONFIG_DUPLICATE, display, line,
                            "duplicate section [%s] (first at line %d)", d->main, *main_line);
        *main_line = line;
        return 0;
    }
    const char *n;
    size_t nl;
    if (section_named(section, d->kind, &n, &nl)) {
        if (nl == 0)
            return cfg_fail(f, ESPFAB_E_CONFIG_UNKNOWN_SECTION, display, line,
                            "section [%s] needs a name: [%s NAME] (e.g. [%s %s])", d->kind,
                            d->kind, d->kind, d->example);
        if (nl >= d->name_size)
            return cfg_fail(f, ESPFAB_E_CONFIG_BAD_VALUE, display, line,
                            "%s name longer than %zu characters", d->kind, d->name_size - 1);
        memcpy(name, n, nl);
        name[nl] = '\0';
        int first = first_line ? first_line(user, name) : 0;
        if (first)
            return cfg_fail(f, ESPFAB_E_CONFIG_DUPLICATE, display, line,
                            "duplicate section [%s %s] (first at line %d)", d->kind, name, first);
        if (count >= d->max)
            return cfg_fail(f, ESPFAB_E_CONFIG_BAD_VALUE, display, line, "more than %zu %s",
                            d->max, d->max_what);
        *named = true;
        return 0;
    }
    /* Suggest from the first word: [profle] -> [profile], [imgae app] -> [image app]. */
    const char *const names[] = {d->main, d->kind, NULL};
    char first[64];
    size_t fl = strcspn(section, " \t");
    snprintf(first, sizeof first, "%.*s", (int)(fl < 63 ? fl : 63), section);
    const char *s = cfg_suggest(first, names);
    if (s)
        return cfg_fail(f, ESPFAB_E_CONFIG_UNKNOWN_SECTION, display, line,
                        "unknown section [%s] (did you mean [%s%s]?)", section, s, section + fl);
    return cfg_fail(f, ESPFAB_E_CONFIG_UNKNOWN_SECTION, display, line,
                    "unknown section [%s] (sections: [%s], [%s NAME])", section, d->main, d->kind);
}

/*
 * cfg.h - shared INI plumbing for profiles and station files (private to
 * src/config).  Debian's inih is built without INI_HANDLER_LINENO, so the
 * parse runs through ini_parse_stream() with our own line reader: it counts
 * lines, strips indentation (so an indented key is never taken for an inih
 * continuation line), removes a UTF-8 BOM, refuses over-long lines and NUL
 * bytes, and reports each [section] header with its line before inih sees
 * the keys under it.  The first error stops the parse.
 *
 * Pure: no I/O except cfg_read_file().  No global state; thread-safe.
 * Callbacks fire synchronously from cfg_parse(), in file order.
 */
#ifndef ESPFAB_CONFIG_CFG_H
#define ESPFAB_CONFIG_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/err.h"

/* A [section] header at line; return 0 or an error code (fault set). */
typedef int (*cfg_section_cb)(void *user, const char *section, int line);
/* key = value under the most recent section ("" before any); 0 or error. */
typedef int (*cfg_key_cb)(void *user, const char *section, const char *key, const char *value,
                          int line);

/* Parses text[0..len).  display names the file in "display:line: " details. */
int cfg_parse(const char *text, size_t len, const char *display, cfg_section_cb on_section,
              cfg_key_cb on_key, void *user, espfab_fault_t *f);

/* Sets f to code with detail "display:line: <fmt>" (line <= 0: "display: "). */
int cfg_fail(espfab_fault_t *f, int code, const char *display, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Prepends "display:line: " to the detail of an existing fault; returns f->code. */
int cfg_prefix(espfab_fault_t *f, const char *display, int line);

/* Copies src into dst[n], truncating. */
void cfg_copy(char *dst, size_t n, const char *src);

/* The closest of the NULL-terminated candidates to word (edit distance,
 * case-insensitive), or NULL if none is close. */
const char *cfg_suggest(const char *word, const char *const *candidates);

/* The layout of an INI file: one [MAIN] section and any number of
 * [KIND NAME] sections (profiles: [profile] + [image NAME]; station files:
 * [station] + [slot NAME]). */
typedef struct cfg_sections {
    const char *main;       /* "profile" */
    const char *kind;       /* "image" */
    const char *example;    /* "app": "[image] needs a name ... (e.g. [image app])" */
    size_t name_size;       /* size of the caller's name buffer (incl. NUL) */
    size_t max;             /* most KIND sections */
    const char *max_what;   /* "images in one profile": "more than 8 images in one profile" */
} cfg_sections_t;

/* Line of the header of an earlier [KIND name], 0 if there is none. */
typedef int (*cfg_first_line_cb)(void *user, const char *name);

/* Classifies the header `section` at line, for a cfg_section_cb.  *main_line
 * is 0 until [MAIN] is seen (set here; a second one is a duplicate).  count:
 * KIND sections so far.  A new [KIND NAME] has its name (blanks trimmed)
 * copied into name[d->name_size] and sets *named; [MAIN] clears it.  Returns
 * 0, or an error code with f set ("file:line: ..."): duplicate section,
 * [KIND] without a name or with one too long, more than d->max, or an
 * unknown section (with a "did you mean" suggestion from its first word). */
int cfg_section(const cfg_sections_t *d, const char *display, const char *section, int line,
                int *main_line, size_t count, cfg_first_line_cb first_line, void *user,
                char *name, bool *named, espfab_fault_t *f);

/* Parsers: return true and set *out on success (numbers: espfab/num.h;
 * settings: espfab/setting.h). */
bool cfg_parse_bool(const char *s, bool *out);      /* yes/no true/false on/off 1/0 */
/* "0.0", "3.99", "v1.2", "2" -> major*100+minor (minor < 100). */
bool cfg_parse_rev(const char *s, int *out);
/* Index of s (case-insensitive) in the NULL-terminated list, or -1. */
int cfg_enum(const char *s, const char *const *values);
/* "a, b, c" into buf. */
const char *cfg_join(const char *const *values, char *buf, size_t len);

/* Reads a whole file (at most max bytes) into a NUL-terminated malloc'd
 * buffer.  ESPFAB_E_CONFIG_OPEN with errno and the path on failure. */
int cfg_read_file(const char *path, size_t max, char **buf, size_t *len, espfab_fault_t *f);

/* Absolute directory of path (realpath of its directory) into dir. */
int cfg_dirname_abs(const char *path, char *dir, size_t len, espfab_fault_t *f);
/* base_dir + "/" + rel unless rel is absolute; base_dir NULL = cwd.
 * Returns false if it does not fit. */
bool cfg_join_path(const char *base_dir, const char *rel, char *out, size_t len);

#endif

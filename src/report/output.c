/*
 * output.c - where a report may be written (never over a database) and the
 * safe write of `report -o FILE`: a temporary file in FILE's folder,
 * flushed to disk, then renamed over FILE, so a failed or interrupted report
 * never leaves half a file in place of the old one.
 */
#include "espfab/report.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const DB_SUFFIX[] = {"", "-wal", "-journal", "-shm"};

/* What the first bytes of path say it is (a SQLite file kind), or NULL. */
static const char *sqlite_kind(const char *path)
{
    unsigned char h[16] = {0};
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat sb;
    ssize_t n = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? read(fd, h, sizeof h) : 0;
    close(fd);
    static const unsigned char journal[8] = {0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7};
    if (n >= 16 && !memcmp(h, "SQLite format 3", 16))
        return "a SQLite database";
    if (n >= 4 && h[0] == 0x37 && h[1] == 0x7f && h[2] == 0x06 && (h[3] & 0xfe) == 0x82)
        return "a SQLite write-ahead log";
    if (n >= 8 && !memcmp(h, journal, 8))
        return "a SQLite rollback journal";
    return NULL;
}

/* path's folder resolved + "/" + its last name, into out (the file itself
 * need not exist).  false when the folder cannot be resolved. */
static bool canonical(const char *path, char out[PATH_MAX])
{
    char a[PATH_MAX], b[PATH_MAX], dir[PATH_MAX];
    if (strlen(path) >= sizeof a)
        return false;
    strcpy(a, path);
    strcpy(b, path);
    if (!realpath(dirname(a), dir))
        return false;
    const char *base = basename(b);
    return snprintf(out, PATH_MAX, "%s/%s", strcmp(dir, "/") ? dir : "", base) < PATH_MAX;
}

int espfab_report_output_check(const char *db, const char *output, espfab_fault_t *f)
{
    struct stat os, ds;
    bool out_exists = stat(output, &os) == 0;
    char cout[PATH_MAX], cdb[PATH_MAX], side[PATH_MAX + 16];
    bool have_cout = canonical(output, cout), have_cdb = db && realpath(db, cdb);
    for (size_t i = 0; db && i < sizeof DB_SUFFIX / sizeof DB_SUFFIX[0]; i++) {
        snprintf(side, sizeof side, "%s%s", db, DB_SUFFIX[i]);
        bool same = out_exists && stat(side, &ds) == 0 && ds.st_dev == os.st_dev &&
                    ds.st_ino == os.st_ino;
        if (!same && have_cout && have_cdb) {
            snprintf(side, sizeof side, "%s%s", cdb, DB_SUFFIX[i]);
            same = !strcmp(side, cout);
        }
        if (same && !i)
            return espfab_fault_set(f, ESPFAB_E_REPORT_OVER_DB,
                                    "-o '%s' is the database '%s'; choose another -o file "
                                    "(e.g. report.html), the database is left untouched",
                                    output, db);
        if (same)
            return espfab_fault_set(f, ESPFAB_E_REPORT_OVER_DB,
                                    "-o '%s' is the %s file of the database '%s'; choose another "
                                    "-o file (e.g. report.html), the database is left untouched",
                                    output, DB_SUFFIX[i], db);
    }
    const char *kind = out_exists ? sqlite_kind(output) : NULL;
    if (kind)
        return espfab_fault_set(f, ESPFAB_E_REPORT_OVER_DB,
                                "-o '%s' is %s; choose another -o file (e.g. report.html), it "
                                "is left untouched", output, kind);
    return 0;
}

int espfab_report_file_open(espfab_report_file_t *rf, const char *db, const char *path,
                            espfab_fault_t *f)
{
    memset(rf, 0, sizeof *rf);
    int rc = espfab_report_output_check(db, path, f);
    if (rc)
        return rc;
    size_t len = strlen(path) + 16;
    rf->tmp = malloc(len);
    if (!rf->tmp)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "report output name");
    snprintf(rf->tmp, len, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(rf->tmp);
    if (fd >= 0 && !(rf->out = fdopen(fd, "w"))) {
        int e = errno;
        close(fd);
        unlink(rf->tmp);
        errno = e;
    }
    if (!rf->out) {
        rc = espfab_fault_errno(f, ESPFAB_E_IO, errno,
                                "cannot write '%s'; check the directory exists and is writable, "
                                "or omit -o to print to stdout", path);
        free(rf->tmp);
        rf->tmp = NULL;
        return rc;
    }
    (void)fchmod(fd, 0644); /* mkstemp's 0600 otherwise; not fatal */
    /* A report can be gigabytes: 1 MiB writes instead of 4 KiB ones (stdio
     * allocates the buffer and frees it at fclose; without it, the default). */
    (void)setvbuf(rf->out, NULL, _IOFBF, 1u << 20);
    rf->db = db;
    rf->path = path;
    return 0;
}

int espfab_report_file_commit(espfab_report_file_t *rf, int rc, espfab_fault_t *f)
{
    if (!rf->out)
        return rc;
    errno = 0;
    if (!rc && fflush(rf->out) != 0)
        rc = espfab_fault_errno(f, ESPFAB_E_IO, errno, "writing %s", rf->tmp);
    errno = 0;
    if (!rc && fsync(fileno(rf->out)) != 0)
        rc = espfab_fault_errno(f, ESPFAB_E_IO, errno, "flushing %s to disk", rf->tmp);
    errno = 0;
    if (fclose(rf->out) != 0 && !rc)
        rc = espfab_fault_errno(f, ESPFAB_E_IO, errno, "writing %s", rf->tmp);
    rf->out = NULL;
    /* Checked again just before the rename: a database could have appeared
     * under that name while the report was written. */
    if (!rc)
        rc = espfab_report_output_check(rf->db, rf->path, f);
    errno = 0;
    if (!rc && rename(rf->tmp, rf->path) != 0)
        rc = espfab_fault_errno(f, ESPFAB_E_IO, errno, "rename %s -> %s", rf->tmp, rf->path);
    if (rc) {
        unlink(rf->tmp);
    } else {
        /* The rename made durable too (best effort: not every file system
         * lets a folder be synced). */
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s", rf->path);
        int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    free(rf->tmp);
    rf->tmp = NULL;
    return rc;
}

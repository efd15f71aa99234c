/*
 * regions.c - checking the list of regions to write before anything is sent
 * to a board, and reading image files.
 */
#include "espfab/image.h"
#include "espfab/vec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 4096u
#define MAX_FILE (256u * 1024u * 1024u)

static const char *nm(const espfab_region_t *r) { return r->name ? r->name : "(unnamed)"; }

static void human_size(uint32_t bytes, char *buf, size_t len)
{
    if (bytes >= 1024u * 1024u && bytes % (1024u * 1024u) == 0)
        snprintf(buf, len, "%uMB", bytes / (1024u * 1024u));
    else if (bytes % 1024u == 0)
        snprintf(buf, len, "%uKB", bytes / 1024u);
    else
        snprintf(buf, len, "%u bytes", bytes);
}

int espfab_regions_check(const espfab_region_t *r, size_t n, uint32_t flash_size,
                         espfab_fault_t *f)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t end = (uint64_t)r[i].offset + r[i].len;
        if (r[i].len == 0)
            return espfab_fault_set(f, ESPFAB_E_IMAGE_EMPTY, "%s at 0x%X is empty (0 bytes)",
                                    nm(&r[i]), r[i].offset);
        if (r[i].offset % SECTOR != 0)
            return espfab_fault_set(f, ESPFAB_E_REGION_UNALIGNED,
                                    "%s at 0x%X: offset is not a multiple of 0x1000 "
                                    "(0x%X or 0x%X would be)",
                                    nm(&r[i]), r[i].offset, r[i].offset & ~(SECTOR - 1),
                                    (r[i].offset & ~(SECTOR - 1)) + SECTOR);
        if (flash_size && end > flash_size) {
            char sz[24];
            human_size(flash_size, sz, sizeof(sz));
            return espfab_fault_set(f, ESPFAB_E_REGION_PAST_FLASH,
                                    "%s at 0x%X is %zu bytes and ends at 0x%llX, past the end "
                                    "of the %s flash (0x%X)",
                                    nm(&r[i]), r[i].offset, r[i].len,
                                    (unsigned long long)(end - 1), sz, flash_size);
        }
    }
    /* Pairwise; n is a handful of files.  Offsets are sector-aligned by now,
     * so overlapping bytes and overlapping erased sectors are the same. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            if (i == j)
                continue;
            const espfab_region_t *a = &r[i], *b = &r[j];
            /* Report each pair once, the lower offset first (ties: list order). */
            if (a->offset > b->offset || (a->offset == b->offset && i > j))
                continue;
            uint64_t a_end = (uint64_t)a->offset + a->len;
            if (b->offset < a_end)
                return espfab_fault_set(f, ESPFAB_E_REGION_OVERLAP,
                                        "%s (0x%X-0x%llX) overlaps %s at 0x%X", nm(a), a->offset,
                                        (unsigned long long)(a_end - 1), nm(b), b->offset);
        }
    }
    return 0;
}

int espfab_image_load(const char *path, uint8_t **buf, size_t *len, espfab_fault_t *f)
{
    *buf = NULL;
    *len = 0;
    /* Non-blocking: opening a FIFO with no writer must not hang; anything
     * but a regular file is refused below before a byte is read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return espfab_fault_errno(f, ESPFAB_E_IMAGE_MISSING, e, "%s does not exist", path);
        if (e == EACCES || e == EPERM)
            return espfab_fault_errno(f, ESPFAB_E_IMAGE_READ, e,
                                      "%s: permission denied (not readable by this user)", path);
        return espfab_fault_errno(f, ESPFAB_E_IMAGE_READ, e, "%s: cannot open", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return espfab_fault_errno(f, ESPFAB_E_IMAGE_READ, e, "%s: cannot stat", path);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return espfab_fault_errno(f, ESPFAB_E_IMAGE_READ, EISDIR,
                                  "%s is a directory, not a file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return espfab_fault_set(f, ESPFAB_E_IMAGE_NOT_FILE,
                                "%s is a %s, not a regular file: copy the image to a file and "
                                "give that", path,
                                S_ISFIFO(st.st_mode) ? "FIFO (named pipe)"
                                : S_ISCHR(st.st_mode) ? "character device"
                                : S_ISBLK(st.st_mode) ? "block device"
                                : S_ISSOCK(st.st_mode) ? "socket" : "special file");
    }
    if ((uint64_t)st.st_size > MAX_FILE) {
        close(fd);
        return espfab_fault_set(f, ESPFAB_E_IMAGE_TOO_BIG, "%s is %lld bytes (limit %u)", path,
                                (long long)st.st_size, MAX_FILE);
    }
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size : 65536;
    uint8_t *p = malloc(cap);
    if (!p) {
        close(fd);
        return espfab_fault_errno(f, ESPFAB_E_IMAGE_READ, ENOMEM, "%s: out of memory (%zu bytes)",
                                  path, cap);
    }
    size_t n = 0;
    for (;;) {
        size_t lim = cap < MAX_FILE ? cap : MAX_FILE; /* growth may pass the limit */
        if (n == lim) {
            /* Probe for EOF before growing, so a file whose size fstat
             * reported is not copied into a buffer twice its size. */
            uint8_t probe;
            ssize_t k1 = read(fd, &probe, 1);
            if (k1 < 0 && errno == EINTR)
                continue;
            if (k1 == 0)
                break;
            if (k1 < 0) {
                int e = errno;
                free(p);
                close(fd);
                return espfab_fault_errno(f, ESPFAB_E_IMAGE_READ, e,
                                          "%s: read failed at offset %zu", path, n);
            }
            if (n >= MAX_FILE) {
                free(p);
                close(fd);
                return espfab_fault_set(f, ESPFAB_E_IMAGE_TOO_BIG, "%s is larger than %u bytes",
                                        path, MAX_FILE);
            }
            if (ESPFAB_VEC_RESERVE(p, cap, n + 1)) {
                free(p);
                close(fd);
                return espfab_fault_errno(f, ESPFAB_E_IMAGE_READ, ENOMEM,
                                          "%s: out of memory (%zu bytes)", path, n + 1);
            }
            p[n++] = probe;
            continue;
        }
        ssize_t k = read(fd, p + n, lim - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(p);
            close(fd);
            return espfab_fault_errno(f, ESPFAB_E_IMAGE_READ, e, "%s: read failed at offset %zu",
                                      path, n);
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    if (n == 0) {
        free(p);
        return espfab_fault_set(f, ESPFAB_E_IMAGE_EMPTY, "%s is empty (0 bytes)", path);
    }
    *buf = p;
    *len = n;
    return 0;
}

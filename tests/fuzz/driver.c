/*
 * driver.c - replay driver for the fuzz targets when libFuzzer is not used.
 *
 * Usage: fuzz_<name>_replay <corpus-dir> [N]
 * Feeds every regular file in the corpus directory (sorted by name, so runs
 * are reproducible) through LLVMFuzzerTestOneInput, then N (default 20000)
 * generated inputs from a fixed seed: half are mutations of corpus files
 * (bit flips, byte changes, inserted 0xC0/0xDB, cuts, splices), half plain
 * random bytes.  A target signals a broken invariant by aborting, so this
 * program's exit status is the test result; it prints what it ran.
 * Single-threaded; the target is called synchronously.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DRIVER_MAX_INPUT 8192

typedef struct file {
    uint8_t *data;
    size_t len;
} file_t;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    /* xorshift64*: small, deterministic, good enough to spread inputs */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static int read_file(const char *path, file_t *f)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    f->data = malloc(DRIVER_MAX_INPUT);
    if (!f->data) {
        fclose(fp);
        return -1;
    }
    f->len = fread(f->data, 1, DRIVER_MAX_INPUT, fp);
    fclose(fp);
    return 0;
}

/* Calls the target on an exact-size copy so that ASan sees reads past the end. */
static void run_exact(const uint8_t *data, size_t len)
{
    uint8_t *in = malloc(len ? len : 1);
    if (!in) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    if (len)
        memcpy(in, data, len);
    LLVMFuzzerTestOneInput(in, len);
    free(in);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t mutate(uint8_t *buf, size_t len, const file_t *files, size_t nfiles)
{
    int steps = 1 + (int)(rnd() % 8);
    for (int s = 0; s < steps; s++) {
        uint32_t what = rnd() % 7;
        if (len == 0)
            what = 3;
        switch (what) {
        case 0: buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 1: buf[rnd() % len] = (uint8_t)rnd(); break;
        case 2: {
            static const uint8_t special[] = {0xC0, 0xDB, 0xDC, 0xDD, 0x00, 0x01, 0xFF, 0x05};
            buf[rnd() % len] = special[rnd() % sizeof(special)];
            break;
        }
        case 3: /* insert a byte */
            if (len < DRIVER_MAX_INPUT) {
                size_t at = len ? rnd() % (len + 1) : 0;
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (rnd() & 1) ? 0xC0 : 0xDB;
                len++;
            }
            break;
        case 4: /* cut */
            len = rnd() % (len + 1);
            break;
        case 5: { /* delete a range */
            size_t at = rnd() % len, n = rnd() % (len - at + 1);
            memmove(buf + at, buf + at + n, len - at - n);
            len -= n;
            break;
        }
        case 6: /* append part of another file */
            if (nfiles) {
                const file_t *o = &files[rnd() % nfiles];
                size_t n = o->len ? rnd() % (o->len + 1) : 0;
                if (n > DRIVER_MAX_INPUT - len)
                    n = DRIVER_MAX_INPUT - len;
                memcpy(buf + len, o->data, n);
                len += n;
            }
            break;
        }
    }
    return len;
}

/* Reads every regular file of dir (sorted by name) and runs each. */
static file_t *load_corpus(const char *dir, size_t *nfiles)
{
    *nfiles = 0;
    DIR *d = opendir(dir);
    if (!d) { /* a new target may not have a corpus yet: generated inputs only */
        fprintf(stderr, "warning: no corpus directory %s\n", dir);
        return NULL;
    }
    char **names = NULL;
    size_t nnames = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char **nn = realloc(names, (nnames + 1) * sizeof(*names));
        if (!nn)
            break;
        names = nn;
        names[nnames++] = strdup(e->d_name);
    }
    closedir(d);
    if (nnames)
        qsort(names, nnames, sizeof(*names), cmp_names);
    file_t *files = calloc(nnames ? nnames : 1, sizeof(*files));
    for (size_t i = 0; i < nnames; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (files && names[i] && read_file(path, &files[*nfiles]) == 0) {
            run_exact(files[*nfiles].data, files[*nfiles].len);
            (*nfiles)++;
        }
        free(names[i]);
    }
    free(names);
    return files;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
    size_t nfiles = 0;
    file_t *files = dir ? load_corpus(dir, &nfiles) : NULL;

    uint8_t *buf = malloc(DRIVER_MAX_INPUT);
    if (!buf)
        return 2;
    for (long i = 0; i < n; i++) {
        size_t len;
        if (nfiles && (rnd() & 1)) {
            const file_t *f = &files[rnd() % nfiles];
            memcpy(buf, f->data, f->len);
            len = mutate(buf, f->len, files, nfiles);
        } else {
            len = rnd() % 1024;
            for (size_t j = 0; j < len; j++)
                buf[j] = (uint8_t)rnd();
        }
        run_exact(buf, len);
    }
    printf("replayed %zu corpus files and %ld generated inputs\n", nfiles, n);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].data);
    free(files);
    free(buf);
    return 0;
}

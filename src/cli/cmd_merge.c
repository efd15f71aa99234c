/*
 * cmd_merge.c - `espfab merge -o OUT [--chip CHIP] [--flash-mode M]
 * [--flash-freq F] [--flash-size S] [--fill-flash-size SIZE] OFFSET FILE
 * ...`: one flash image from several files, as esptool's merge_bin writes
 * it (espfab_image_merge: 0xFF gaps, overlaps refused, the bootloader's
 * header patched as a flash would patch it).  OUT is written to a temporary
 * file next to it and renamed into place, so a reader never sees half of it
 * and a failed merge leaves an existing OUT untouched.
 *
 * Exit status: 0 written, 1 the output could not be written, 2 bad usage or
 * input (nothing written).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/opts.h"
#include "espfab/cli.h"
#include "espfab/image.h"
#include "espfab/num.h"
#include "espfab/setting.h"

enum { M_OUT = 'o', M_CHIP = 'c', M_HELP = 'h', M_MODE = 256, M_FREQ, M_SIZE, M_FILL };

static const struct option merge_opts[] = {
    {"output", required_argument, NULL, M_OUT},
    {"chip", required_argument, NULL, M_CHIP},
    {"flash-mode", required_argument, NULL, M_MODE},
    {"flash-freq", required_argument, NULL, M_FREQ},
    {"flash-size", required_argument, NULL, M_SIZE},
    {"fill-flash-size", required_argument, NULL, M_FILL},
    {"help", no_argument, NULL, M_HELP},
    {NULL, 0, NULL, 0},
};

typedef struct merge_args {
    const char *out;
    const espfab_chip_t *chip;
    espfab_flash_params_t flash;
    uint32_t fill;
    bool help;
    int npos;
    char **pos;
} merge_args_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: espfab merge -o OUT [options] OFFSET FILE [OFFSET FILE...]\n"
            "\n"
            "Writes one image of the flash from offset 0: each FILE at its OFFSET, the gaps\n"
            "0xFF, as esptool merge_bin does.  The image at the chip's bootloader offset\n"
            "gets the flash mode/frequency/size given, exactly as `espfab flash` would\n"
            "patch it.  Overlapping files are refused.\n"
            "\noptions:\n"
            "  -o, --output OUT         the merged file (written atomically)\n"
            "  -c, --chip CHIP          %s (default: the chip the images are for)\n"
            "  --flash-mode M           keep (default) qio qout dio dout\n"
            "  --flash-freq F           keep (default) or the chip's: 80m 40m 26m 20m...\n"
            "  --flash-size S           keep (default) 1MB 2MB 4MB 8MB 16MB...\n"
            "  --fill-flash-size SIZE   pad the output with 0xFF to SIZE (4MB...)\n"
            "\nexit status: 0 written, 1 the output could not be written, 2 bad usage or input\n",
            espfab_chip_keys());
}

static int bad(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "espfab merge: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n(see `espfab merge --help`)\n");
    return 2;
}

static int setting_fault(const espfab_fault_t *f)
{
    fprintf(stderr, "espfab merge: %s\n(see `espfab merge --help`)\n", f->detail);
    return 2;
}

static int apply(int c, merge_args_t *a)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    switch (c) {
    case M_OUT: a->out = optarg; break;
    case M_HELP: a->help = true; break;
    case M_CHIP:
        if (!(a->chip = espfab_chip_by_key(optarg)))
            return bad("unknown --chip '%s' (allowed: %s)", optarg, espfab_chip_keys());
        break;
    case M_MODE: {
        const espfab_setting_src_t src = {NULL, 0, "--flash-mode"};
        if (espfab_setting_parse_flash_mode(optarg, &src, &a->flash.mode, &f))
            return setting_fault(&f);
        break;
    }
    case M_FREQ: {
        const espfab_setting_src_t src = {NULL, 0, "--flash-freq"};
        if (espfab_setting_parse_flash_freq(optarg, &src, &a->flash.freq, &f))
            return setting_fault(&f);
        break;
    }
    case M_SIZE: {
        const espfab_setting_src_t src = {NULL, 0, "--flash-size"};
        if (espfab_setting_parse_flash_size(optarg, &src, &a->flash, &f))
            return setting_fault(&f);
        break;
    }
    case M_FILL:
        if (!(a->fill = espfab_flash_size_parse(optarg)))
            return bad("bad value '%s' for --fill-flash-size (a flash size: 1MB 2MB 4MB 8MB "
                       "16MB...)%s", optarg, "");
        break;
    default:
        return 2;
    }
    return 0;
}

static int parse_args(int argc, char **argv, merge_args_t *a)
{
    memset(a, 0, sizeof(*a));
    optind = 1;
    opterr = 0;
    uint64_t seen = 0;
    int c;
    char err[256];
    while ((c = getopt_long(argc, argv, ":o:c:h", merge_opts, NULL)) != -1) {
        if (c == '?')
            return bad("unknown option '%s'%s", argv[optind - 1], "");
        if (c == ':')
            return bad("option '%s' needs a value%s", argv[optind - 1], "");
        if (espfab_cli_opt_once(merge_opts, c, &seen, err, sizeof(err)) != 0)
            return bad("%s%s", err, "");
        int rc = apply(c, a);
        if (rc)
            return rc;
    }
    a->npos = argc - optind;
    a->pos = argv + optind;
    if (a->help)
        return 0;
    if (!a->out)
        return bad("-o OUT is required (the merged file to write)%s%s", "", "");
    if (a->npos == 0 || a->npos % 2)
        return bad("give OFFSET FILE pairs (e.g. 0x1000 bootloader.bin 0x8000 partitions.bin "
                   "0x10000 app.bin)%s%s", "", "");
    return 0;
}

/* Loads the files and decides the chip.  Returns 0 or 2 (message printed). */
static int load_parts(merge_args_t *a, espfab_merge_part_t *parts, uint8_t **bufs)
{
    espfab_fault_t f;
    char line[1024];
    const char *chip_from = NULL;
    for (int i = 0; i < a->npos / 2; i++) {
        const char *off = a->pos[2 * i], *path = a->pos[2 * i + 1];
        if (espfab_num_parse_u32(off, &parts[i].offset) != 0)
            return bad("'%s' is not a flash offset (hex 0x10000 or decimal), before %s", off, path);
        espfab_fault_clear(&f);
        espfab_image_info_t info;
        if (espfab_image_load(path, &bufs[i], &parts[i].len, &f) != 0 ||
            (espfab_image_is_elf(bufs[i], parts[i].len) &&
             espfab_fault_set(&f, ESPFAB_E_IMAGE_ELF, "%s is an ELF file", path)) ||
            espfab_image_parse(bufs[i], parts[i].len, path, &info, &f) != 0)
            goto refused;
        parts[i].name = path;
        parts[i].data = bufs[i];
        if (info.format == ESPFAB_IMAGE_RAW)
            continue;
        if (a->chip && !chip_from) {
            char target[64];
            snprintf(target, sizeof(target), "--chip %s", a->chip->key);
            if (espfab_image_check_chip_target(&info, path, target, a->chip, -1, &f) != 0)
                goto refused;
        } else if (!a->chip && info.chip != ESPFAB_CHIP_UNKNOWN) {
            a->chip = espfab_chip_get(info.chip);
            chip_from = path;
        } else if (chip_from && info.chip != a->chip->id) {
            fprintf(stderr, "espfab merge: %s is for the %s but %s is for the %s: give --chip, "
                            "or merge files for one chip\n", chip_from, a->chip->name, path,
                    espfab_chip_get(info.chip) ? espfab_chip_get(info.chip)->name : "another chip");
            return 2;
        }
    }
    return 0;
refused:
    fprintf(stderr, "espfab merge: %s (nothing written)\n", espfab_fault_format(&f, line, sizeof(line)));
    return 2;
}

/* OUT via a temporary file in its directory, then rename(). */
static int write_atomic(const char *out, const uint8_t *buf, size_t len)
{
    size_t n = strlen(out) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return 1;
    snprintf(tmp, n, "%s.tmp.XXXXXX", out);
    int fd = mkstemp(tmp);
    const char *what = "create";
    if (fd < 0)
        goto fail;
    mode_t um = umask(0);
    umask(um);
    what = "write";
    if (fchmod(fd, 0666 & ~um) != 0)
        goto fail_fd;
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail_fd;
        done += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail_fd;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    what = "rename the temporary file onto";
    if (rename(tmp, out) != 0)
        goto fail;
    free(tmp);
    return 0;
fail_fd:
    close(fd);
fail: {
    int e = errno;
    if (fd >= 0 || strcmp(what, "create") != 0)
        unlink(tmp);
    fprintf(stderr, "espfab merge: could not %s %s: %s [E%d %s]\n", what, out, strerror(e),
            espfab_err_number(ESPFAB_E_IO), espfab_err_name(ESPFAB_E_IO));
    free(tmp);
    return 1;
}
}

int espfab_cli_merge(int argc, char **argv)
{
    merge_args_t a;
    int rc = parse_args(argc, argv, &a);
    if (rc || a.help) {
        if (a.help)
            usage(stdout);
        return rc;
    }
    size_t n = (size_t)a.npos / 2;
    espfab_merge_part_t *parts = calloc(n, sizeof(*parts));
    uint8_t **bufs = calloc(n, sizeof(*bufs));
    uint8_t *out = NULL;
    size_t out_len = 0;
    bool patched = false;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    rc = !parts || !bufs ? 1 : load_parts(&a, parts, bufs);
    if (rc == 0 && espfab_image_merge(parts, n, a.chip, &a.flash, a.fill, &out, &out_len, &patched,
                                      &f) != 0) {
        char line[1024];
        fprintf(stderr, "espfab merge: %s (nothing written)\n",
                espfab_fault_format(&f, line, sizeof(line)));
        rc = 2;
    }
    if (rc == 0)
        rc = write_atomic(a.out, out, out_len);
    if (rc == 0)
        printf("espfab merge: wrote %s (%zu bytes, %zu file%s%s)\n", a.out, out_len, n,
               n == 1 ? "" : "s", patched ? "; bootloader header patched" : "");
    for (size_t i = 0; bufs && i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(parts);
    free(out);
    return rc;
}

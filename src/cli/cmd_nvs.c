/*
 * cmd_nvs.c - `espfab nvs generate CSV... OUT SIZE [--version 1|2]` (what
 * ESP-IDF's `nvs_partition_gen generate` writes, byte for byte; OUT written
 * atomically, nothing written on error) and `espfab nvs dump FILE
 * [--offset N] [--size N]` (pages, namespaces, keys, types, values; CRC
 * errors named per page and entry).
 *
 * Exit status: 0 done (dump: every CRC holds), 1 the output could not be
 * written or the dump found damage, 2 bad usage or input.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "espfab/cli.h"
#include "espfab/nvs.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: espfab nvs generate CSV [CSV...] OUT SIZE [--version 1|2]\n"
            "       espfab nvs dump FILE [--offset N] [--size N]\n"
            "\n"
            "generate  builds an NVS partition from ESP-IDF's partition CSV (key,type,encoding,\n"
            "          value), byte for byte what ESP-IDF's nvs_partition_gen writes.  SIZE is\n"
            "          a multiple of 4096 (0x6000...); --version 2 (default) splits blobs over\n"
            "          pages, 1 does not.  `file` paths are relative to the CSV's folder.\n"
            "dump      decodes a partition, or the part of a flash dump at --offset (and\n"
            "          --size, default: the rest of the file): pages, namespaces, keys, types,\n"
            "          values, and every CRC that does not hold.\n");
}

static int fail(const espfab_fault_t *f)
{
    char buf[640];
    fprintf(stderr, "espfab nvs: %s\n", espfab_fault_format(f, buf, sizeof buf));
    return 2;
}

static int write_atomic(const char *path, const uint8_t *data, size_t len)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return -ENOMEM;
    snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
    FILE *fp = fopen(tmp, "wb");
    int err = 0;
    if (!fp) {
        err = errno;
    } else {
        if (fwrite(data, 1, len, fp) != len)
            err = errno ? errno : EIO;
        if (fclose(fp) && !err)
            err = errno;
        if (!err && rename(tmp, path))
            err = errno;
        if (err)
            unlink(tmp);
    }
    free(tmp);
    return -err;
}

static int cmd_generate(int argc, char **argv)
{
    int version = 2, npos = 0;
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--version") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "1") && strcmp(v, "2")) {
                fprintf(stderr, "espfab nvs generate: --version %s: use 1 or 2\n", v);
                free(pos);
                return 2;
            }
            version = v[0] - '0';
        } else if (!strncmp(argv[i], "--version=", 10)) {
            version = !strcmp(argv[i] + 10, "1") ? 1 : !strcmp(argv[i] + 10, "2") ? 2 : 0;
            if (!version) {
                fprintf(stderr, "espfab nvs generate: %s: use 1 or 2\n", argv[i]);
                free(pos);
                return 2;
            }
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            free(pos);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "espfab nvs generate: unknown option %s\n", argv[i]);
            free(pos);
            return 2;
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (npos < 3) {
        usage(stderr);
        free(pos);
        return 2;
    }
    espfab_fault_t f;
    espfab_fault_clear(&f);
    uint32_t size;
    espfab_nvs_csv_t csv;
    memset(&csv, 0, sizeof csv);
    uint8_t *img = NULL;
    size_t len = 0;
    int rc = espfab_nvs_size_parse(pos[npos - 1], &size, &f);
    for (int i = 0; !rc && i < npos - 2; i++)
        rc = espfab_nvs_csv_read(&csv, pos[i], &f);
    if (!rc)
        rc = espfab_nvs_load_files(&csv, &f);
    if (!rc)
        rc = espfab_nvs_generate(&csv, size, version, &img, &len, &f);
    espfab_nvs_csv_free(&csv);
    const char *out = pos[npos - 2];
    free(pos);
    if (rc)
        return fail(&f);
    rc = write_atomic(out, img, len);
    free(img);
    if (rc) {
        fprintf(stderr, "espfab nvs generate: cannot write %s: %s\n", out, strerror(-rc));
        return 1;
    }
    printf("Created NVS binary (version %d, %zu bytes%s): %s\n", version, len,
           size < 3 * ESPFAB_NVS_PAGE ? ", read-only: pages used only" : "", out);
    return 0;
}

static void print_value(const espfab_nvs_ev_t *ev)
{
    switch (ev->type) {
    case ESPFAB_NVS_T_U8: case ESPFAB_NVS_T_U16: case ESPFAB_NVS_T_U32: case ESPFAB_NVS_T_U64:
        printf("%" PRIu64, ev->u);
        return;
    case ESPFAB_NVS_T_I8: printf("%d", (int8_t)ev->u); return;
    case ESPFAB_NVS_T_I16: printf("%d", (int16_t)ev->u); return;
    case ESPFAB_NVS_T_I32: printf("%" PRId32, (int32_t)ev->u); return;
    case ESPFAB_NVS_T_I64: printf("%" PRId64, (int64_t)ev->u); return;
    default: break;
    }
    if (!ev->data) {
        printf("(unreadable)");
        return;
    }
    if (ev->type == ESPFAB_NVS_T_STR) {
        putchar('"');
        size_t n = ev->data_len && !ev->data[ev->data_len - 1] ? ev->data_len - 1 : ev->data_len;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = ev->data[i];
            if (c == '"' || c == '\\')
                printf("\\%c", c);
            else if (c < 0x20 || c == 0x7F)
                printf("\\x%02x", c);
            else
                putchar(c);
        }
        putchar('"');
        return;
    }
    printf("%zu bytes ", ev->data_len);
    size_t show = ev->data_len > 64 ? 64 : ev->data_len;
    for (size_t i = 0; i < show; i++)
        printf("%02x", ev->data[i]);
    if (show < ev->data_len)
        printf("...");
}

static void dump_visit(const espfab_nvs_ev_t *ev, void *ctx)
{
    (void)ctx;
    if (ev->kind == ESPFAB_NVS_EV_PAGE) {
        if (ev->empty) {
            printf("page %u: empty\n", ev->page);
            return;
        }
        const char *st = ev->state == 0xFFFFFFFEu ? "ACTIVE" : ev->state == 0xFFFFFFFCu ? "FULL"
                       : ev->state == 0xFFFFFFF8u ? "FREEING" : ev->state == 0xFFFFFFFFu ? "UNINIT"
                       : "CORRUPT";
        printf("page %u: %s seq %" PRIu32 " version %d%s\n", ev->page, st, ev->seq,
               ev->version == 0xFE ? 2 : ev->version == 0xFF ? 1 : ev->version,
               ev->bad ? "  ERROR: header CRC does not match" : "");
        return;
    }
    if (ev->ns == 0 && ev->type == ESPFAB_NVS_T_U8)
        printf("  [%3u] namespace %-15s = %" PRIu64, ev->entry, ev->key, ev->u);
    else
        printf("  [%3u] %-15s %-15s %-10s ", ev->entry, ev->ns_name ? ev->ns_name : "?", ev->key,
               espfab_nvs_type_name(ev->type));
    if (ev->type == ESPFAB_NVS_T_BLOB_DATA)
        printf("chunk %u: ", ev->chunk);
    if (ev->type == ESPFAB_NVS_T_BLOB_IDX)
        printf("%" PRIu32 " bytes in %u chunk(s) from %u: ", ev->blob_size, ev->chunk_count,
               ev->chunk_start);
    if (!(ev->ns == 0 && ev->type == ESPFAB_NVS_T_U8))
        print_value(ev);
    if (ev->bad & ESPFAB_NVS_BAD_ENTRY_CRC)
        printf("  ERROR: entry CRC does not match");
    if (ev->bad & ESPFAB_NVS_BAD_DATA_CRC)
        printf("  ERROR: data CRC does not match");
    if (ev->bad & ESPFAB_NVS_BAD_SPAN)
        printf("  ERROR: span or size runs past the page");
    if (ev->bad & ESPFAB_NVS_BAD_BLOB)
        printf("  ERROR: blob chunks missing or short");
    putchar('\n');
}

static int parse_num(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *v = x;
    return 0;
}

static int cmd_dump(int argc, char **argv)
{
    const char *file = NULL;
    uint64_t off = 0, size = 0;
    int have_size = 0;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "--offset") || !strcmp(argv[i], "--size")) && i + 1 < argc) {
            int is_off = argv[i][2] == 'o';
            if (parse_num(argv[i + 1], is_off ? &off : &size)) {
                fprintf(stderr, "espfab nvs dump: %s %s: not a number\n", argv[i], argv[i + 1]);
                return 2;
            }
            have_size |= !is_off;
            i++;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' || file) {
            usage(stderr);
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        usage(stderr);
        return 2;
    }
    FILE *fp = fopen(file, "rb");
    if (!fp) {
        fprintf(stderr, "espfab nvs dump: cannot open %s: %s\n", file, strerror(errno));
        return 2;
    }
    fseek(fp, 0, SEEK_END);
    long total = ftell(fp);
    if (total < 0 || off > (uint64_t)total || (have_size && size > (uint64_t)total - off)) {
        fprintf(stderr, "espfab nvs dump: %s is %ld bytes: offset 0x%" PRIx64 " size 0x%" PRIx64
                " runs past its end\n", file, total, off, size);
        fclose(fp);
        return 2;
    }
    if (!have_size)
        size = (uint64_t)total - off;
    size -= size % ESPFAB_NVS_PAGE;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf || fseek(fp, (long)off, SEEK_SET) || fread(buf, 1, size, fp) != size) {
        fprintf(stderr, "espfab nvs dump: cannot read %s\n", file);
        free(buf);
        fclose(fp);
        return 2;
    }
    fclose(fp);
    if (!size) {
        fprintf(stderr, "espfab nvs dump: %s: less than one 4096-byte page to decode\n", file);
        free(buf);
        return 2;
    }
    printf("%s: NVS at 0x%" PRIx64 ", %" PRIu64 " pages\n", file, off, size / ESPFAB_NVS_PAGE);
    int problems = espfab_nvs_decode(buf, size, dump_visit, NULL);
    free(buf);
    if (problems < 0) {
        fprintf(stderr, "espfab nvs dump: out of memory\n");
        return 1;
    }
    if (problems) {
        printf("%d problem(s): CRC errors above\n", problems);
        return 1;
    }
    return 0;
}

int espfab_cli_nvs(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "generate"))
        return cmd_generate(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "dump"))
        return cmd_dump(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}

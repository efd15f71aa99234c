/*
 * cmd_image_info.c - `espfab image-info [--json] FILE`: what a firmware file
 * is, without a board: an ESP image (chip, header, segments, entry, ESP-IDF
 * app description, checksum, appended SHA-256, chip revision range), an
 * ESP-IDF partition table (entries, MD5), an ELF or raw data.  The decoding
 * is src/image's (image.h); this file only reads the file and prints.
 *
 * Exit status: 0 described and sound, 1 described but damaged (bad checksum,
 * digest, partition table: the fault is printed, named by file), 2 bad usage
 * or a file that cannot be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "espfab/cli.h"
#include "espfab/err.h"
#include "espfab/image.h"
#include "espfab/json.h"

typedef enum { KIND_IMAGE, KIND_PARTITION_TABLE, KIND_ELF, KIND_RAW } kind_t;

/* Everything decoded from one file. */
typedef struct described {
    const char *path;
    const uint8_t *buf;
    size_t len;
    kind_t kind;
    int rc;                          /* 0 or the decoding fault's code */
    espfab_fault_t fault;
    espfab_image_info_t info;
    espfab_image_header_names_t hdr;
    espfab_image_segment_t seg[ESPFAB_IMAGE_SEGMENTS_MAX];
    size_t nseg;
    bool has_desc;
    espfab_app_desc_t desc;
    uint8_t sha_computed[32];        /* of [0, data_length) when a hash is appended */
    espfab_partition_table_t pt;
} described_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: espfab image-info [--json] FILE\n"
            "\n"
            "Describes a firmware file without a board: the chip an ESP image is for, its\n"
            "header (flash mode, frequency, size), segments, entry point, ESP-IDF app\n"
            "description, checksum, appended SHA-256 and chip revision range; or the\n"
            "entries of an ESP-IDF partition table with its MD5 checked.\n"
            "\noptions:\n  --json  one JSON object instead of text\n"
            "\nexit status: 0 sound, 1 damaged (checksum, SHA-256, partition table), 2 bad\n"
            "usage or an unreadable file\n");
}

static const char *chip_text(const espfab_image_info_t *i)
{
    const espfab_chip_t *c = espfab_chip_get(i->chip);
    return c ? c->name : "a chip espfab does not serve";
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

static void rev_text(uint16_t r, char *buf, size_t len)
{
    if (r == 0xFFFF)
        snprintf(buf, len, "not set");
    else
        snprintf(buf, len, "v%u.%u", r / 100u, r % 100u);
}

static void describe(described_t *d)
{
    espfab_fault_clear(&d->fault);
    if (espfab_image_is_elf(d->buf, d->len)) {
        d->kind = KIND_ELF;
        return;
    }
    if (espfab_partition_table_like(d->buf, d->len)) {
        d->kind = KIND_PARTITION_TABLE;
        d->rc = espfab_partition_table_parse(d->buf, d->len, d->path, &d->pt, &d->fault);
        return;
    }
    d->rc = espfab_image_parse(d->buf, d->len, d->path, &d->info, &d->fault);
    if (d->rc == 0 && d->info.format == ESPFAB_IMAGE_RAW) {
        d->kind = KIND_RAW;
        return;
    }
    d->kind = KIND_IMAGE;
    if (d->info.format == ESPFAB_IMAGE_RAW)
        return; /* BAD_HEADER: nothing more to show */
    espfab_image_header_names(&d->info, &d->hdr);
    d->nseg = espfab_image_segments(d->buf, d->len, &d->info, d->seg, ESPFAB_IMAGE_SEGMENTS_MAX);
    d->has_desc = espfab_image_app_desc(d->buf, d->len, &d->info, &d->desc);
    if (d->info.hash_appended && d->info.data_length + 32 <= d->len) {
        unsigned int n = 0;
        EVP_Digest(d->buf, d->info.data_length, d->sha_computed, &n, EVP_sha256(), NULL);
    }
}

/* ---- text ---- */

static void text_desc(const espfab_app_desc_t *a)
{
    char sha[65];
    hex(a->elf_sha256, 32, sha);
    printf("app description (esp_app_desc_t)\n");
    printf("  project      %s\n", a->project_name);
    printf("  version      %s\n", a->version);
    printf("  ESP-IDF      %s\n", a->idf_ver);
    printf("  built        %s %s\n", a->date, a->time);
    printf("  ELF SHA-256  %s\n", sha);
    printf("  secure ver.  %u\n", a->secure_version);
}

static void text_image(const described_t *d)
{
    const espfab_image_info_t *i = &d->info;
    printf("format       %s image for %s (%s)\n", espfab_image_format_name(i->format),
           chip_text(i), i->reason);
    printf("flash        mode %s, frequency %s, size %s (header bytes 0x%02X 0x%02X)\n",
           d->hdr.mode, d->hdr.freq, d->hdr.size, i->flash_mode, i->flash_size_freq);
    printf("entry        0x%08X\n", i->entry);
    printf("segments     %zu\n", d->nseg);
    for (size_t k = 0; k < d->nseg; k++)
        printf("  %2zu  0x%08X  %8u bytes  at file 0x%06zX  %s\n", k, d->seg[k].addr,
               d->seg[k].len, d->seg[k].file_offset, d->seg[k].region);
    if (i->format == ESPFAB_IMAGE_ESP32) {
        char lo[16], hi[16];
        rev_text(i->min_rev_full, lo, sizeof(lo));
        rev_text(i->max_rev_full, hi, sizeof(hi));
        printf("chip rev.    min %s, max %s (legacy min_rev %u)\n", lo, hi, i->min_rev);
    }
    if (d->rc == ESPFAB_E_IMAGE_CHECKSUM)
        printf("checksum     BAD\n");
    else
        printf("checksum     0x%02X, valid\n", d->buf[i->data_length - 1]);
    if (i->format == ESPFAB_IMAGE_ESP8266_V2 && d->rc != ESPFAB_E_IMAGE_CHECKSUM)
        printf("CRC32        valid\n");
    if (i->hash_appended && i->data_length + 32 <= d->len) {
        char stored[65], computed[65];
        hex(d->buf + i->data_length, 32, stored);
        hex(d->sha_computed, 32, computed);
        if (i->sha256_ok)
            printf("SHA-256      %s, valid\n", stored);
        else
            printf("SHA-256      %s, BAD (computed %s)\n", stored, computed);
    } else if (i->format == ESPFAB_IMAGE_ESP32) {
        printf("SHA-256      not appended\n");
    }
    printf("image length %zu bytes", i->image_length);
    if (d->len > i->image_length)
        printf(" (%zu bytes after it in the file)", d->len - i->image_length);
    printf("\n");
    if (d->has_desc)
        text_desc(&d->desc);
    else if (i->format == ESPFAB_IMAGE_ESP32)
        printf("app description  none (no esp_app_desc_t at the start of segment 0)\n");
}

/* "valid", "BAD", "entry absent", or "not checked" (the table is bad before
 * its MD5 entry). */
static const char *md5_state(const described_t *d)
{
    if (d->pt.md5_bad)
        return "BAD";
    if (d->rc)
        return "not checked";
    return d->pt.has_md5 ? "valid" : "entry absent";
}

static void text_table(const described_t *d)
{
    const espfab_partition_table_t *t = &d->pt;
    printf("format       ESP-IDF partition table, %zu entr%s, MD5 %s\n", t->n,
           t->n == 1 ? "y" : "ies", md5_state(d));
    if (t->n)
        printf("  %-16s %-16s %-10s %-10s %-10s %s\n", "name", "type", "subtype", "offset", "size",
               "flags");
    for (size_t k = 0; k < t->n; k++) {
        const espfab_partition_t *p = &t->p[k];
        char sub[16], type[24], flags[40] = "";
        espfab_partition_subtype_name(p->type, p->subtype, sub, sizeof(sub));
        snprintf(type, sizeof(type), "%s", espfab_partition_type_name(p->type));
        if (!strcmp(type, "custom"))
            snprintf(type, sizeof(type), "custom 0x%02X", p->type);
        if (p->flags & 1u)
            strcat(flags, "encrypted ");
        if (p->flags & 2u)
            strcat(flags, "readonly ");
        if (p->flags & ~3u)
            snprintf(flags + strlen(flags), sizeof(flags) - strlen(flags), "0x%08X", p->flags);
        printf("  %-16s %-16s %-10s 0x%-8X 0x%-8X %s\n", p->label, type, sub, p->offset, p->size,
               flags[0] ? flags : "-");
    }
}

static void print_text(const described_t *d)
{
    printf("file         %s (%zu bytes)\n", d->path, d->len);
    switch (d->kind) {
    case KIND_ELF:
        printf("format       ELF file, not a flashable image (flash the .bin made from it)\n");
        break;
    case KIND_RAW:
        printf("format       raw data (not an ESP image nor a partition table)\n");
        break;
    case KIND_PARTITION_TABLE:
        text_table(d);
        break;
    case KIND_IMAGE:
        if (d->info.format != ESPFAB_IMAGE_RAW)
            text_image(d);
        break;
    }
}

/* ---- JSON ---- */

static void json_desc(espfab_json_t *w, const espfab_app_desc_t *a)
{
    char sha[65];
    hex(a->elf_sha256, 32, sha);
    espfab_json_obj(w, "app_desc");
    espfab_json_str(w, "project_name", a->project_name);
    espfab_json_str(w, "version", a->version);
    espfab_json_str(w, "idf_ver", a->idf_ver);
    espfab_json_str(w, "date", a->date);
    espfab_json_str(w, "time", a->time);
    espfab_json_str(w, "elf_sha256", sha);
    espfab_json_uint(w, "secure_version", a->secure_version);
    espfab_json_uint(w, "min_efuse_blk_rev_full", a->min_efuse_blk_rev_full);
    espfab_json_uint(w, "max_efuse_blk_rev_full", a->max_efuse_blk_rev_full);
    espfab_json_end(w);
}

static void json_image(espfab_json_t *w, const described_t *d)
{
    const espfab_image_info_t *i = &d->info;
    const espfab_chip_t *c = espfab_chip_get(i->chip);
    espfab_json_str(w, "format", espfab_image_format_name(i->format));
    espfab_json_str(w, "chip", c ? c->key : NULL);
    if (i->image_chip_id >= 0)
        espfab_json_int(w, "chip_id", i->image_chip_id);
    else
        espfab_json_null(w, "chip_id");
    espfab_json_str(w, "reason", i->reason);
    espfab_json_str(w, "flash_mode", d->hdr.mode);
    espfab_json_str(w, "flash_freq", d->hdr.freq);
    espfab_json_str(w, "flash_size", d->hdr.size);
    espfab_json_uint(w, "entry", i->entry);
    espfab_json_arr(w, "segments");
    for (size_t k = 0; k < d->nseg; k++) {
        espfab_json_obj(w, NULL);
        espfab_json_uint(w, "addr", d->seg[k].addr);
        espfab_json_uint(w, "len", d->seg[k].len);
        espfab_json_uint(w, "file_offset", d->seg[k].file_offset);
        espfab_json_str(w, "region", d->seg[k].region);
        espfab_json_end(w);
    }
    espfab_json_end(w);
    if (i->format == ESPFAB_IMAGE_ESP32) {
        espfab_json_uint(w, "min_rev_full", i->min_rev_full);
        espfab_json_uint(w, "max_rev_full", i->max_rev_full);
        espfab_json_uint(w, "min_rev", i->min_rev);
    }
    espfab_json_bool(w, "checksum_ok", d->rc != ESPFAB_E_IMAGE_CHECKSUM);
    espfab_json_bool(w, "hash_appended", i->hash_appended);
    if (i->hash_appended && i->data_length + 32 <= d->len) {
        char stored[65];
        hex(d->buf + i->data_length, 32, stored);
        espfab_json_str(w, "sha256", stored);
        espfab_json_bool(w, "sha256_ok", i->sha256_ok);
        if (!i->sha256_ok) {
            hex(d->sha_computed, 32, stored);
            espfab_json_str(w, "sha256_computed", stored);
        }
    }
    espfab_json_uint(w, "image_length", i->image_length);
    if (d->has_desc)
        json_desc(w, &d->desc);
    else
        espfab_json_null(w, "app_desc");
}

static void json_table(espfab_json_t *w, const described_t *d)
{
    espfab_json_str(w, "format", "partition table");
    espfab_json_str(w, "md5", d->pt.md5_bad ? "bad"
                              : d->rc        ? "not checked"
                              : d->pt.has_md5 ? "valid"
                                              : "absent");
    espfab_json_arr(w, "partitions");
    for (size_t k = 0; k < d->pt.n; k++) {
        const espfab_partition_t *p = &d->pt.p[k];
        char sub[16];
        espfab_json_obj(w, NULL);
        espfab_json_str(w, "name", p->label);
        espfab_json_uint(w, "type", p->type);
        espfab_json_str(w, "type_name", espfab_partition_type_name(p->type));
        espfab_json_uint(w, "subtype", p->subtype);
        espfab_json_str(w, "subtype_name",
                        espfab_partition_subtype_name(p->type, p->subtype, sub, sizeof(sub)));
        espfab_json_uint(w, "offset", p->offset);
        espfab_json_uint(w, "size", p->size);
        espfab_json_uint(w, "flags", p->flags);
        espfab_json_bool(w, "encrypted", p->flags & 1u);
        espfab_json_bool(w, "readonly", p->flags & 2u);
        espfab_json_end(w);
    }
    espfab_json_end(w);
}

static int print_json(const described_t *d)
{
    static const char *const kinds[] = {"image", "partition_table", "elf", "raw"};
    espfab_json_t w;
    espfab_json_init_file(&w, stdout, false);
    espfab_json_obj(&w, NULL);
    espfab_json_str(&w, "file", d->path);
    espfab_json_uint(&w, "size", d->len);
    espfab_json_str(&w, "kind", kinds[d->kind]);
    if (d->kind == KIND_PARTITION_TABLE)
        json_table(&w, d);
    else if (d->kind == KIND_IMAGE && d->info.format != ESPFAB_IMAGE_RAW)
        json_image(&w, d);
    if (d->rc) {
        espfab_json_obj(&w, "error");
        espfab_json_int(&w, "code", espfab_err_number(d->rc));
        espfab_json_str(&w, "name", espfab_err_name(d->rc));
        espfab_json_str(&w, "detail", d->fault.detail);
        espfab_json_end(&w);
    } else {
        espfab_json_null(&w, "error");
    }
    int rc = espfab_json_end(&w);
    fputc('\n', stdout);
    return rc;
}

int espfab_cli_image_info(int argc, char **argv)
{
    bool json = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "espfab image-info: unknown option '%s'\n(see `espfab image-info --help`)\n",
                    argv[i]);
            return 2;
        } else if (path) {
            fprintf(stderr, "espfab image-info: one FILE at a time ('%s' and '%s' given)\n", path,
                    argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "espfab image-info: no FILE given\n(see `espfab image-info --help`)\n");
        return 2;
    }
    described_t *d = calloc(1, sizeof(*d));
    if (!d)
        return 1;
    d->path = path;
    uint8_t *buf = NULL;
    char line[1024];
    if (espfab_image_load(path, &buf, &d->len, &d->fault) != 0) {
        fprintf(stderr, "espfab image-info: %s\n", espfab_fault_format(&d->fault, line, sizeof(line)));
        free(d);
        return 2;
    }
    d->buf = buf;
    describe(d);
    int out = json ? print_json(d) : (print_text(d), 0);
    int status = d->rc ? 1 : out ? 2 : 0;
    fflush(stdout);
    if (d->rc)
        fprintf(stderr, "espfab image-info: %s\n", espfab_fault_format(&d->fault, line, sizeof(line)));
    free(buf);
    free(d);
    return status;
}

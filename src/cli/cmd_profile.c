/*
 * cmd_profile.c - `espfab profile check FILE.ini` (validate a profile and
 * show its regions) and `espfab profile import build/flasher_args.json
 * [-o OUT.ini] [--name NAME]` (ESP-IDF build output -> profile).
 * Exit status: 0 valid / written, 2 invalid input (the fault is printed).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "espfab/cli.h"
#include "espfab/profile.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: espfab profile check FILE.ini\n"
            "       espfab profile import build/flasher_args.json [-o OUT.ini] [--name NAME]\n"
            "\n"
            "check   validates a profile (keys, values, image files, chip, regions) and\n"
            "        prints each region with its size and SHA-256\n"
            "import  writes a profile from ESP-IDF's build/flasher_args.json; image paths\n"
            "        are relative to OUT.ini's directory (stdout: the current directory)\n");
}

static void print_fault(const char *what, const espfab_fault_t *f)
{
    char line[1024];
    fprintf(stderr, "espfab profile %s: %s\n", what, espfab_fault_format(f, line, sizeof line));
}

static const char *format_name(const espfab_profile_image_t *im)
{
    static char buf[48];
    switch (im->info.format) {
    case ESPFAB_IMAGE_RAW: return "raw data";
    case ESPFAB_IMAGE_ESP8266_V1: return "ESP8266 V1 image";
    case ESPFAB_IMAGE_ESP8266_V2: return "ESP8266 V2 image";
    case ESPFAB_IMAGE_ESP32: {
        const espfab_chip_t *c = espfab_chip_get(im->info.chip);
        snprintf(buf, sizeof buf, "%s image", c ? c->name : "ESP32-family");
        return buf;
    }
    }
    return "?";
}

static void print_rev(const char *label, int rev)
{
    if (rev >= 0)
        printf("%s%d.%d", label, rev / 100, rev % 100);
    else
        printf("%sany", label);
}

static int cmd_check(const char *path)
{
    espfab_profile_t *p = calloc(1, sizeof *p);
    if (!p)
        return 1;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (espfab_profile_load(path, p, &f) != 0) {
        print_fault("check", &f);
        free(p);
        return 2;
    }
    const espfab_chip_t *c = espfab_chip_get(p->chip);
    printf("profile  %s (%s)\n", p->name, p->path);
    printf("sha256   %s\n", p->sha256);
    printf("chip     %s", c ? c->name : "?");
    if (p->min_rev_full >= 0 || p->max_rev_full >= 0) {
        print_rev(", revision ", p->min_rev_full);
        print_rev(" to ", p->max_rev_full);
    } else {
        printf(", any revision");
    }
    printf("\n");
    char size[24];
    printf("flash    mode %s, freq %s, size %s\n", espfab_flash_mode_name(p->flash.mode),
           espfab_flash_freq_name(p->flash.freq), espfab_flash_size_name(&p->flash, size, sizeof size));
    printf("options  baud %u, before %s, after %s, stub %s, compress %s, erase %s, verify %s\n",
           p->baud, espfab_reset_name(p->before), espfab_after_name(p->after),
           p->stub ? "yes" : "no", p->compress ? "yes" : "no", espfab_erase_name(p->erase),
           p->verify ? "yes" : "no");
    printf("regions\n");
    size_t total = 0;
    for (size_t i = 0; i < p->nimages; i++) {
        const espfab_profile_image_t *im = &p->images[i];
        printf("  0x%08x  %9zu bytes  %-18s %s  [%s] %s\n", im->offset, im->size,
               format_name(im), im->sha256, im->name, im->file);
        total += im->size;
    }
    printf("ok: %zu region%s, %zu bytes\n", p->nimages, p->nimages == 1 ? "" : "s", total);
    espfab_profile_free(p);
    free(p);
    return 0;
}

static int cmd_import(int argc, char **argv)
{
    const char *json = NULL, *out = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (argv[i][0] == '-' || json) {
            usage(stderr);
            return 2;
        } else
            json = argv[i];
    }
    if (!json) {
        usage(stderr);
        return 2;
    }
    char out_dir[PATH_MAX];
    if (out) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", out);
        snprintf(out_dir, sizeof out_dir, "%s", dirname(tmp));
    } else if (!getcwd(out_dir, sizeof out_dir)) {
        perror("espfab profile import: getcwd");
        return 2;
    }
    espfab_fault_t f;
    espfab_fault_clear(&f);
    char *ini = NULL;
    if (espfab_profile_import(json, out_dir, name, &ini, &f) != 0) {
        print_fault("import", &f);
        return 2;
    }
    if (!out) {
        fputs(ini, stdout);
        free(ini);
        return 0;
    }
    FILE *fp = fopen(out, "wx");
    if (!fp && errno == EEXIST) {
        fprintf(stderr, "espfab profile import: %s exists; not overwriting it\n", out);
        free(ini);
        return 2;
    }
    if (!fp || fputs(ini, fp) < 0 || fclose(fp) != 0) {
        fprintf(stderr, "espfab profile import: cannot write %s: %s\n", out, strerror(errno));
        free(ini);
        return 2;
    }
    free(ini);
    printf("wrote %s\n", out);
    /* Prove it loads (files present, chip right, regions sane). */
    return cmd_check(out);
}

int espfab_cli_profile(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "check")) {
        if (argc != 3) {
            usage(stderr);
            return 2;
        }
        return cmd_check(argv[2]);
    }
    if (!strcmp(argv[1], "import"))
        return cmd_import(argc - 1, argv + 1);
    fprintf(stderr, "espfab profile: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

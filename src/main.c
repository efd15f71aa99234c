/* main.c - espfab command-line entry point: dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "espfab/cli.h"
#include "espfab/log.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand commands[] = {
    {"ports", espfab_cli_ports, "list serial ports and the USB-UART bridge behind each"},
    {"info", espfab_cli_info, "identify the board on a port: chip, revision, MAC, flash"},
    {"flash", espfab_cli_flash, "write images to one board and verify them"},
    {"read-flash", espfab_cli_read_flash, "read flash into a file (MD5-checked)"},
    {"erase", espfab_cli_erase, "erase the whole flash or sectors of it (stub)"},
    {"verify", espfab_cli_verify, "compare flash with files by MD5, nothing written"},
    {"run", espfab_cli_run, "the station: flash many boards at once from a profile"},
    {"demo", espfab_cli_demo, "run the station against simulated boards (espsim)"},
    {"db", espfab_cli_db, "traceability database maintenance (db check)"},
    {"profile", espfab_cli_profile, "profile tools (profile check, profile import)"},
    {"report", espfab_cli_report, "export the audit report (csv, json, html)"},
    {"errors", espfab_cli_errors, "list every error code with its cause and fix"},
    {"image-info", espfab_cli_image_info, "describe a firmware file: chip, header, segments, app, SHA-256"},
    {"merge", espfab_cli_merge, "merge files into one flash image (esptool merge_bin)"},
    {"nvs", espfab_cli_nvs, "NVS partitions: generate from ESP-IDF's CSV, dump a partition"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: espfab <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`espfab <command> --help` shows a command's options.\n");
}

int main(int argc, char **argv)
{
    espfab_log_init_from_env();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        return espfab_cli_version(argc - 1, argv + 1);
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "espfab: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

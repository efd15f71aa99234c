/* cmd_ports.c - `espfab ports [--json]`: the serial ports present, the USB
 * VID:PID, serial number and names behind each, their /dev/serial/by-path
 * and by-id links, and which USB-UART bridge (or native USB) they look like. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/cli.h"
#include "espfab/port.h"
#include "port/list.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: espfab ports [--json]\n"
                 "  lists serial ports with USB VID:PID, serial number, by-path/by-id links and\n"
                 "  the USB-UART bridge; --json prints a JSON array instead of a table\n");
}

int espfab_cli_ports(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "espfab ports: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    espfab_port_desc_t *d = NULL;
    espfab_fault_t f;
    int n = espfab_ports_list(&d, &f);
    if (n < 0) {
        char buf[512];
        fprintf(stderr, "espfab ports: %s\n", espfab_fault_format(&f, buf, sizeof(buf)));
        return 1;
    }
    if (json)
        espfab_port__format_json(stdout, d, (size_t)n);
    else
        espfab_port__format_text(stdout, d, (size_t)n);
    free(d);
    return 0;
}

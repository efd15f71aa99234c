/* cmd_ports.c - placeholder until the module that owns 'espfab ports' lands. */
#include <stdio.h>

#include "espfab/cli.h"

int espfab_cli_ports(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "espfab ports: not implemented in this build yet\n");
    return 2;
}

/* cmd_info.c - placeholder until the module that owns 'espfab info' lands. */
#include <stdio.h>

#include "espfab/cli.h"

int espfab_cli_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "espfab info: not implemented in this build yet\n");
    return 2;
}

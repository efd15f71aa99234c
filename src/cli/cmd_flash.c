/* cmd_flash.c - placeholder until the module that owns 'espfab flash' lands. */
#include <stdio.h>

#include "espfab/cli.h"

int espfab_cli_flash(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "espfab flash: not implemented in this build yet\n");
    return 2;
}

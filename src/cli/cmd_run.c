/* cmd_run.c - placeholder until the module that owns 'espfab run' lands. */
#include <stdio.h>

#include "espfab/cli.h"

int espfab_cli_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "espfab run: not implemented in this build yet\n");
    return 2;
}

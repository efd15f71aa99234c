/* cmd_demo.c - placeholder until the module that owns 'espfab demo' lands. */
#include <stdio.h>

#include "espfab/cli.h"

int espfab_cli_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "espfab demo: not implemented in this build yet\n");
    return 2;
}

/* cmd_report.c - placeholder until the module that owns 'espfab report' lands. */
#include <stdio.h>

#include "espfab/cli.h"

int espfab_cli_report(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "espfab report: not implemented in this build yet\n");
    return 2;
}

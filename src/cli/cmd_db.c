/* cmd_db.c - placeholder until the module that owns 'espfab db' lands. */
#include <stdio.h>

#include "espfab/cli.h"

int espfab_cli_db(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "espfab db: not implemented in this build yet\n");
    return 2;
}

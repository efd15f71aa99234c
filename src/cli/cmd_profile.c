/* cmd_profile.c - placeholder until the module that owns 'espfab profile' lands. */
#include <stdio.h>

#include "espfab/cli.h"

int espfab_cli_profile(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "espfab profile: not implemented in this build yet\n");
    return 2;
}

/* cmd_errors.c - `espfab errors [--markdown]`: the error table, from err.h. */
#include <stdio.h>
#include <string.h>

#include "espfab/cli.h"
#include "espfab/err.h"

int espfab_cli_errors(int argc, char **argv)
{
    int markdown = argc > 1 && !strcmp(argv[1], "--markdown");
    if (argc > 1 && !markdown) {
        fprintf(stderr, "usage: espfab errors [--markdown]\n");
        return 2;
    }
    if (markdown) {
        printf("# espfab error codes\n\n");
        printf("Generated from include/espfab/err_*.h by `espfab errors --markdown`; "
               "codes are stable and never reused.\n\n");
        printf("| code | name | what happened | likely cause and fix |\n");
        printf("|---:|---|---|---|\n");
    }
    for (size_t i = 0; i < espfab_err_count(); i++) {
        int c = espfab_err_at(i);
        if (markdown)
            printf("| %d | %s | %s | %s |\n", espfab_err_number(c), espfab_err_name(c),
                   espfab_strerror(c), espfab_err_hint(c));
        else
            printf("%4d %-24s %s -> %s\n", espfab_err_number(c), espfab_err_name(c),
                   espfab_strerror(c), espfab_err_hint(c));
    }
    return 0;
}

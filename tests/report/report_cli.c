/* report_cli.c - `espfab report` without the rest of the CLI: main() hands
 * its arguments to espfab_cli_report() (src/cli/cmd_report.c), so the report
 * tests do not depend on every other subcommand linking. */
#include "espfab/cli.h"

int main(int argc, char **argv)
{
    return espfab_cli_report(argc - 1, argv + 1);
}

/*
 * cli.h - the espfab subcommands.  Each takes argc/argv starting at the
 * subcommand name (argv[0] == "flash") and returns the process exit status:
 * 0 success, 1 the job failed (a board failed, verification failed), 2 bad
 * usage or input (message printed, nothing sent to any board).
 * They run on the calling thread and own their own uv loop.
 */
#ifndef ESPFAB_CLI_H
#define ESPFAB_CLI_H

int espfab_cli_ports(int argc, char **argv);   /* src/cli/cmd_ports.c */
int espfab_cli_info(int argc, char **argv);    /* src/cli/cmd_info.c */
int espfab_cli_flash(int argc, char **argv);   /* src/cli/cmd_flash.c */
int espfab_cli_run(int argc, char **argv);     /* src/cli/cmd_run.c */
int espfab_cli_demo(int argc, char **argv);    /* src/cli/cmd_demo.c */
int espfab_cli_db(int argc, char **argv);      /* src/cli/cmd_db.c */
int espfab_cli_profile(int argc, char **argv); /* src/cli/cmd_profile.c */
int espfab_cli_report(int argc, char **argv);  /* src/cli/cmd_report.c */
int espfab_cli_errors(int argc, char **argv);  /* src/cli/cmd_errors.c */
int espfab_cli_version(int argc, char **argv); /* src/cli/cmd_version.c (`espfab --version`) */
int espfab_cli_image_info(int argc, char **argv); /* src/cli/cmd_image_info.c */
int espfab_cli_merge(int argc, char **argv);   /* src/cli/cmd_merge.c */
int espfab_cli_nvs(int argc, char **argv);     /* src/cli/cmd_nvs.c */
int espfab_cli_read_flash(int argc, char **argv); /* src/cli/cmd_bench.c */
int espfab_cli_erase(int argc, char **argv);      /* src/cli/cmd_bench.c */
int espfab_cli_verify(int argc, char **argv);     /* src/cli/cmd_bench.c */

#endif

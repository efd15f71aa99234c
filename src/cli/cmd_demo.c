/*
 * cmd_demo.c - `espfab demo`: the station on the embedded default, a
 * simulated jig.  Starts espsim with 8 mixed boards (2 each of ESP32,
 * ESP32-S3, ESP32-C3, ESP8266) on loopback TCP, writes test firmware with
 * espfab-mkimage, one profile per chip and a station file into ./espfab-demo/,
 * then runs `espfab run --station espfab-demo/station.ini` with the database
 * ./espfab.db, and stops the simulator.  Nothing is downloaded.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "espfab/cli.h"

#define NBOARDS 8

typedef struct demo_chip {
    const char *key;     /* espsim / mkimage chip name */
    const char *offset;  /* where a merged firmware goes */
} demo_chip;

static const demo_chip chips[] = {
    {"esp32", "0x1000"}, {"esp32s3", "0x0"}, {"esp32c3", "0x0"}, {"esp8266", "0x0"}};

static const char usage_text[] =
    "usage: espfab demo [--dir DIR] [--no-pace] [--log console|json|text]\n"
    "\n"
    "Runs the station against 8 simulated boards (espsim): 2 x ESP32, ESP32-S3,\n"
    "ESP32-C3 and ESP8266, with realistic serial and flash timing (--no-pace\n"
    "for full speed).  Writes firmware, profiles and station.ini into DIR\n"
    "(default ./espfab-demo) and records every board in ./espfab.db.\n";

/* Directory holding this executable (for the helper programs built next to it). */
static int exe_dir(char *out, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", out, len - 1);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    char *slash = strrchr(out, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    return 0;
}

static int find_tool(const char *dir, const char *rel, const char *env, char *out, size_t len)
{
    const char *e = getenv(env);
    if (e && *e) {
        snprintf(out, len, "%s", e);
        return access(out, X_OK);
    }
    snprintf(out, len, "%s/%s", dir, rel);
    return access(out, X_OK);
}

static int run_cmd(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], argv);
        fprintf(stderr, "espfab demo: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "espfab demo: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputs(text, f);
    return fclose(f);
}

typedef struct demo_args {
    const char *dir, *log_mode;
    int pace;
} demo_args;

/* The running simulator: its pid, its stdout, and the board lines it printed. */
typedef struct demo_sim {
    pid_t pid;
    FILE *out;
    char ports[NBOARDS][80], kind[NBOARDS][16];
    int nb;
} demo_sim;

#define DEMO_GO_ON (-1) /* the steps below: carry on, else the exit status */

static int parse_demo_args(int argc, char **argv, demo_args *a)
{
    static const struct option lopts[] = {{"dir", required_argument, NULL, 'd'},
                                          {"no-pace", no_argument, NULL, 'n'},
                                          {"log", required_argument, NULL, 'l'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c;
    a->dir = "espfab-demo";
    a->log_mode = NULL;
    a->pace = 1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", lopts, NULL)) != -1) {
        switch (c) {
        case 'd': a->dir = optarg; break;
        case 'n': a->pace = 0; break;
        case 'l': a->log_mode = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default:
            fprintf(stderr, "espfab demo: unknown option '%s'\n\n%s", argv[optind - 1], usage_text);
            return 2;
        }
    }
    return DEMO_GO_ON;
}

/* espsim and espfab-mkimage next to this executable (or from the environment). */
static int find_tools(char *espsim, size_t espsim_len, char *mkimage, size_t mkimage_len)
{
    char bindir[PATH_MAX];
    if (exe_dir(bindir, sizeof(bindir)) != 0 ||
        find_tool(bindir, "tools/espsim/espsim", "ESPFAB_ESPSIM", espsim, espsim_len) != 0 ||
        find_tool(bindir, "tools/mkimage/espfab-mkimage", "ESPFAB_MKIMAGE", mkimage,
                  mkimage_len) != 0) {
        fprintf(stderr, "espfab demo: the simulator or image tool is missing next to espfab "
                        "(%s): build the whole project (cmake --build build), or set "
                        "ESPFAB_ESPSIM / ESPFAB_MKIMAGE\n", bindir);
        return 2;
    }
    return DEMO_GO_ON;
}

/* Firmware and one profile per chip, in dir. */
static int write_chip_files(const char *dir, char *mkimage)
{
    char path[PATH_MAX + 128], text[8192];
    for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
        char img[PATH_MAX + 64];
        snprintf(img, sizeof(img), "%s/firmware-%s.bin", dir, chips[i].key);
        char *mk[] = {mkimage, "--chip", (char *)chips[i].key, "--kind", "merged", "--size", "640k",
                      "--compressible", "50", "--seed", "1", "-o", img, NULL};
        if (run_cmd(mk) != 0) {
            fprintf(stderr, "espfab demo: espfab-mkimage failed for %s\n", chips[i].key);
            return 1;
        }
        snprintf(path, sizeof(path), "%s/demo-%s.ini", dir, chips[i].key);
        snprintf(text, sizeof(text),
                 "; Demo profile written by `espfab demo`: a MicroPython-style merged\n"
                 "; firmware (bootloader + partition table + app) for %s.\n"
                 "[profile]\nname = demo-%s\nchip = %s\nbaud = 921600\nflash_mode = dio\n"
                 "stub = yes\ncompress = yes\nverify = yes\n\n[image firmware]\n"
                 "file = firmware-%s.bin\noffset = %s\n",
                 chips[i].key, chips[i].key, chips[i].key, chips[i].key, chips[i].offset);
        if (write_file(path, text) != 0)
            return 2;
    }
    return DEMO_GO_ON;
}

static void stop_sim(const demo_sim *sim)
{
    kill(sim->pid, SIGTERM);
    waitpid(sim->pid, NULL, 0);
}

/* Reads the board lines up to 'espsim ready'; returns whether it came. */
static int read_board_lines(demo_sim *sim)
{
    char line[512];
    while (sim->out && fgets(line, sizeof(line), sim->out)) {
        int idx;
        char chip[16], tcp[64];
        if (strncmp(line, "espsim ready", 12) == 0)
            return 1;
        if (sscanf(line, "board %d chip=%15s mac=%*s pty=%*s tcp=%63s", &idx, chip, tcp) == 3 &&
            idx >= 0 && idx < NBOARDS) {
            snprintf(sim->ports[idx], sizeof(sim->ports[idx]), "tcp://%s", tcp);
            snprintf(sim->kind[idx], sizeof(sim->kind[idx]), "%s", chip);
            if (idx + 1 > sim->nb)
                sim->nb = idx + 1;
        }
    }
    return 0;
}

/* The simulated jig: espsim with its stdout on a pipe, up and listening. */
static int start_sim(char *espsim, int pace, demo_sim *sim)
{
    int pipefd[2];
    memset(sim, 0, sizeof(*sim));
    if (pipe(pipefd) != 0)
        return 1;
    sim->pid = fork();
    if (sim->pid < 0)
        return 1;
    if (sim->pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        char *av[] = {espsim, "--boards", "esp32:2,esp32s3:2,esp32c3:2,esp8266:2", "--tcp-base", "0",
                      "--no-pty", pace ? "--pace" : "--no-pace", "--seed", "42", NULL};
        execv(espsim, av);
        _exit(127);
    }
    close(pipefd[1]);
    sim->out = fdopen(pipefd[0], "r");
    if (!read_board_lines(sim) || sim->nb != NBOARDS) {
        fprintf(stderr, "espfab demo: the simulator did not start (%s)\n", espsim);
        stop_sim(sim);
        return 1;
    }
    return DEMO_GO_ON;
}

/* dir/station.ini (its path in path): one slot per simulated board, the
 * database in cwd. */
static int write_station(const char *dir, const demo_sim *sim, const char *cwd, char *path,
                         size_t path_len)
{
    char text[8192];
    size_t len = (size_t)snprintf(text, sizeof(text),
                                  "; Written by `espfab demo`: a jig of 8 simulated boards.\n"
                                  "[station]\nid = demo-station\nline = demo-line\n"
                                  "operator = demo\nlot = DEMO-LOT-1\ndatabase = %s/espfab.db\n\n",
                                  cwd);
    for (int i = 0; i < sim->nb; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "[slot S%d]\nport = %s\nprofile = demo-%s.ini\n\n", i + 1,
                                sim->ports[i], sim->kind[i]);
    snprintf(path, path_len, "%s/station.ini", dir);
    return write_file(path, text) != 0 ? 2 : DEMO_GO_ON;
}

/* `espfab run --station path [--log MODE]` */
static int run_station_file(char *path, const char *log_mode)
{
    char *rargv[8];
    int rargc = 0;
    rargv[rargc++] = "run";
    rargv[rargc++] = "--station";
    rargv[rargc++] = path;
    if (log_mode) {
        rargv[rargc++] = "--log";
        rargv[rargc++] = (char *)log_mode;
    }
    rargv[rargc] = NULL;
    return espfab_cli_run(rargc, rargv);
}

int espfab_cli_demo(int argc, char **argv)
{
    demo_args a;
    demo_sim sim;
    char espsim[PATH_MAX + 64], mkimage[PATH_MAX + 64];
    int rc;
    if ((rc = parse_demo_args(argc, argv, &a)) != DEMO_GO_ON ||
        (rc = find_tools(espsim, sizeof(espsim), mkimage, sizeof(mkimage))) != DEMO_GO_ON)
        return rc;
    if (mkdir(a.dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "espfab demo: cannot create %s: %s\n", a.dir, strerror(errno));
        return 2;
    }
    if ((rc = write_chip_files(a.dir, mkimage)) != DEMO_GO_ON ||
        (rc = start_sim(espsim, a.pace, &sim)) != DEMO_GO_ON)
        return rc;

    char cwd[PATH_MAX], path[PATH_MAX + 128];
    if (!getcwd(cwd, sizeof(cwd)))
        snprintf(cwd, sizeof(cwd), ".");
    if ((rc = write_station(a.dir, &sim, cwd, path, sizeof(path))) != DEMO_GO_ON) {
        stop_sim(&sim);
        return rc;
    }
    printf("espfab demo: 8 simulated boards (espsim pid %d), profiles and station file in %s/\n",
           (int)sim.pid, a.dir);
    fflush(stdout);

    rc = run_station_file(path, a.log_mode);

    stop_sim(&sim);
    if (sim.out)
        fclose(sim.out);
    printf("espfab demo: the station file %s can be run again while a simulator serves those "
           "ports; records stay in %s/espfab.db\n", path, cwd);
    return rc;
}

/* espfab-benchrun: run one command and report what it cost.
 *
 *   espfab-benchrun [--out FILE] [--tag TEXT] -- CMD [ARGS...]
 *
 * Runs CMD as a child (stdin/stdout/stderr inherited), waits for it with
 * wait4() and appends ONE line to FILE (stderr without --out):
 *
 *   tag=TEXT status=0 start_ms=123.456 end_ms=456.789 wall_ms=333.333
 *   user_s=0.120 sys_s=0.030 maxrss_kib=45678
 *
 * start_ms/end_ms are CLOCK_MONOTONIC milliseconds, so lines written by
 * several concurrent benchruns (and by espfab-benchrelay) share one clock.
 * maxrss_kib is the child's peak resident set (ru_maxrss of wait4, which
 * covers the child only, not grandchildren that were not waited for).
 * status is the exit code, or 128+signal.  SIGINT/SIGTERM/SIGHUP received
 * by benchrun are forwarded to the child, so a wrapped simulator can be
 * stopped through its wrapper and still be accounted.  The exit status of
 * benchrun is the child's status (127 if CMD could not be executed).
 *
 * Single-threaded; no I/O besides the one result line.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void forward(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static int usage(void)
{
    fprintf(stderr, "usage: espfab-benchrun [--out FILE] [--tag TEXT] -- CMD [ARGS...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *out = NULL, *tag = "-";
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--tag") && i + 1 < argc)
            tag = argv[++i];
        else
            return usage();
    }
    if (i >= argc)
        return usage();

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "espfab-benchrun: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        execvp(argv[i], argv + i);
        fprintf(stderr, "espfab-benchrun: cannot run %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    child_pid = pid;

    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    pid_t w;
    do {
        w = wait4(pid, &st, 0, &ru);
    } while (w < 0 && errno == EINTR);
    double t1 = now_ms();
    if (w < 0) {
        fprintf(stderr, "espfab-benchrun: wait4: %s\n", strerror(errno));
        return 127;
    }
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);

    FILE *f = out ? fopen(out, "a") : stderr;
    if (!f) {
        fprintf(stderr, "espfab-benchrun: cannot open %s: %s\n", out, strerror(errno));
        return 127;
    }
    fprintf(f,
            "tag=%s status=%d start_ms=%.3f end_ms=%.3f wall_ms=%.3f user_s=%.3f sys_s=%.3f "
            "maxrss_kib=%ld\n",
            tag, status, t0, t1, t1 - t0, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
    if (f != stderr)
        fclose(f);
    return status;
}

/* test_console_live.c - the live console on a pseudo-terminal: a child
 * process runs a real station (continuous mode, two slots whose TCP ports
 * have no board) with the console on the pty; the parent reads the screen
 * and types keys like an operator: Tab + p pauses a slot, a resize redraws,
 * q stops and quits, Ctrl-C goes to the caller's SIGINT handler; the
 * terminal is restored (same termios, alternate screen left, cursor shown).
 * Deadlines below only guard against a hang; nothing measures speed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "espfab/console.h"
#include "espfab/profile.h"
#include "espfab/station.h"
#include "espfab/station_cfg.h"
#include "espfab/store.h"

static char tmpdir[] = "/tmp/espfab-console-XXXXXX";

/* ---- child: a station with the console ---- */

typedef struct child_ctx {
    espfab_console_t *con;
    espfab_station_t *st;
    uv_signal_t sigint;
    int sigints;
} child_ctx;

static void child_station_cb(espfab_station_t *st, const espfab_station_event_t *ev, void *data)
{
    child_ctx *c = data;
    (void)st;
    espfab_console_event(c->con, ev);
    if (ev->type == ESPFAB_STATION_EV_FINISHED)
        uv_signal_stop(&c->sigint);
}

static void child_sigint(uv_signal_t *h, int sig)
{
    child_ctx *c = h->data;
    (void)sig;
    c->sigints++;
    espfab_console_note(c->con, "interrupt: taking no new boards");
    espfab_station_stop(c->st);
}

static int child_main(bool hold, bool batch)
{
    char path[512], ini[1024];
    espfab_fault_t f;
    espfab_fault_clear(&f);
    /* a raw-data image and a profile */
    snprintf(path, sizeof(path), "%s/data.bin", tmpdir);
    FILE *fp = fopen(path, "wb");
    for (int i = 0; fp && i < 4096; i++)
        fputc(i & 0xff, fp);
    if (fp)
        fclose(fp);
    int n = snprintf(ini, sizeof(ini), "[profile]\nname = console-test\nchip = esp32s3\n"
                     "[image data]\nfile = %s\noffset = 0x200000\nkind = data\n", path);
    espfab_profile_t prof;
    if (espfab_profile_parse(ini, (size_t)n, "test.ini", tmpdir, 0, &prof, &f) != 0) {
        fprintf(stderr, "child: profile: %s\n", f.detail);
        return 10;
    }
    static const char cfg_text[] = "[station]\nid = live-st\noperator = bob\nlot = LOT-9\n"
                                   "mode = batch\n"
                                   "[slot J1]\nport = tcp://127.0.0.1:1\n"
                                   "[slot J2]\nport = tcp://127.0.0.1:2\n";
    espfab_station_cfg_t cfg;
    if (espfab_station_cfg_parse(cfg_text, sizeof(cfg_text) - 1, "station.ini", tmpdir, &cfg,
                                 &f) != 0) {
        fprintf(stderr, "child: station cfg: %s\n", f.detail);
        return 11;
    }
    espfab_store_t *store = NULL;
    snprintf(path, sizeof(path), "%s/espfab.db", tmpdir);
    if (espfab_store_open(path, 0, &store, NULL, &f) != 0) {
        fprintf(stderr, "child: store: %s\n", f.detail);
        return 12;
    }
    uv_loop_t *loop = uv_default_loop();
    child_ctx c;
    memset(&c, 0, sizeof(c));
    espfab_station_opts_t so;
    memset(&so, 0, sizeof(so));
    so.cfg = &cfg;
    so.profile = &prof;
    so.mode = batch ? ESPFAB_STATION_BATCH : ESPFAB_STATION_CONTINUOUS;
    so.store = store;
    so.poll_ms = 50;
    if (espfab_station_new(loop, &so, child_station_cb, &c, &c.st, &f) != 0) {
        fprintf(stderr, "child: station: %s\n", f.detail);
        return 13;
    }
    struct termios before, after;
    tcgetattr(STDIN_FILENO, &before);
    espfab_console_opts_t co;
    memset(&co, 0, sizeof(co));
    co.station = cfg.id;
    co.operator_name = cfg.operator_name;
    co.lot = cfg.lot;
    co.profile = prof.name;
    co.mode = batch ? "batch" : "continuous";
    co.refresh_ms = 20;
    co.hold = hold;
    if (espfab_console_new(loop, c.st, &co, &c.con, &f) != 0) {
        fprintf(stderr, "child: console: %s\n", f.detail);
        return 14;
    }
    uv_signal_init(loop, &c.sigint);
    c.sigint.data = &c;
    uv_signal_start(&c.sigint, child_sigint, SIGINT);
    espfab_station_start(c.st);
    uv_run(loop, UV_RUN_DEFAULT);
    bool closed = espfab_console_closed(c.con);
    espfab_console_free(c.con);
    uv_close((uv_handle_t *)&c.sigint, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    espfab_station_free(c.st);
    espfab_store_close(store);
    espfab_profile_free(&prof);
    espfab_station_cfg_free(&cfg);
    tcgetattr(STDIN_FILENO, &after);
    bool same = before.c_lflag == after.c_lflag && before.c_iflag == after.c_iflag &&
                before.c_oflag == after.c_oflag && before.c_cflag == after.c_cflag;
    printf("\nCHILD closed=%d termios=%s sigints=%d\n", closed, same ? "SAME" : "CHANGED",
           c.sigints);
    fflush(stdout);
    return 0;
}

/* ---- parent: the operator ---- */

typedef struct screen {
    char *buf;
    size_t len, cap;
} screen_t;

/* Reads from the pty master until needle appears after offset from (or
 * EOF / the deadline); returns the offset just past the needle, or -1. */
static long read_until(int fd, screen_t *s, size_t from, const char *needle, int ms)
{
    for (int waited = 0; waited <= ms; waited += 20) {
        if (s->buf && s->len > from) {
            char *p = memmem(s->buf + from, s->len - from, needle, strlen(needle));
            if (p)
                return (long)(p - s->buf) + (long)strlen(needle);
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n <= 0)
            return -1; /* EIO: the child closed the terminal */
        if (s->len + (size_t)n + 1 > s->cap) {
            s->cap = (s->len + (size_t)n + 1) * 2;
            s->buf = realloc(s->buf, s->cap);
        }
        memcpy(s->buf + s->len, tmp, (size_t)n);
        s->len += (size_t)n;
        s->buf[s->len] = '\0';
    }
    return -1;
}

static pid_t spawn(int *master, bool hold, bool batch, int cols, int rows)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    pid_t pid = forkpty(master, NULL, NULL, &ws);
    if (pid == 0) {
        setenv("LANG", "C", 1);
        unsetenv("LC_ALL");
        unsetenv("LC_CTYPE");
        unsetenv("NO_COLOR");
        _exit(child_main(hold, batch));
    }
    return pid;
}

static int finish(int master, pid_t pid, screen_t *s)
{
    int status = -1;
    read_until(master, s, 0, "\001never\001", 15000); /* drain until EOF */
    close(master);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static void test_pause_resize_quit(void)
{
    int master;
    screen_t s = {0};
    pid_t pid = spawn(&master, false, false, 100, 30);
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    /* the first frame: alternate screen, hidden cursor, both slots */
    long at = read_until(master, &s, 0, "\033[?1049h", 15000);
    CHECK(at > 0);
    CHECK(read_until(master, &s, 0, "J2", 15000) > 0);
    CHECK(read_until(master, &s, 0, "waiting for a board", 15000) > 0);
    CHECK(read_until(master, &s, 0, "live-st", 1000) > 0);
    CHECK(read_until(master, &s, 0, "LOT-9", 1000) > 0);
    CHECK(strstr(s.buf, "\033[?25l") != NULL);
    /* Tab selects J1, p pauses it */
    size_t mark = s.len;
    CHECK(write(master, "\t", 1) == 1);
    CHECK(read_until(master, &s, mark, "[J1]", 15000) > 0);
    mark = s.len;
    CHECK(write(master, "p", 1) == 1);
    CHECK(read_until(master, &s, mark, "PAUSED", 15000) > 0);
    /* a resize: SIGWINCH, a cleared screen drawn for 60 columns */
    mark = s.len;
    struct winsize ws = {.ws_row = 20, .ws_col = 60};
    ioctl(master, TIOCSWINSZ, &ws);
    CHECK(read_until(master, &s, mark, "\033[2J", 15000) > 0);
    CHECK(read_until(master, &s, mark, "\033[20;1H", 15000) > 0);
    /* q: stop, finish, quit */
    mark = s.len;
    CHECK(write(master, "q", 1) == 1);
    int st = finish(master, pid, &s);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(s.buf && strstr(s.buf + mark, "\033[?1049l") != NULL);
    CHECK(s.buf && strstr(s.buf + mark, "\033[?25h") != NULL);
    CHECK_CONTAINS(s.buf + mark, "CHILD closed=1 termios=SAME sigints=0");
    /* the final table on the normal screen names the slots */
    CHECK_CONTAINS(s.buf + mark, "J1");
    CHECK_CONTAINS(s.buf + mark, "stop");
    free(s.buf);
}

static void test_ctrl_c_goes_to_caller(void)
{
    int master;
    screen_t s = {0};
    pid_t pid = spawn(&master, false, false, 80, 24);
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    CHECK(read_until(master, &s, 0, "waiting for a board", 15000) > 0);
    size_t mark = s.len;
    CHECK(write(master, "\x03", 1) == 1);
    int st = finish(master, pid, &s);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_CONTAINS(s.buf + mark, "interrupt: taking no new boards");
    CHECK_CONTAINS(s.buf + mark, "CHILD closed=1 termios=SAME sigints=1");
    free(s.buf);
}

static void test_hold_batch_retry(void)
{
    /* batch: nothing answers on the ports, both boards fail, the station
     * finishes by itself; with hold the result stays up, r retries */
    int master;
    screen_t s = {0};
    pid_t pid = spawn(&master, true, true, 80, 24);
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    CHECK(read_until(master, &s, 0, "F A I L", 30000) > 0);
    CHECK(read_until(master, &s, 0, "FINISHED", 30000) > 0);
    CHECK(read_until(master, &s, 0, "failed 2", 30000) > 0);
    usleep(200 * 1000);
    CHECK(waitpid(pid, NULL, WNOHANG) == 0);  /* held */
    /* r without a selection asks which slot */
    size_t mark = s.len;
    CHECK(write(master, "r", 1) == 1);
    CHECK(read_until(master, &s, mark, "retry which slot?", 15000) > 0);
    CHECK(write(master, "J2\r", 3) == 3);
    CHECK(read_until(master, &s, mark, "retrying", 15000) > 0);
    /* it fails again: three failed attempts, finished again */
    CHECK(read_until(master, &s, mark, "failed 3", 30000) > 0);
    CHECK(read_until(master, &s, mark, "FINISHED", 30000) > 0);
    mark = s.len;
    CHECK(write(master, "q", 1) == 1);
    int st = finish(master, pid, &s);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_CONTAINS(s.buf + mark, "CHILD closed=1 termios=SAME");
    CHECK_CONTAINS(s.buf + mark, "FAIL");
    free(s.buf);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    signal(SIGPIPE, SIG_IGN);
    RUN(test_pause_resize_quit);
    RUN(test_ctrl_c_goes_to_caller);
    RUN(test_hold_batch_retry);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary();
}

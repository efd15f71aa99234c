/*
 * test_persist.c - espsim's --persist (issue 17 item 4), black-box: the test
 * starts the built espsim (unpaced, TCP only, --control, --accept-any-stub)
 * and speaks SLIP to two ESP32 boards with its own encoder (host.h).
 *
 *  (a) board 0 (--persist 0:keep): power-on banner and ROM SYNC value
 *      0x20120707 on the first connection; a stub is uploaded (one RAM word),
 *      answers SYNC with 0, switches to 460800; after a new TCP connection
 *      it answers SYNC with 0 at once (no banner, no new upload), the RAM
 *      word reads back and 'state 0' says mode=stub baud=460800;
 *  (b) board 1 (default power-on): the same steps, and the reconnection
 *      brings the banner and the ROM back (SYNC value 0x20120707, 115200);
 *  (c) 'replug 0' powers board 0 off: the next connection finds the ROM;
 *  (d) --persist with bad syntax or an unknown board exits 2.
 * usage: test_persist PATH-TO-ESPSIM
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "host.h"

#define ROM_SYNC_VALUE 0x20120707u
#define RAM_ADDR 0x3FFB0000u
#define RAM_WORD 0xC0DEDB0Bu
enum { OP_MEM_BEGIN = 0x05, OP_MEM_END = 0x06, OP_MEM_DATA = 0x07, OP_SYNC = 0x08,
       OP_READ_REG = 0x0A, OP_CHANGE_BAUD = 0x0F };

static const char *espsim;
static pid_t sim_pid = -1;
static int sim_out = -1, sim_in = -1;
static int ports[2];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One line of espsim's stdout within `timeout` s. */
static bool sim_line(char *line, size_t cap, double timeout)
{
    static char buf[4096];
    static size_t len;
    double end = now() + timeout;
    for (;;) {
        char *nl = memchr(buf, '\n', len);
        if (nl) {
            size_t k = (size_t)(nl - buf);
            snprintf(line, cap, "%.*s", (int)k, buf);
            memmove(buf, nl + 1, len - k - 1);
            len -= k + 1;
            return true;
        }
        double left = end - now();
        struct pollfd p = {.fd = sim_out, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            return false;
        ssize_t r = read(sim_out, buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            return false;
        len += (size_t)r;
    }
}

static int start_sim(void)
{
    int out[2], in[2];
    char *argv[] = {(char *)espsim, "--boards", "esp32:2", "--no-pty", "--tcp-base", "0",
                    "--control", "--accept-any-stub", "--persist", "*:keep", "--persist",
                    "1:power-on", NULL};
    if (pipe(out) != 0 || pipe(in) != 0)
        return -1;
    sim_pid = fork();
    if (sim_pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(null, 2);
        close(in[1]);
        close(out[0]);
        execv(espsim, argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    sim_out = out[0];
    sim_in = in[1];
    char line[512];
    while (sim_line(line, sizeof line, 10)) {
        int b, port;
        char *t = strstr(line, "tcp=127.0.0.1:");
        if (sscanf(line, "board %d ", &b) == 1 && t && b >= 0 && b < 2 &&
            sscanf(t + 14, "%d", &port) == 1)
            ports[b] = port;
        if (!strcmp(line, "espsim ready"))
            return 0;
    }
    return -1;
}

static void stop_sim(void)
{
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        waitpid(sim_pid, NULL, 0);
        sim_pid = -1;
    }
}

/* A control command; returns the first line starting with `want` (or ""). */
static const char *sim_cmd(const char *cmd, const char *want)
{
    static char found[256];
    char l[256];
    size_t n = strlen(cmd);
    found[0] = '\0';
    if (write(sim_in, cmd, n) != (ssize_t)n)
        return found;
    while (sim_line(l, sizeof l, 3)) {
        if (!found[0] && !strncmp(l, want, strlen(want)))
            snprintf(found, sizeof found, "%s", l);
        if (!strncmp(l, "ok ", 3) || !strncmp(l, "error", 5))
            break;
    }
    return found;
}

/* ---- a host connection -------------------------------------------------- */

typedef host_conn_t conn_t;

static bool host_connect(conn_t *c, int board)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ports[board])};
    int one = 1;
    memset(c, 0, sizeof *c);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return connect(c->fd, (struct sockaddr *)&a, sizeof a) == 0;
}

/* Closes the connection and waits until espsim has seen it go. */
static void host_close(conn_t *c)
{
    close(c->fd);
    c->fd = -1;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static void send_cmd(conn_t *c, uint8_t op, const uint8_t *d, size_t n, uint32_t chk)
{
    uint8_t pkt[256], enc[520];
    pkt[0] = 0x00;
    pkt[1] = op;
    pkt[2] = (uint8_t)n;
    pkt[3] = (uint8_t)(n >> 8);
    put32(pkt + 4, chk);
    memcpy(pkt + 8, d, n);
    size_t k = slip(pkt, 8 + n, enc);
    if (write(c->fd, enc, k) != (ssize_t)k)
        fprintf(stderr, "short write\n");
}

/* Sends op and waits for its reply; returns the value field, or -1. */
static int64_t command(conn_t *c, uint8_t op, const uint8_t *d, size_t n, uint32_t chk)
{
    uint8_t f[256];
    double end = now() + 2;
    send_cmd(c, op, d, n, chk);
    for (;;) {
        size_t k;
        while ((k = host_next_frame(c, f, sizeof f)) > 0)
            if (k >= 10 && f[0] == 0x01 && f[1] == op)
                return f[8] == 0 ? (int64_t)le32(f + 4) : -1;
        if (now() >= end)
            return -1;
        host_pump(c, 0.01);
    }
}

static int64_t sync_value(conn_t *c)
{
    uint8_t d[36];
    d[0] = 0x07;
    d[1] = 0x07;
    d[2] = 0x12;
    d[3] = 0x20;
    memset(d + 4, 0x55, 32);
    int64_t v = command(c, OP_SYNC, d, sizeof d, 0);
    host_pump(c, 0.05); /* the 7 further SYNC replies */
    c->dec = c->len;
    return v;
}

static bool saw(const conn_t *c, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= c->len; i++)
        if (!memcmp(c->raw + i, text, n))
            return true;
    return false;
}

/* MEM_BEGIN/MEM_DATA (one word at RAM_ADDR)/MEM_END(0, entry): the stub
 * persona (--accept-any-stub) greets with OHAI. */
static void upload_stub(conn_t *c)
{
    uint8_t d[20];
    put32(d, 4);
    put32(d + 4, 1);
    put32(d + 8, 4);
    put32(d + 12, RAM_ADDR);
    CHECK_EQ(command(c, OP_MEM_BEGIN, d, 16, 0), ROM_SYNC_VALUE);
    put32(d, 4);
    put32(d + 4, 0);
    put32(d + 8, 0);
    put32(d + 12, 0);
    put32(d + 16, RAM_WORD);
    uint8_t x = 0xEF;
    for (int i = 16; i < 20; i++)
        x ^= d[i];
    CHECK_EQ(command(c, OP_MEM_DATA, d, 20, x), ROM_SYNC_VALUE);
    put32(d, 0);
    put32(d + 4, 0x40080000u);
    CHECK_EQ(command(c, OP_MEM_END, d, 8, 0), ROM_SYNC_VALUE);
    host_pump(c, 0.1);
    CHECK(saw(c, "OHAI"));
    c->dec = c->len;
}

/* First connection, stub up, 460800; closes; reconnects. */
static void run_stub_then_reconnect(int board, conn_t *c)
{
    uint8_t d[8];
    CHECK(host_connect(c, board));
    host_pump(c, 0.1);
    CHECK(saw(c, "waiting for download"));
    CHECK_EQ(sync_value(c), ROM_SYNC_VALUE);
    upload_stub(c);
    CHECK_EQ(sync_value(c), 0);
    put32(d, 460800);
    put32(d + 4, 115200);
    CHECK_EQ(command(c, OP_CHANGE_BAUD, d, 8, 0), 0);
    host_pump(c, 0.05);
    host_close(c);
    CHECK(host_connect(c, board));
    host_pump(c, 0.1);
}

static void test_keep(void)
{
    static conn_t c;
    char cmd[32];
    uint8_t d[4];
    run_stub_then_reconnect(0, &c);
    CHECK(!saw(&c, "waiting for download")); /* no power-on banner */
    CHECK_EQ(sync_value(&c), 0);            /* the stub still answers */
    put32(d, RAM_ADDR);
    CHECK_EQ(command(&c, OP_READ_REG, d, 4, 0), RAM_WORD);
    snprintf(cmd, sizeof cmd, "state 0\n");
    CHECK_CONTAINS(sim_cmd(cmd, "state 0"), "mode=stub baud=460800");
    CHECK_CONTAINS(sim_cmd(cmd, "state 0"), "persist=keep");
    host_close(&c);
}

static void test_power_on(void)
{
    static conn_t c;
    run_stub_then_reconnect(1, &c);
    CHECK(saw(&c, "waiting for download"));
    CHECK_EQ(sync_value(&c), ROM_SYNC_VALUE);
    CHECK_CONTAINS(sim_cmd("state 1\n", "state 1"), "mode=rom baud=115200");
    CHECK_CONTAINS(sim_cmd("state 1\n", "state 1"), "persist=power-on");
    host_close(&c);
}

static void test_replug_powers_on(void)
{
    static conn_t c;
    CHECK_CONTAINS(sim_cmd("replug 0\n", "ok"), "ok replug 0");
    CHECK(host_connect(&c, 0));
    host_pump(&c, 0.1);
    CHECK(saw(&c, "waiting for download"));
    CHECK_EQ(sync_value(&c), ROM_SYNC_VALUE);
    host_close(&c);
}

static int run_status(const char *spec)
{
    pid_t pid = fork();
    int st;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execl(espsim, espsim, "--boards", "esp32:1", "--no-pty", "--persist", spec,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    return -1;
}

static void test_bad_option(void)
{
    CHECK_EQ(run_status("0:sometimes"), 2);
    CHECK_EQ(run_status("keep"), 2);
    CHECK_EQ(run_status("x:keep"), 2);
    CHECK_EQ(run_status("3:keep"), 2);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_persist PATH-TO-ESPSIM\n");
        return 2;
    }
    espsim = argv[1];
    signal(SIGPIPE, SIG_IGN);
    if (start_sim() != 0) {
        fprintf(stderr, "espsim did not start\n");
        stop_sim();
        return 1;
    }
    RUN(test_keep);
    RUN(test_power_on);
    RUN(test_replug_powers_on);
    stop_sim();
    RUN(test_bad_option);
    return check_summary();
}

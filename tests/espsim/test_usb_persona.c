/*
 * test_usb_persona.c - espsim's per-board USB persona (--usb), black-box:
 * the test starts the built espsim (unpaced, TCP only, --verbose, --control)
 * and speaks SLIP to its boards itself (its own encoder, nothing from src/).
 * Time is espsim's monotonic clock, the same the test reads, so the
 * watchdog deadlines are checked with a margin of a few hundred ms.
 *
 *  (a) a C3 with --usb 0:jtag=1 resets after ~1 s: banner with
 *      rst:0x10 (RTCWDT_RTC_RESET) and a normal boot, then the app runs
 *      (chatter, SYNC unanswered, control 'state' says mode=app);
 *  (b) after the six disarm writes the same kind of board answers SYNC and
 *      READ_REG for 2.5 s; a WDTCONFIG0 write while locked is ignored; the
 *      watchdog-reset sequence then resets it into the app, and a reconnect
 *      (power-on) brings the download mode and the armed watchdogs back;
 *  (c) disarming only the RTC WDT, or only the super WDT, still resets;
 *  (d) an S3 with --usb 0:otg ignores a 0x1800-byte MEM_DATA or 0x1000-byte
 *      FLASH_DATA block and answers 0x800-byte ones (a board without --usb
 *      answers the big block);
 *  (e) GPIO_STRAP has SPI_BOOT (bit 3) set; WRITE_REG honours its mask on
 *      RTC_CNTL_OPTION1;
 *  (f) the watchdog-reset sequence: reset banner and app (no SYNC); with the
 *      force-download bit set first, back in download mode (SYNC answered);
 *      also on a P4 (OTG, bit 0x4) and a C6 without --usb;
 *  (g) --usb refused for a chip without that peripheral (exit 2, message
 *      naming the chip) and for bad syntax.
 * usage: test_usb_persona PATH-TO-ESPSIM
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

#define NBOARDS 8
#define WDT_KEY 0x50D83AA1u
#define C3_SWD_KEY 0x8F1D312Au

/* C3 */
#define C3_CONFIG0 0x60008090u
#define C3_CONFIG1 0x60008094u
#define C3_WPROTECT 0x600080A8u
#define C3_SWD_CONF 0x600080ACu
#define C3_SWD_WPROTECT 0x600080B0u
/* S3 */
#define S3_CONFIG0 0x60008098u
#define S3_CONFIG1 0x6000809Cu
#define S3_WPROTECT 0x600080B0u
#define S3_STRAP 0x60004038u
#define S3_OPTION1 0x6000812Cu
/* C6 */
#define C6_CONFIG0 0x600B1C00u
#define C6_CONFIG1 0x600B1C04u
#define C6_WPROTECT 0x600B1C18u
/* P4 */
#define P4_CONFIG0 0x50116000u
#define P4_CONFIG1 0x50116004u
#define P4_WPROTECT 0x50116018u
#define P4_STRAP 0x500E0038u
#define P4_OPTION1 0x50110008u

enum { OP_FLASH_BEGIN = 0x02, OP_FLASH_DATA = 0x03, OP_MEM_BEGIN = 0x05, OP_MEM_DATA = 0x07,
       OP_SYNC = 0x08, OP_WRITE_REG = 0x09, OP_READ_REG = 0x0A };

static const char *espsim;
static pid_t sim_pid = -1;
static int sim_out = -1, sim_in = -1;
static int ports[NBOARDS];
static char errlog[64] = "/tmp/espsim-usb-XXXXXX";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- espsim process ------------------------------------------------------ */

/* One line from espsim's stdout within `timeout` s; false on timeout/EOF. */
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
    int out[2], in[2], efd;
    char *argv[] = {(char *)espsim, "--boards",
                    "esp32c3:4,esp32s3:1,esp32c3:1,esp32c6:1,esp32p4:1", "--no-pty",
                    "--tcp-base", "0", "--verbose", "--control", "--usb", "0:jtag=1",
                    "--usb", "1:jtag=1", "--usb", "2:jtag=1", "--usb", "3:jtag=1.0",
                    "--usb", "4:otg", "--usb", "7:otg", NULL};
    efd = mkstemp(errlog);
    if (efd < 0 || pipe(out) != 0 || pipe(in) != 0)
        return -1;
    sim_pid = fork();
    if (sim_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(efd, 2);
        close(in[1]);
        close(out[0]);
        execv(espsim, argv);
        _exit(127);
    }
    close(efd);
    close(in[0]);
    close(out[1]);
    sim_out = out[0];
    sim_in = in[1];
    char line[512];
    while (sim_line(line, sizeof line, 10)) {
        int b, port;
        char *t = strstr(line, "tcp=127.0.0.1:");
        if (sscanf(line, "board %d ", &b) == 1 && t && b >= 0 && b < NBOARDS &&
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

/* 'state N' on the control channel: the state line, or "" */
static const char *sim_state(int board)
{
    static char line[256];
    char cmd[32], l[256];
    int n = snprintf(cmd, sizeof cmd, "state %d\n", board);
    line[0] = '\0';
    if (write(sim_in, cmd, (size_t)n) != n)
        return line;
    while (sim_line(l, sizeof l, 3)) {
        if (!strncmp(l, "state ", 6))
            snprintf(line, sizeof line, "%s", l);
        if (!strncmp(l, "ok state", 8) || !strncmp(l, "error", 5))
            break;
    }
    return line;
}

/* Runs espsim with extra args, returns its exit status; stderr into err. */
static int run_sim(const char *const *args, char *err, size_t cap)
{
    int e[2];
    const char *argv[16];
    int n = 0;
    argv[n++] = espsim;
    while (*args && n < 15)
        argv[n++] = *args++;
    argv[n] = NULL;
    if (pipe(e) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(e[1], 2);
        close(e[0]);
        execv(espsim, (char *const *)argv);
        _exit(127);
    }
    close(e[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(e[0], err + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    err[len] = '\0';
    close(e[0]);
    int st;
    /* a refused command line exits at once; anything else is killed */
    for (int i = 0; i < 50; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        sleep_s(0.02);
    }
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    return -1;
}

/* ---- a host connection -------------------------------------------------- */

typedef host_conn_t conn_t;

static conn_t conns[NBOARDS];

static conn_t *connect_board(int b)
{
    conn_t *c = &conns[b];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ports[b])};
    int one = 1;
    if (c->fd > 0)
        close(c->fd);
    memset(c, 0, sizeof *c);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "connect board %d port %d: %s\n", b, ports[b], strerror(errno));
        return c;
    }
    c->t0 = now();
    return c;
}

/* Waits up to `s` for a reply to `op`; returns its frame length (0: none).
 * Other frames are skipped. */
static size_t reply(conn_t *c, uint8_t op, uint8_t *f, size_t cap, double s)
{
    double end = now() + s;
    for (;;) {
        size_t n;
        while ((n = host_next_frame(c, f, cap)) > 0)
            if (n >= 8 && f[0] == 0x01 && f[1] == op)
                return n;
        if (now() >= end)
            return 0;
        host_pump(c, 0.01);
    }
}

/* Drops whatever is queued (the 7 extra SYNC replies, ...). */
static void drain(conn_t *c, double s)
{
    uint8_t f[128];
    host_pump(c, s);
    while (host_next_frame(c, f, sizeof f) > 0) {
    }
    c->dec = c->len;
}

static void send_cmd(conn_t *c, uint8_t op, const uint8_t *d, size_t n, uint32_t chk)
{
    static uint8_t pkt[8 + 0x2000], wire[2 * sizeof pkt + 2];
    pkt[0] = 0;
    pkt[1] = op;
    pkt[2] = (uint8_t)n;
    pkt[3] = (uint8_t)(n >> 8);
    put32(pkt + 4, chk);
    memcpy(pkt + 8, d, n);
    size_t k = slip(pkt, 8 + n, wire);
    for (size_t off = 0; off < k;) {
        ssize_t w = write(c->fd, wire + off, k - off);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

/* ROM reply status byte (4 status bytes after the value). */
static int rom_status(const uint8_t *f, size_t n)
{
    return n >= 10 ? (f[8] ? f[9] : 0) : -1;
}

static bool sync_ok(conn_t *c, double s)
{
    uint8_t d[36], f[64];
    d[0] = d[1] = 0x07;
    d[2] = 0x12;
    d[3] = 0x20;
    memset(d + 4, 0x55, 32);
    drain(c, 0);
    send_cmd(c, OP_SYNC, d, sizeof d, 0);
    bool ok = reply(c, OP_SYNC, f, sizeof f, s) > 0;
    if (ok)
        drain(c, 0.02);
    return ok;
}

static bool read_reg(conn_t *c, uint32_t addr, uint32_t *v)
{
    uint8_t d[4], f[64];
    size_t n;
    put32(d, addr);
    drain(c, 0);
    send_cmd(c, OP_READ_REG, d, 4, 0);
    n = reply(c, OP_READ_REG, f, sizeof f, 0.5);
    if (n < 8 || rom_status(f, n) != 0)
        return false;
    *v = le32(f + 4);
    return true;
}

static bool write_reg(conn_t *c, uint32_t addr, uint32_t val, uint32_t mask)
{
    uint8_t d[16], f[64];
    size_t n;
    put32(d, addr);
    put32(d + 4, val);
    put32(d + 8, mask);
    put32(d + 12, 0);
    drain(c, 0);
    send_cmd(c, OP_WRITE_REG, d, 16, 0);
    n = reply(c, OP_WRITE_REG, f, sizeof f, 0.5);
    return n >= 8 && rom_status(f, n) == 0;
}

/* A data command (MEM_DATA / FLASH_DATA) of `len` payload bytes, seq 0:
 * the ROM status, or -1 when no reply came within `s`. */
static int data_block(conn_t *c, uint8_t op, size_t len, double s)
{
    static uint8_t d[16 + 0x2000];
    uint8_t f[64], x = 0xEF;
    size_t n;
    put32(d, (uint32_t)len);
    memset(d + 4, 0, 12);
    for (size_t i = 0; i < len; i++) {
        d[16 + i] = (uint8_t)(i * 7 + 1);
        x ^= d[16 + i];
    }
    drain(c, 0);
    send_cmd(c, op, d, 16 + len, x);
    n = reply(c, op, f, sizeof f, s);
    return n ? rom_status(f, n) : -1;
}

static int begin(conn_t *c, uint8_t op, uint32_t size, uint32_t blocks, uint32_t blksz,
                 uint32_t addr)
{
    uint8_t d[16], f[64];
    size_t n;
    put32(d, size);
    put32(d + 4, blocks);
    put32(d + 8, blksz);
    put32(d + 12, addr);
    drain(c, 0);
    send_cmd(c, op, d, 16, 0);
    n = reply(c, op, f, sizeof f, 0.5);
    return n ? rom_status(f, n) : -1;
}

/* Where `s` first occurs in what the board sent, or -1. */
static long find(const conn_t *c, const char *s)
{
    const uint8_t *p = memmem(c->raw, c->len, s, strlen(s));
    return p ? (long)(p - c->raw) : -1;
}

/* Waits up to `s` for text `t`; returns the time it was seen, or 0. */
static double wait_text(conn_t *c, const char *t, double s)
{
    double end = now() + s;
    while (find(c, t) < 0) {
        if (now() >= end)
            return 0;
        host_pump(c, 0.005);
    }
    return now();
}

/* esptool's watchdog_reset */
static bool wdt_reset_seq(conn_t *c, uint32_t wprotect, uint32_t config1, uint32_t config0)
{
    bool ok = write_reg(c, wprotect, WDT_KEY, 0xFFFFFFFFu);
    ok = write_reg(c, config1, 2000, 0xFFFFFFFFu) && ok;
    ok = write_reg(c, config0, 1u << 31 | 5u << 28 | 1u << 8 | 2u, 0xFFFFFFFFu) && ok;
    ok = write_reg(c, wprotect, 0, 0xFFFFFFFFu) && ok; /* replied before the reset */
    return ok;
}

static void c3_disarm_rwdt(conn_t *c)
{
    CHECK(write_reg(c, C3_WPROTECT, WDT_KEY, 0xFFFFFFFFu));
    CHECK(write_reg(c, C3_CONFIG0, 0, 0xFFFFFFFFu));
    CHECK(write_reg(c, C3_WPROTECT, 0, 0xFFFFFFFFu));
}

static void c3_disarm_swd(conn_t *c)
{
    CHECK(write_reg(c, C3_SWD_WPROTECT, C3_SWD_KEY, 0xFFFFFFFFu));
    CHECK(write_reg(c, C3_SWD_CONF, 1u << 31, 0xFFFFFFFFu));
    CHECK(write_reg(c, C3_SWD_WPROTECT, 0, 0xFFFFFFFFu));
}

static conn_t *plain_c3; /* board 5: no --usb, connected for the whole run */

/* ---- tests ------------------------------------------------------------------ */

static void test_jtag_unfed_resets(void)
{
    conn_t *c = connect_board(0);
    uint32_t v = 0;
    CHECK(wait_text(c, "waiting for download", 1.0) > 0);
    CHECK(sync_ok(c, 0.5));
    CHECK(read_reg(c, C3_CONFIG0, &v) && (v & 1u << 31)); /* power-on: enabled */
    CHECK(read_reg(c, C3_SWD_CONF, &v) && !(v & 1u << 31));
    sleep_s(0.6 - (now() - c->t0));
    CHECK(sync_ok(c, 0.3)); /* still in the ROM at 0.6 s */
    double t = wait_text(c, "rst:0x10 (RTCWDT_RTC_RESET)", 2.0);
    CHECK(t > 0);
    if (t > 0) {
        fprintf(stderr, "  jtag=1: reset banner %.3f s after connect\n", t - c->t0);
        CHECK(t - c->t0 >= 0.95 && t - c->t0 <= 1.4);
    }
    host_pump(c, 0.05);
    CHECK(find(c, "ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n"
                  "rst:0x10 (RTCWDT_RTC_RESET),boot:0xc (SPI_FAST_FLASH_BOOT)\r\n") >= 0);
    CHECK(!sync_ok(c, 0.3)); /* the app runs: the loader is gone */
    CHECK(wait_text(c, "app running", 1.0) > 0);
    const char *st = sim_state(0);
    CHECK_CONTAINS(st, "mode=app");
    CHECK_CONTAINS(st, "usb=jtag");
    CHECK_CONTAINS(st, "wdt-resets=1 last-reset=rtcwdt-app");
}

static void test_jtag_disarmed(void)
{
    conn_t *c = connect_board(1);
    uint32_t v = 0;
    int rounds = 0, good = 0;
    CHECK(wait_text(c, "waiting for download", 1.0) > 0);
    CHECK(sync_ok(c, 0.5));
    c3_disarm_rwdt(c);
    c3_disarm_swd(c);
    CHECK(read_reg(c, C3_CONFIG0, &v) && v == 0);
    CHECK(read_reg(c, C3_SWD_CONF, &v) && v == 1u << 31);
    /* locked again: this write is ignored (no reset, value kept) */
    CHECK(write_reg(c, C3_CONFIG0, 0x80000000u, 0xFFFFFFFFu));
    CHECK(read_reg(c, C3_CONFIG0, &v) && v == 0);
    while (now() - c->t0 < 2.5) {
        rounds++;
        good += sync_ok(c, 0.3) && read_reg(c, C3_SWD_CONF, &v) && v == 1u << 31;
        sleep_s(0.2);
    }
    CHECK(rounds >= 8);
    CHECK_EQ(good, rounds);
    CHECK(find(c, "RTCWDT") < 0);
    CHECK_CONTAINS(sim_state(1), "mode=rom");

    /* the register-level watchdog reset works on a jtag board too */
    CHECK(wdt_reset_seq(c, C3_WPROTECT, C3_CONFIG1, C3_CONFIG0));
    CHECK(wait_text(c, "rst:0x10 (RTCWDT_RTC_RESET),boot:0xc (SPI_FAST_FLASH_BOOT)", 0.5) > 0);
    CHECK(!sync_ok(c, 0.3));

    /* a new connection is a power-on reset: ROM, watchdogs armed again */
    c = connect_board(1);
    CHECK(wait_text(c, "rst:0x1 (POWERON),boot:0x4 (DOWNLOAD(USB/UART1))", 1.0) > 0);
    CHECK(sync_ok(c, 0.5));
    CHECK(read_reg(c, C3_CONFIG0, &v) && (v & 1u << 31));
    CHECK(read_reg(c, C3_SWD_CONF, &v) && v == 0);
    CHECK_CONTAINS(sim_state(1), "mode=rom");
}

static void test_jtag_half_disarmed(void)
{
    conn_t *r = connect_board(2), *s = connect_board(3);
    CHECK(wait_text(r, "waiting for download", 1.0) > 0);
    CHECK(wait_text(s, "waiting for download", 1.0) > 0);
    CHECK(sync_ok(r, 0.5));
    CHECK(sync_ok(s, 0.5));
    c3_disarm_rwdt(r); /* RTC WDT off, super WDT still unfed */
    c3_disarm_swd(s);  /* super WDT fed, RTC WDT still on */
    double tr = wait_text(r, "rst:0x10 (RTCWDT_RTC_RESET)", 2.0);
    double ts = wait_text(s, "rst:0x10 (RTCWDT_RTC_RESET)", 2.0);
    CHECK(tr > 0 && tr - r->t0 >= 0.95 && tr - r->t0 <= 1.4);
    CHECK(ts > 0 && ts - s->t0 >= 0.95 && ts - s->t0 <= 1.4);
    CHECK(!sync_ok(r, 0.2));
    CHECK(!sync_ok(s, 0.2));
}

static void test_otg_blocks(void)
{
    conn_t *c = connect_board(4);
    CHECK(wait_text(c, "waiting for download", 1.0) > 0);
    CHECK(sync_ok(c, 0.5));
    CHECK_EQ(begin(c, OP_MEM_BEGIN, 0x2000, 2, 0x1800, 0x40380000u), 0);
    CHECK_EQ(data_block(c, OP_MEM_DATA, 0x1800, 0.3), -1); /* never answered */
    CHECK_EQ(data_block(c, OP_MEM_DATA, 0x800, 0.5), 0);
    CHECK_EQ(begin(c, OP_FLASH_BEGIN, 0x1000, 1, 0x1000, 0x10000), 0);
    CHECK_EQ(data_block(c, OP_FLASH_DATA, 0x1000, 0.3), -1);
    CHECK_EQ(data_block(c, OP_FLASH_DATA, 0x800, 0.5), 0);
    CHECK(sync_ok(c, 0.5)); /* still answering */

    /* a board without --usb takes the big block as before */
    CHECK_EQ(begin(plain_c3, OP_MEM_BEGIN, 0x2000, 2, 0x1800, 0x40380000u), 0);
    CHECK_EQ(data_block(plain_c3, OP_MEM_DATA, 0x1800, 0.5), 0);
}

static void test_otg_registers(void)
{
    conn_t *c = &conns[4];
    uint32_t v = 0;
    CHECK(read_reg(c, S3_STRAP, &v) && (v & 0x8));
    CHECK(read_reg(c, S3_OPTION1, &v) && v == 0);
    CHECK(write_reg(c, S3_OPTION1, 0xF0000001u, 0xFFFFFFFFu));
    CHECK(read_reg(c, S3_OPTION1, &v) && v == 0xF0000001u);
    CHECK(write_reg(c, S3_OPTION1, 0, 0x1)); /* only bit 0 changes */
    CHECK(read_reg(c, S3_OPTION1, &v) && v == 0xF0000000u);
    CHECK(write_reg(c, S3_OPTION1, 0x0F, 0x3)); /* bits 0-1 from the value */
    CHECK(read_reg(c, S3_OPTION1, &v) && v == 0xF0000003u);
    CHECK(write_reg(c, S3_OPTION1, 0, 0xFFFFFFFFu));
    CHECK(read_reg(c, S3_OPTION1, &v) && v == 0);
}

static void test_wdt_reset(void)
{
    conn_t *c = &conns[4];
    uint32_t v = 0;
    /* into the app */
    CHECK(wdt_reset_seq(c, S3_WPROTECT, S3_CONFIG1, S3_CONFIG0));
    double t0 = now();
    double t = wait_text(c, "ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n"
                            "rst:0x10 (RTCWDT_RTC_RESET),boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n",
                         0.5);
    CHECK(t > 0 && t - t0 < 0.2);
    CHECK(!sync_ok(c, 0.3));
    CHECK(wait_text(c, "app running", 1.0) > 0);
    CHECK_CONTAINS(sim_state(4), "mode=app baud=115200 usb=otg wdt-resets=1 "
                                 "last-reset=rtcwdt-app");

    /* power-on, force-download bit, reset: back in the download mode */
    c = connect_board(4);
    CHECK(wait_text(c, "waiting for download", 1.0) > 0);
    CHECK(sync_ok(c, 0.5));
    CHECK(read_reg(c, S3_OPTION1, &v) && v == 0);
    CHECK(write_reg(c, S3_OPTION1, 1, 0x1));
    CHECK(wdt_reset_seq(c, S3_WPROTECT, S3_CONFIG1, S3_CONFIG0));
    CHECK(wait_text(c, "rst:0x10 (RTCWDT_RTC_RESET),boot:0x0 (DOWNLOAD(USB/UART0))\r\n"
                       "waiting for download\r\n",
                    0.5) > 0);
    CHECK(find(c, "SPI_FAST_FLASH_BOOT") < 0);
    CHECK(sync_ok(c, 0.5));
    CHECK(read_reg(c, S3_OPTION1, &v) && v == 1); /* survives the WDT reset */
    CHECK_CONTAINS(sim_state(4), "mode=rom baud=115200 usb=otg wdt-resets=2 "
                                 "last-reset=rtcwdt-download");

    /* P4 over OTG: force-download is bit 2 */
    c = connect_board(7);
    CHECK(wait_text(c, "waiting for download", 1.0) > 0);
    CHECK(sync_ok(c, 0.5));
    CHECK(read_reg(c, P4_STRAP, &v) && (v & 0x8));
    CHECK(write_reg(c, P4_OPTION1, 0xFFFFFFFFu, 0x4));
    CHECK(read_reg(c, P4_OPTION1, &v) && v == 0x4);
    CHECK(wdt_reset_seq(c, P4_WPROTECT, P4_CONFIG1, P4_CONFIG0));
    CHECK(wait_text(c, "rst:0x10 (RTCWDT_RTC_RESET),boot:0x0 (DOWNLOAD(USB/UART0/SPI))", 0.5) >
          0);
    CHECK(sync_ok(c, 0.5));

    /* a C6 without --usb: the same register-level reset, into the app */
    c = connect_board(6);
    CHECK(wait_text(c, "waiting for download", 1.0) > 0);
    CHECK(sync_ok(c, 0.5));
    CHECK(wdt_reset_seq(c, C6_WPROTECT, C6_CONFIG1, C6_CONFIG0));
    CHECK(wait_text(c, "rst:0x10 (RTCWDT_RTC_RESET),boot:0xc (SPI_FAST_FLASH_BOOT)", 0.5) > 0);
    CHECK(!sync_ok(c, 0.3));
    CHECK_CONTAINS(sim_state(6), "mode=app baud=115200 usb=none wdt-resets=1");
}

/* Board 5 has no --usb: connected since the start (> 3 s ago), it still
 * answers, and its watchdog registers read as before (0). */
static void test_plain_board_unchanged(void)
{
    uint32_t v = 1;
    CHECK(find(plain_c3, "rst:0x1 (POWERON),boot:0x4 (DOWNLOAD(USB/UART1))") >= 0);
    CHECK(now() - plain_c3->t0 > 3.2);
    CHECK(sync_ok(plain_c3, 0.5));
    CHECK(read_reg(plain_c3, C3_CONFIG0, &v) && v == 0);
    CHECK(find(plain_c3, "RTCWDT") < 0);
    CHECK_CONTAINS(sim_state(5), "mode=rom baud=115200 usb=none wdt-resets=0 last-reset=power-on");
}

static void test_verbose_trace(void)
{
    char buf[65536];
    FILE *f = fopen(errlog, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    CHECK_CONTAINS(buf, "board 0 watchdog reset (RTC WDT and super WDT not fed over "
                        "USB-Serial/JTAG for 1 s)");
    CHECK_CONTAINS(buf, "board 2 watchdog reset (super WDT not fed");
    CHECK_CONTAINS(buf, "board 3 watchdog reset (RTC WDT not fed");
    CHECK_CONTAINS(buf, "board 1 watchdogs disarmed by the host: no reset");
    CHECK_CONTAINS(buf, "board 4 watchdog reset (RTC WDT enabled by WRITE_REG)");
    CHECK_CONTAINS(buf, "force-download bit set, back in download mode");
    CHECK_CONTAINS(buf, "board 4 USB-OTG: op=0x07 block of 6144 bytes > 0x800 dropped");
    CHECK_CONTAINS(buf, "board 4 USB-OTG: op=0x03 block of 4096 bytes > 0x800 dropped");
    CHECK_CONTAINS(buf, "board 1 WRITE_REG 0x60008090 = 0x80000000 ignored: RTC WDT "
                        "write-protected");
}

static void test_refused(void)
{
    char err[2048];
    const char *a1[] = {"--boards", "esp32:1", "--no-pty", "--usb", "0:jtag", NULL};
    CHECK_EQ(run_sim(a1, err, sizeof err), 2);
    CHECK_CONTAINS(err, "board 0 is an esp32, which has no USB-Serial/JTAG");
    const char *a2[] = {"--boards", "esp32c3:1", "--no-pty", "--usb", "0:otg", NULL};
    CHECK_EQ(run_sim(a2, err, sizeof err), 2);
    CHECK_CONTAINS(err, "board 0 is an esp32c3, which has no USB-OTG");
    const char *a3[] = {"--boards", "esp32c3:1,esp8266:1", "--no-pty", "--usb", "*:jtag=2",
                        NULL};
    CHECK_EQ(run_sim(a3, err, sizeof err), 2);
    CHECK_CONTAINS(err, "board 1 is an esp8266");
    const char *a4[] = {"--boards", "esp32c3:1", "--no-pty", "--usb", "0:jtag=0", NULL};
    CHECK_EQ(run_sim(a4, err, sizeof err), 2);
    CHECK_CONTAINS(err, "bad --usb 0:jtag=0");
    const char *a5[] = {"--boards", "esp32c3:1", "--no-pty", "--usb", "0:uart", NULL};
    CHECK_EQ(run_sim(a5, err, sizeof err), 2);
    const char *a6[] = {"--boards", "esp32c3:1", "--no-pty", "--usb", "3:jtag", NULL};
    CHECK_EQ(run_sim(a6, err, sizeof err), 2);
    CHECK_CONTAINS(err, "no board 3");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-ESPSIM\n", argv[0]);
        return 2;
    }
    espsim = argv[1];
    signal(SIGPIPE, SIG_IGN);
    alarm(60);
    if (start_sim() != 0) {
        fprintf(stderr, "cannot start %s\n", espsim);
        stop_sim();
        return 1;
    }
    plain_c3 = connect_board(5);
    wait_text(plain_c3, "waiting for download", 1.0);
    RUN(test_jtag_unfed_resets);
    RUN(test_jtag_disarmed);
    RUN(test_jtag_half_disarmed);
    RUN(test_otg_blocks);
    RUN(test_otg_registers);
    RUN(test_wdt_reset);
    RUN(test_plain_board_unchanged);
    stop_sim();
    RUN(test_verbose_trace);
    unlink(errlog);
    RUN(test_refused);
    return check_summary();
}

/* test_port.c - the port layer on a real uv loop: pty pairs (tty backend),
 * a loopback TCP listener (tcp backend), large transfers with partial
 * writes, baud, modem lines, flush, vanish, peer close, and the open-failure
 * diagnoses (bad spec, not found, not a tty, busy, permission). */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "port_wait.h"
#include "espfab/port.h"
#include "port/port_internal.h"

/* ---- helpers ---- */

typedef struct {
    int master;
    char slave[64];
} pty_pair;

static int make_pty(pty_pair *pp)
{
    int s;
    if (openpty(&pp->master, &s, pp->slave, NULL, NULL) != 0)
        return -1;
    close(s); /* the port opens the slave by path */
    int fl = fcntl(pp->master, F_GETFL);
    fcntl(pp->master, F_SETFL, fl | O_NONBLOCK);
    return 0;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *b = malloc(n);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (uint8_t)(x >> 16);
    }
    return b;
}

/* Runs the loop until *done or the guard fires (a hang guard, not an
 * assertion on speed: it only turns a hang into a failed CHECK). */
static bool guard_fired;
static void on_guard(uv_timer_t *t)
{
    guard_fired = true;
    uv_stop(t->loop);
}
static bool run_until(uv_loop_t *loop, const bool *done)
{
    uv_timer_t guard;
    guard_fired = false;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, on_guard, 20000, 0);
    while (!*done && !guard_fired)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *done;
}

/* Lets the loop run a few idle turns (to see that no extra callback comes). */
static void spin(uv_loop_t *loop, int turns)
{
    for (int i = 0; i < turns; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

static bool closed_flag;
static void on_close(espfab_port_t *p, void *data)
{
    (void)p;
    (void)data;
    closed_flag = true;
}
static void close_port(uv_loop_t *loop, espfab_port_t *p)
{
    closed_flag = false;
    espfab_port_close(p, on_close, NULL);
    run_until(loop, &closed_flag);
}

/* ---- tty transfers ---- */

typedef struct {
    int order[16];
    int status[16];
    int n;
} wlog_t;
static wlog_t wlog;
static int write_ids[16];
static void on_write(espfab_port_t *p, int status, void *data)
{
    (void)p;
    if (wlog.n < 16) {
        wlog.order[wlog.n] = *(int *)data;
        wlog.status[wlog.n] = status;
    }
    wlog.n++;
}

/* The test's side of the pty: a uv_poll on the master collecting bytes and
 * writing a payload. */
typedef struct {
    uv_poll_t poll;
    int fd;
    uint8_t *got;
    size_t ngot, want;
    const uint8_t *out;
    size_t nout, outoff;
    bool done;
} peer_t;

static void peer_cb(uv_poll_t *h, int status, int events)
{
    peer_t *pe = h->data;
    if (status < 0)
        return;
    if (events & UV_READABLE) {
        for (;;) {
            ssize_t n = read(pe->fd, pe->got + pe->ngot, pe->want + 1 - pe->ngot);
            if (n <= 0)
                break;
            pe->ngot += (size_t)n;
        }
    }
    if ((events & UV_WRITABLE) && pe->outoff < pe->nout) {
        ssize_t n = write(pe->fd, pe->out + pe->outoff, pe->nout - pe->outoff);
        if (n > 0)
            pe->outoff += (size_t)n;
    }
    int ev = UV_READABLE | (pe->outoff < pe->nout ? UV_WRITABLE : 0);
    uv_poll_start(h, ev, peer_cb);
    if (pe->ngot >= pe->want)
        pe->done = true;
}

typedef struct {
    uint8_t *buf;
    size_t n, cap;
    int chunks;
    int errors;
    int err_code;
    char detail[256];
    bool done;
    size_t want;
    espfab_port_t *close_on_data; /* close this when data arrives (reentrancy) */
    int close_master_fd;          /* close this fd on first data (vanish test) */
} rlog_t;

static void on_read(espfab_port_t *p, const uint8_t *buf, ssize_t n, const espfab_fault_t *f,
                    void *data)
{
    rlog_t *r = data;
    (void)p;
    if (n < 0) {
        r->errors++;
        r->err_code = (int)n;
        if (f)
            snprintf(r->detail, sizeof(r->detail), "%s", f->detail);
        CHECK(f != NULL);
        CHECK(buf == NULL);
        if (f)
            CHECK_EQ(f->code, n);
        r->done = true;
        return;
    }
    CHECK(n > 0);
    r->chunks++;
    if (r->n + (size_t)n <= r->cap) {
        memcpy(r->buf + r->n, buf, (size_t)n);
    }
    r->n += (size_t)n;
    if (r->close_master_fd >= 0) {
        close(r->close_master_fd);
        r->close_master_fd = -1;
    }
    if (r->n >= r->want)
        r->done = true;
}

static void test_tty_transfer_both_ways(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pty_pair pp;
    CHECK_EQ(make_pty(&pp), 0);
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    int r = port_open_wait(&loop, pp.slave, 115200, &p, &f);
    CHECK_EQ(r, 0);
    if (r) {
        fprintf(stderr, "open: %s\n", f.detail);
        close(pp.master);
        uv_loop_close(&loop);
        return;
    }
    CHECK_EQ(espfab_port_kind(p), ESPFAB_PORT_TTY);
    CHECK_STR(espfab_port_name(p), pp.slave);
    CHECK_EQ(espfab_port_baud(p), 115200);
    CHECK(espfab_port_fd(p) >= 0);
    CHECK(espfab_port_fault(p) == NULL);

    /* port -> master: 5 writes of 60000 bytes, far more than the pty buffer */
    const size_t part = 60000, nparts = 5, total = part * nparts;
    uint8_t *out = pattern(total, 1);
    memset(&wlog, 0, sizeof(wlog));
    for (size_t i = 0; i < nparts; i++) {
        write_ids[i] = (int)i;
        CHECK_EQ(espfab_port_write(p, out + i * part, part, on_write, &write_ids[i]), 0);
    }
    /* nothing is written synchronously: every byte is queued, no callback yet */
    CHECK_EQ(espfab_port_write_queued(p), total);
    CHECK_EQ(wlog.n, 0);
    /* and the reverse direction at the same time */
    uint8_t *in = pattern(total, 2);
    peer_t pe = {
        .fd = pp.master, .got = malloc(total + 1), .want = total, .out = in, .nout = total};
    uv_poll_init(&loop, &pe.poll, pp.master);
    pe.poll.data = &pe;
    uv_poll_start(&pe.poll, UV_READABLE | UV_WRITABLE, peer_cb);
    rlog_t rl = {.buf = malloc(total), .cap = total, .want = total, .close_master_fd = -1};
    CHECK_EQ(espfab_port_read_start(p, on_read, &rl), 0);

    bool both = false;
    uv_timer_t guard;
    guard_fired = false;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, on_guard, 20000, 0);
    while (!(pe.done && rl.done && wlog.n == (int)nparts) && !guard_fired)
        uv_run(&loop, UV_RUN_ONCE);
    both = !guard_fired;
    uv_timer_stop(&guard);
    uv_close((uv_handle_t *)&guard, NULL);
    CHECK(both);

    CHECK_EQ(pe.ngot, total);
    CHECK(memcmp(pe.got, out, total) == 0);
    CHECK_EQ(wlog.n, (int)nparts);
    for (int i = 0; i < (int)nparts && i < wlog.n; i++) {
        CHECK_EQ(wlog.order[i], i);
        CHECK_EQ(wlog.status[i], 0);
    }
    CHECK_EQ(espfab_port_write_queued(p), 0);
    CHECK_EQ(rl.n, total);
    CHECK(rl.n == total && memcmp(rl.buf, in, total) == 0);
    CHECK(rl.chunks > 1);
    CHECK_EQ(rl.errors, 0);

    /* no extra write callbacks on later turns */
    spin(&loop, 5);
    CHECK_EQ(wlog.n, (int)nparts);

    /* zero-length write and a NULL callback are fine */
    CHECK_EQ(espfab_port_write(p, (const uint8_t *)"", 0, on_write, &write_ids[5]), 0);
    CHECK_EQ(espfab_port_write(p, (const uint8_t *)"x", 1, NULL, NULL), 0);
    write_ids[5] = 5;
    while (wlog.n < 6 && uv_run(&loop, UV_RUN_ONCE))
        ;
    CHECK_EQ(wlog.n, 6);

    uv_poll_stop(&pe.poll);
    uv_close((uv_handle_t *)&pe.poll, NULL);
    close_port(&loop, p);
    CHECK(closed_flag);
    close(pp.master);
    CHECK_EQ(uv_loop_close(&loop), 0);
    free(out);
    free(in);
    free(pe.got);
    free(rl.buf);
}

static void test_tty_baud_lines_flush(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pty_pair pp;
    CHECK_EQ(make_pty(&pp), 0);
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &p, &f), 0);
    if (!p)
        return;
    int fd = espfab_port_fd(p);
    struct termios t;
    CHECK_EQ(tcgetattr(fd, &t), 0);
    CHECK_EQ(cfgetospeed(&t), B115200);
    CHECK_EQ(t.c_cflag & CSIZE, CS8);
    CHECK_EQ(t.c_cflag & (PARENB | CSTOPB | CRTSCTS), 0);
    CHECK_EQ(t.c_lflag & (ICANON | ECHO), 0);

    static const struct {
        uint32_t baud;
        speed_t code;
    } rates[] = {{921600, B921600}, {2000000, B2000000}, {460800, B460800}, {3000000, B3000000}};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        CHECK_EQ(espfab_port_set_baud(p, rates[i].baud, &f), 0);
        CHECK_EQ(espfab_port_baud(p), rates[i].baud);
        CHECK_EQ(tcgetattr(fd, &t), 0);
        CHECK_EQ(cfgetospeed(&t), rates[i].code);
    }
    /* a rate without a Bxxxx constant goes through termios2/BOTHER */
    CHECK_EQ(espfab_port_set_baud(p, 1234567, &f), 0);
    CHECK_EQ(espfab_port_baud(p), 1234567);
    uint32_t actual = 0;
    CHECK_EQ(espfab_port__get_baud_other(fd, &actual), 0);
    CHECK_EQ(actual, 1234567);
    CHECK_EQ(espfab_port_set_baud(p, 0, &f), ESPFAB_E_PORT_BAUD_UNSUPPORTED);
    CHECK_EQ(espfab_port_baud(p), 1234567);

    /* ptys have no DTR/RTS: ENOTTY mapped */
    CHECK(!espfab_port_has_modem_lines(p));
    CHECK_EQ(espfab_port_set_lines(p, 1, 1), ESPFAB_E_PORT_NO_MODEM_LINES);
    CHECK_EQ(espfab_port_set_lines(p, 0, -1), ESPFAB_E_PORT_NO_MODEM_LINES);
    CHECK_EQ(espfab_port_set_lines(p, -1, 1), ESPFAB_E_PORT_NO_MODEM_LINES);

    /* flush_input drops what the kernel holds; later bytes arrive */
    CHECK_EQ(write(pp.master, "junkjunk", 8), 8);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    CHECK_EQ(poll(&pfd, 1, 5000), 1);
    int avail = -1;
    CHECK_EQ(ioctl(fd, FIONREAD, &avail), 0);
    CHECK_EQ(avail, 8);
    CHECK_EQ(espfab_port_flush_input(p), 0);
    CHECK_EQ(ioctl(fd, FIONREAD, &avail), 0);
    CHECK_EQ(avail, 0);
    CHECK_EQ(write(pp.master, "good", 4), 4);
    uint8_t buf[64];
    rlog_t rl = {.buf = buf, .cap = sizeof(buf), .want = 4, .close_master_fd = -1};
    CHECK_EQ(espfab_port_read_start(p, on_read, &rl), 0);
    CHECK(run_until(&loop, &rl.done));
    CHECK_EQ(rl.n, 4);
    CHECK_MEM(buf, "good", 4);
    /* read_stop: bytes stay in the kernel until reading starts again */
    CHECK_EQ(espfab_port_read_stop(p), 0);
    CHECK_EQ(write(pp.master, "more", 4), 4);
    spin(&loop, 5);
    CHECK_EQ(rl.n, 4);
    rl.done = false;
    rl.want = 8;
    CHECK_EQ(espfab_port_read_start(p, on_read, &rl), 0);
    CHECK(run_until(&loop, &rl.done));
    CHECK_EQ(rl.n, 8);
    CHECK_MEM(buf + 4, "more", 4);

    close_port(&loop, p);
    close(pp.master);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

static void test_tty_vanish(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pty_pair pp;
    CHECK_EQ(make_pty(&pp), 0);
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &p, &f), 0);
    if (!p)
        return;
    uint8_t buf[64];
    /* the master goes away right after the first bytes are read */
    rlog_t rl = {.buf = buf, .cap = sizeof(buf), .want = 1000, .close_master_fd = pp.master};
    CHECK_EQ(write(pp.master, "hello", 5), 5);
    CHECK_EQ(espfab_port_read_start(p, on_read, &rl), 0);
    /* a write queued behind it completes with the error, before the read cb */
    memset(&wlog, 0, sizeof(wlog));
    CHECK(run_until(&loop, &rl.done));
    CHECK_EQ(rl.n, 5);
    CHECK_EQ(rl.errors, 1);
    CHECK_EQ(rl.err_code, ESPFAB_E_PORT_VANISHED);
    CHECK_CONTAINS(rl.detail, pp.slave);
    spin(&loop, 10);
    CHECK_EQ(rl.errors, 1); /* once */
    const espfab_fault_t *pf = espfab_port_fault(p);
    CHECK(pf != NULL);
    if (pf)
        CHECK_EQ(pf->code, ESPFAB_E_PORT_VANISHED);
    /* afterwards writes and reads are refused with the same code */
    CHECK_EQ(espfab_port_write(p, (const uint8_t *)"x", 1, on_write, &write_ids[0]),
             ESPFAB_E_PORT_VANISHED);
    CHECK_EQ(espfab_port_read_start(p, on_read, &rl), ESPFAB_E_PORT_VANISHED);
    CHECK_EQ(wlog.n, 0);
    close_port(&loop, p);
    CHECK(closed_flag);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

/* A queued write whose device vanishes completes once with the error. */
static void test_tty_vanish_while_writing(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pty_pair pp;
    CHECK_EQ(make_pty(&pp), 0);
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &p, &f), 0);
    if (!p)
        return;
    size_t n = 200000;
    uint8_t *out = pattern(n, 3);
    memset(&wlog, 0, sizeof(wlog));
    write_ids[0] = 0;
    write_ids[1] = 1;
    CHECK_EQ(espfab_port_write(p, out, n, on_write, &write_ids[0]), 0);
    CHECK_EQ(espfab_port_write(p, out, 10, on_write, &write_ids[1]), 0);
    /* let the pty buffer fill, then drop the master */
    for (int i = 0; i < 20 && espfab_port_write_queued(p) == n + 10; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(espfab_port_write_queued(p) < n + 10);
    CHECK(espfab_port_write_queued(p) > 0);
    close(pp.master);
    bool two = false;
    for (int i = 0; i < 1000 && !two; i++) {
        uv_run(&loop, UV_RUN_ONCE);
        two = wlog.n >= 2;
    }
    CHECK_EQ(wlog.n, 2);
    CHECK_EQ(wlog.order[0], 0);
    CHECK_EQ(wlog.order[1], 1);
    CHECK_EQ(wlog.status[0], ESPFAB_E_PORT_VANISHED);
    CHECK_EQ(wlog.status[1], ESPFAB_E_PORT_VANISHED);
    CHECK_EQ(espfab_port_write_queued(p), 0);
    spin(&loop, 5);
    CHECK_EQ(wlog.n, 2);
    close_port(&loop, p);
    CHECK_EQ(uv_loop_close(&loop), 0);
    free(out);
}

/* Closing from inside the read callback: no more callbacks, close cb once. */
static int reentrant_reads;
static void on_read_close(espfab_port_t *p, const uint8_t *buf, ssize_t n, const espfab_fault_t *f,
                          void *data)
{
    (void)buf;
    (void)f;
    (void)n;
    reentrant_reads++;
    espfab_port_close(p, on_close, data);
}

static void test_close_inside_callback(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pty_pair pp;
    CHECK_EQ(make_pty(&pp), 0);
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &p, &f), 0);
    if (!p)
        return;
    memset(&wlog, 0, sizeof(wlog));
    CHECK_EQ(espfab_port_write(p, (const uint8_t *)"abc", 3, on_write, &write_ids[0]), 0);
    CHECK_EQ(write(pp.master, "data", 4), 4);
    reentrant_reads = 0;
    closed_flag = false;
    CHECK_EQ(espfab_port_read_start(p, on_read_close, NULL), 0);
    CHECK(run_until(&loop, &closed_flag));
    CHECK_EQ(reentrant_reads, 1);
    spin(&loop, 5);
    CHECK_EQ(reentrant_reads, 1);
    CHECK(wlog.n <= 1); /* the write may or may not have completed; never twice */
    close(pp.master);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

/* ---- TCP ---- */

static int tcp_listener(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s, 4) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return s;
}

/* Echo peer: whatever arrives is written back. */
typedef struct {
    uv_poll_t poll;
    int fd;
    uint8_t buf[1 << 20];
    size_t head, tail;
} echo_t;

static void echo_cb(uv_poll_t *h, int status, int events)
{
    echo_t *e = h->data;
    if (status < 0)
        return;
    if ((events & UV_READABLE) && e->tail < sizeof(e->buf)) {
        ssize_t n = read(e->fd, e->buf + e->tail, sizeof(e->buf) - e->tail);
        if (n > 0)
            e->tail += (size_t)n;
    }
    if ((events & UV_WRITABLE) && e->head < e->tail) {
        ssize_t n = write(e->fd, e->buf + e->head, e->tail - e->head);
        if (n > 0)
            e->head += (size_t)n;
    }
    uv_poll_start(h, UV_READABLE | (e->head < e->tail ? UV_WRITABLE : 0), echo_cb);
}

static void test_tcp_echo_and_peer_close(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int port = 0;
    int ls = tcp_listener(&port);
    CHECK(ls >= 0);
    char spec[64];
    snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    int r = port_open_wait(&loop, spec, 115200, &p, &f);
    CHECK_EQ(r, 0);
    if (r) {
        fprintf(stderr, "%s\n", f.detail);
        return;
    }
    int as = accept(ls, NULL, NULL);
    CHECK(as >= 0);
    fcntl(as, F_SETFL, fcntl(as, F_GETFL) | O_NONBLOCK);
    CHECK_EQ(espfab_port_kind(p), ESPFAB_PORT_TCP);
    CHECK_STR(espfab_port_name(p), spec);
    CHECK(!espfab_port_has_modem_lines(p));
    CHECK_EQ(espfab_port_set_lines(p, 1, 0), ESPFAB_E_PORT_NO_MODEM_LINES);
    CHECK_EQ(espfab_port_set_baud(p, 921600, &f), 0);
    CHECK_EQ(espfab_port_baud(p), 921600);

    echo_t *e = calloc(1, sizeof(*e));
    e->fd = as;
    uv_poll_init(&loop, &e->poll, as);
    e->poll.data = e;
    uv_poll_start(&e->poll, UV_READABLE, echo_cb);

    size_t total = 600000;
    uint8_t *out = pattern(total, 4);
    memset(&wlog, 0, sizeof(wlog));
    for (int i = 0; i < 3; i++) {
        write_ids[i] = i;
        CHECK_EQ(
            espfab_port_write(p, out + (size_t)i * (total / 3), total / 3, on_write, &write_ids[i]),
            0);
    }
    rlog_t rl = {.buf = malloc(total), .cap = total, .want = total, .close_master_fd = -1};
    CHECK_EQ(espfab_port_read_start(p, on_read, &rl), 0);
    CHECK(run_until(&loop, &rl.done));
    CHECK_EQ(rl.n, total);
    CHECK(rl.n == total && memcmp(rl.buf, out, total) == 0);
    CHECK_EQ(wlog.n, 3);
    CHECK_EQ(wlog.order[0], 0);
    CHECK_EQ(wlog.order[2], 2);

    /* peer close: one callback, PORT_CLOSED, detail names the port */
    rl.done = false;
    uv_poll_stop(&e->poll);
    uv_close((uv_handle_t *)&e->poll, NULL);
    close(as);
    CHECK(run_until(&loop, &rl.done));
    CHECK_EQ(rl.errors, 1);
    CHECK_EQ(rl.err_code, ESPFAB_E_PORT_CLOSED);
    CHECK_CONTAINS(rl.detail, spec);
    spin(&loop, 5);
    CHECK_EQ(rl.errors, 1);
    CHECK_EQ(espfab_port_write(p, out, 1, NULL, NULL), ESPFAB_E_PORT_CLOSED);

    close_port(&loop, p);
    close(ls);
    CHECK_EQ(uv_loop_close(&loop), 0);
    free(out);
    free(rl.buf);
    free(e);
}

static void test_tcp_refused(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int port = 0;
    int ls = tcp_listener(&port);
    CHECK(ls >= 0);
    close(ls); /* nothing listens there now */
    char spec[64];
    snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
    espfab_port_t *p = (espfab_port_t *)&port;
    espfab_fault_t f;
    CHECK_EQ(port_open_wait(&loop, spec, 115200, &p, &f), ESPFAB_E_PORT_TCP_CONNECT);
    CHECK(p == NULL);
    CHECK_EQ(f.code, ESPFAB_E_PORT_TCP_CONNECT);
    CHECK_EQ(f.sys_errno, ECONNREFUSED);
    CHECK_CONTAINS(f.detail, spec);
    CHECK_EQ(port_open_wait(&loop, "tcp://no-such-host.invalid:5000", 115200, &p, &f),
             ESPFAB_E_PORT_TCP_CONNECT);
    CHECK_CONTAINS(f.detail, "no-such-host.invalid");
    CHECK_EQ(uv_loop_close(&loop), 0);
}

/* ---- specs and open failures ---- */

static void test_bad_specs(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const char *const bad[] = {
        "",          "tcp://",          "tcp://host",     "tcp://:80",
        "tcp://h:0", "tcp://h:70000",   "tcp://h:8a",     "rfc2217://h:4000",
        "COM3",      "tcp://[::1]5000", "/dev/tty\nUSB0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        espfab_port_t *p = NULL;
        espfab_fault_t f;
        int r = port_open_wait(&loop, bad[i], 115200, &p, &f);
        if (r != ESPFAB_E_PORT_BAD_SPEC)
            fprintf(stderr, "spec '%s' -> %d %s\n", bad[i], r, f.detail);
        CHECK_EQ(r, ESPFAB_E_PORT_BAD_SPEC);
        CHECK(p == NULL);
        if (bad[i][0] && !strchr(bad[i], '\n'))
            CHECK_CONTAINS(f.detail, bad[i]);
    }
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    CHECK_EQ(port_open_wait(&loop, NULL, 115200, &p, &f), ESPFAB_E_PORT_BAD_SPEC);
    char many[400];
    memset(many, 'a', sizeof(many) - 1);
    many[sizeof(many) - 1] = '\0';
    CHECK_EQ(port_open_wait(&loop, many, 115200, &p, &f), ESPFAB_E_PORT_BAD_SPEC);

    /* good specs parse to what they say */
    espfab_port_kind_t kind;
    char out[256];
    int tport = -1;
    CHECK_EQ(espfab_port__parse_spec("ttyUSB0", &kind, out, sizeof(out), &tport, &f), 0);
    CHECK_EQ(kind, ESPFAB_PORT_TTY);
    CHECK_STR(out, "/dev/ttyUSB0");
    CHECK_EQ(espfab_port__parse_spec("tcp://[::1]:5000", &kind, out, sizeof(out), &tport, &f), 0);
    CHECK_EQ(kind, ESPFAB_PORT_TCP);
    CHECK_STR(out, "::1");
    CHECK_EQ(tport, 5000);
    CHECK_EQ(espfab_port__parse_spec("tcp://localhost:65535", &kind, out, sizeof(out), &tport, &f),
             0);
    CHECK_STR(out, "localhost");
    CHECK_EQ(tport, 65535);
    CHECK_EQ(espfab_port__parse_spec("/dev/serial/by-path/pci-0:1.0-port0", &kind, out, sizeof(out),
                                     &tport, &f),
             0);
    CHECK_STR(out, "/dev/serial/by-path/pci-0:1.0-port0");
    CHECK_EQ(uv_loop_close(&loop), 0);
}

static char tmpdir[64];

static void touch(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    if (fp)
        fclose(fp);
}

static void test_not_found_and_not_tty(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    /* a fake /dev-like directory with two USB ports */
    touch(tmpdir, "ttyUSB0");
    touch(tmpdir, "ttyACM1");
    touch(tmpdir, "notaport");
    char spec[256];
    snprintf(spec, sizeof(spec), "%s/ttyUSB7", tmpdir);
    CHECK_EQ(port_open_wait(&loop, spec, 115200, &p, &f), ESPFAB_E_PORT_NOT_FOUND);
    CHECK(p == NULL);
    CHECK_CONTAINS(f.detail, spec);
    char want[256];
    snprintf(want, sizeof(want), "%s/ttyACM1, %s/ttyUSB0", tmpdir, tmpdir);
    CHECK_CONTAINS(f.detail, want);
    CHECK(strstr(f.detail, "notaport") == NULL);
    CHECK_EQ(f.sys_errno, ENOENT);

    /* glob with no match is a missing port too; with one match it opens that */
    snprintf(spec, sizeof(spec), "%s/ttyXYZ*", tmpdir);
    CHECK_EQ(port_open_wait(&loop, spec, 115200, &p, &f), ESPFAB_E_PORT_NOT_FOUND);
    snprintf(spec, sizeof(spec), "%s/tty*", tmpdir);
    CHECK_EQ(port_open_wait(&loop, spec, 115200, &p, &f), ESPFAB_E_PORT_BAD_SPEC);
    CHECK_CONTAINS(f.detail, "matches 2 ports");

    /* a regular file, a directory and a non-tty character device */
    snprintf(spec, sizeof(spec), "%s/ttyUSB0", tmpdir);
    CHECK_EQ(port_open_wait(&loop, spec, 115200, &p, &f), ESPFAB_E_PORT_NOT_A_TTY);
    CHECK_CONTAINS(f.detail, "regular file");
    CHECK_CONTAINS(f.detail, spec);
    CHECK_EQ(port_open_wait(&loop, tmpdir, 115200, &p, &f), ESPFAB_E_PORT_NOT_A_TTY);
    CHECK_CONTAINS(f.detail, "directory");
    CHECK_EQ(port_open_wait(&loop, "/dev/null", 115200, &p, &f), ESPFAB_E_PORT_NOT_A_TTY);
    CHECK_CONTAINS(f.detail, "/dev/null");
    CHECK(p == NULL);

    /* a USB name in the real /dev: NONE_PRESENT when /dev has no USB tty,
     * else NOT_FOUND naming them */
    bool any = false;
    const char *globs[] = {"/dev/ttyUSB[0-9]*", "/dev/ttyACM[0-9]*"};
    for (int i = 0; i < 2; i++) {
        glob_t g;
        if (glob(globs[i], 0, NULL, &g) == 0) {
            any |= g.gl_pathc > 0;
            globfree(&g);
        }
    }
    int r = port_open_wait(&loop, "/dev/ttyUSB987", 115200, &p, &f);
    CHECK_EQ(r, any ? ESPFAB_E_PORT_NOT_FOUND : ESPFAB_E_PORT_NONE_PRESENT);
    CHECK_CONTAINS(f.detail, "/dev/ttyUSB987");
    /* a missing pty is NOT_FOUND (not "no USB device") */
    CHECK_EQ(port_open_wait(&loop, "/dev/pts/98765", 115200, &p, &f), ESPFAB_E_PORT_NOT_FOUND);
    CHECK_CONTAINS(f.detail, "/dev/pts/98765");
    CHECK_EQ(uv_loop_close(&loop), 0);
}

static void read_comm(char *buf, size_t len)
{
    FILE *fp = fopen("/proc/self/comm", "r");
    buf[0] = '\0';
    if (fp) {
        if (fgets(buf, (int)len, fp))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(fp);
    }
}

static void test_busy(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pty_pair pp;
    CHECK_EQ(make_pty(&pp), 0);
    espfab_port_t *p = NULL, *q = NULL;
    espfab_fault_t f;
    char comm[32], who[80];
    read_comm(comm, sizeof(comm));
    snprintf(who, sizeof(who), "held by %s (pid %d)", comm, (int)getpid());

    /* another espfab (here: this process) holds it */
    CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &p, &f), 0);
    CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &q, &f), ESPFAB_E_PORT_BUSY);
    CHECK(q == NULL);
    CHECK_CONTAINS(f.detail, pp.slave);
    CHECK_CONTAINS(f.detail, who);
    CHECK_EQ(f.sys_errno, EBUSY);
    if (p)
        close_port(&loop, p);
    /* once closed it opens again */
    CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &p, &f), 0);
    if (p)
        close_port(&loop, p);

    /* a serial monitor that set TIOCEXCL on its own fd (root bypasses the
     * kernel check, so espfab must ask with TIOCGEXCL) */
    int other = open(pp.slave, O_RDWR | O_NOCTTY);
    CHECK(other >= 0);
    CHECK_EQ(ioctl(other, TIOCEXCL), 0);
    CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &p, &f), ESPFAB_E_PORT_BUSY);
    CHECK(p == NULL);
    CHECK_CONTAINS(f.detail, who);
    /* a plain flock holder (pyserial exclusive mode, another esptool) */
    CHECK_EQ(ioctl(other, TIOCNXCL), 0);
    CHECK_EQ(flock(other, LOCK_EX), 0);
    CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &p, &f), ESPFAB_E_PORT_BUSY);
    CHECK_CONTAINS(f.detail, who);
    close(other);
    CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &p, &f), 0);
    if (p)
        close_port(&loop, p);
    /* a holder that died with TIOCEXCL set leaves the flag on the pty: with
     * nobody holding the device it is stale, and root takes the port */
    other = open(pp.slave, O_RDWR | O_NOCTTY);
    CHECK_EQ(ioctl(other, TIOCEXCL), 0);
    close(other);
    int excl = 0;
    other = open(pp.slave, O_RDWR | O_NOCTTY); /* root only: a user gets EBUSY */
    if (other >= 0) {
        CHECK_EQ(ioctl(other, TIOCGEXCL, &excl), 0);
        CHECK_EQ(excl, 1);
        close(other);
        CHECK_EQ(port_open_wait(&loop, pp.slave, 115200, &p, &f), 0);
        if (p)
            close_port(&loop, p);
    }
    close(pp.master);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

/* Opens path as an unprivileged user in a child; returns the child's fault. */
static int open_as_nobody(const char *path, espfab_fault_t *out)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        if (geteuid() == 0) {
            struct passwd *pw = getpwnam("nobody");
            uid_t uid = pw ? pw->pw_uid : 65534;
            gid_t gid = pw ? pw->pw_gid : 65534;
            if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
                _exit(3);
        }
        uv_loop_t loop;
        uv_loop_init(&loop);
        espfab_port_t *p = NULL;
        espfab_fault_t f;
        port_open_wait(&loop, path, 115200, &p, &f);
        if (write(fds[1], &f, sizeof(f)) != (ssize_t)sizeof(f))
            _exit(4);
        _exit(p ? 5 : 0);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], out, sizeof(*out));
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return n == (ssize_t)sizeof(*out) && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void test_permission(void)
{
    pty_pair pp;
    CHECK_EQ(make_pty(&pp), 0);
    struct stat st;
    CHECK_EQ(stat(pp.slave, &st), 0);
    struct group *gr = getgrgid(st.st_gid);
    char gname[64];
    snprintf(gname, sizeof(gname), "%s", gr ? gr->gr_name : "?");
    bool root = geteuid() == 0;

    /* group read+write: joining the group is the fix */
    CHECK_EQ(chmod(pp.slave, root ? 0660 : 0000), 0);
    espfab_fault_t f;
    CHECK_EQ(open_as_nobody(pp.slave, &f), 0);
    CHECK_EQ(f.code, ESPFAB_E_PORT_PERMISSION);
    CHECK_CONTAINS(f.detail, pp.slave);
    CHECK_EQ(f.sys_errno, EACCES);
    if (root) {
        char fix[96];
        snprintf(fix, sizeof(fix), "sudo usermod -aG %s $USER", gname);
        CHECK_CONTAINS(f.detail, fix);
        CHECK_CONTAINS(f.detail, "log in again");
        /* owner-only: group membership cannot help; say udev */
        CHECK_EQ(chmod(pp.slave, 0600), 0);
        CHECK_EQ(open_as_nobody(pp.slave, &f), 0);
        CHECK_EQ(f.code, ESPFAB_E_PORT_PERMISSION);
        CHECK_CONTAINS(f.detail, "udev");
        CHECK_CONTAINS(f.detail, gname);
        CHECK_CONTAINS(f.detail, "600");
    }
    close(pp.master);
}

/* The libserialport backend on a real UART, when the machine has one that
 * libserialport knows (a VM's 8250 ttyS0): 8N1, baud, and both modem lines
 * changed by one TIOCMSET, read back with TIOCMGET. */
static void test_serial_backend(void)
{
    const char *dev = "/dev/ttyS0";
    if (access("/sys/class/tty/ttyS0/device", F_OK) != 0 || access(dev, R_OK | W_OK) != 0) {
        printf("test_serial_backend: SKIPPED: no UART at %s on this machine (nothing checked)\n",
               dev);
        return;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    int r = port_open_wait(&loop, dev, 115200, &p, &f);
    CHECK_EQ(r, 0);
    if (r) {
        fprintf(stderr, "%s: %s\n", dev, f.detail);
        uv_loop_close(&loop);
        return;
    }
    CHECK_EQ(espfab_port_kind(p), ESPFAB_PORT_SERIAL);
    CHECK(espfab_port_has_modem_lines(p));
    int fd = espfab_port_fd(p), bits = 0;
    struct termios t;
    CHECK_EQ(tcgetattr(fd, &t), 0);
    CHECK_EQ(cfgetospeed(&t), B115200);
    CHECK_EQ(t.c_cflag & CSIZE, CS8);
    CHECK_EQ(t.c_cflag & (PARENB | CSTOPB | CRTSCTS), 0);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    static const int combos[][2] = {{1, 1}, {0, 1}, {1, 0}, {0, 0}};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(espfab_port_set_lines(p, combos[i][0], combos[i][1]), 0);
        CHECK_EQ(ioctl(fd, TIOCMGET, &bits), 0);
        CHECK_EQ(!!(bits & TIOCM_DTR), combos[i][0]);
        CHECK_EQ(!!(bits & TIOCM_RTS), combos[i][1]);
    }
    CHECK_EQ(espfab_port_set_lines(p, 1, -1), 0); /* DTR only, RTS left */
    CHECK_EQ(ioctl(fd, TIOCMGET, &bits), 0);
    CHECK(bits & TIOCM_DTR);
    CHECK(!(bits & TIOCM_RTS));
    CHECK_EQ(espfab_port_set_lines(p, 0, 0), 0);
    CHECK_EQ(espfab_port_set_baud(p, 57600, &f), 0);
    CHECK_EQ(tcgetattr(fd, &t), 0);
    CHECK_EQ(cfgetospeed(&t), B57600);
    CHECK_EQ(espfab_port_baud(p), 57600);
    /* an 8250 with the PC clock (uartclk 1843200) cannot go above 115200 and
     * the kernel keeps the old rate without an error: espfab must notice */
    r = espfab_port_set_baud(p, 921600, &f);
    CHECK_EQ(tcgetattr(fd, &t), 0);
    if (r == 0) {
        CHECK_EQ(cfgetospeed(&t), B921600);
        CHECK_EQ(espfab_port_baud(p), 921600);
    } else {
        CHECK_EQ(r, ESPFAB_E_PORT_BAUD_UNSUPPORTED);
        CHECK(cfgetospeed(&t) != B921600);
        CHECK_EQ(espfab_port_baud(p), 57600);
        CHECK_CONTAINS(f.detail, "921600");
    }
    espfab_port_t *q = NULL;
    CHECK_EQ(port_open_wait(&loop, dev, 115200, &q, &f), ESPFAB_E_PORT_BUSY);
    close_port(&loop, p);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_port.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_tty_transfer_both_ways);
    RUN(test_tty_baud_lines_flush);
    RUN(test_tty_vanish);
    RUN(test_tty_vanish_while_writing);
    RUN(test_close_inside_callback);
    RUN(test_tcp_echo_and_peer_close);
    RUN(test_tcp_refused);
    RUN(test_bad_specs);
    RUN(test_not_found_and_not_tty);
    RUN(test_busy);
    RUN(test_permission);
    RUN(test_serial_backend);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary();
}

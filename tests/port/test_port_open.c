/* test_port_open.c - the asynchronous port open on a real uv loop, loopback
 * only: a TCP open to a server that never completes the handshake leaves
 * the loop running (a 10 ms timer fires long before the open's verdict),
 * opens succeed by address and by name, a refused port and an unknown name
 * fail with the module's messages, a device open calls back from the loop
 * too, and a cancelled open never calls back and leaves no fd behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "espfab/port.h"
#include "port_wait.h"

typedef struct {
    port_wait_t w;   /* the open's outcome */
    bool tick_first; /* the 10 ms timer fired before the open called back */
    bool ticked;
} race_t;

static void on_open(espfab_port_t *p, const espfab_fault_t *f, void *data)
{
    race_t *r = data;
    port_wait_cb(p, f, &r->w);
}

static void on_tick(uv_timer_t *t)
{
    race_t *r = t->data;
    r->ticked = true;
    if (!r->w.fired)
        r->tick_first = true;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* A few loop turns: close callbacks, a cancelled lookup coming back. */
static void spin(uv_loop_t *loop, int ms)
{
    for (int i = 0; i < ms; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static void close_port(uv_loop_t *loop, espfab_port_t *p)
{
    espfab_port_close(p, NULL, NULL);
    spin(loop, 5);
}

/* A loopback listener (accepting nothing itself); returns its fd. */
static int listener(int *port)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 8) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return ls;
}

/* The server never answers: the loop keeps turning while the open waits,
 * and the open ends with the timeout's fault. */
static void test_loop_not_blocked(void)
{
    stuck_listener_t l;
    int port = stuck_listener_open(&l);
    CHECK(port > 0);
    if (port <= 0)
        return;
    uv_loop_t loop;
    uv_loop_init(&loop);
    race_t r = {0};
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    tick.data = &r;
    uv_timer_start(&tick, on_tick, 10, 0);
    char spec[64];
    snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
    espfab_fault_t f;
    uint64_t t0 = uv_now(&loop);
    CHECK_EQ(espfab_port_open_start(&loop, spec, 115200, on_open, &r, NULL, &f), 0);
    CHECK(!r.w.fired); /* never from inside the start call */
    CHECK(uv_now(&loop) - t0 < 100);
    while (!r.w.fired)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK(r.ticked);
    CHECK(r.tick_first);
    CHECK_EQ(r.w.calls, 1);
    CHECK(r.w.port == NULL);
    CHECK_EQ(r.w.fault.code, ESPFAB_E_PORT_TCP_CONNECT);
    CHECK_EQ(r.w.fault.sys_errno, ETIMEDOUT);
    CHECK_CONTAINS(r.w.fault.detail, spec);
    CHECK_CONTAINS(r.w.fault.detail, "no answer within 3 s");
    uv_update_time(&loop);
    CHECK(uv_now(&loop) - t0 >= 2900);
    uv_close((uv_handle_t *)&tick, NULL);
    spin(&loop, 5);
    CHECK_EQ(uv_loop_close(&loop), 0);
    stuck_listener_close(&l);
}

static void test_tcp_success(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int port = 0;
    int ls = listener(&port);
    CHECK(ls >= 0);
    /* by address, then by name (localhost may give ::1 first, where
     * nothing listens: the next address is tried) */
    static const char *const fmt[] = {"tcp://127.0.0.1:%d", "tcp://localhost:%d"};
    for (int i = 0; i < 2; i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), fmt[i], port);
        race_t r = {0};
        espfab_fault_t f;
        espfab_port_open_req_t *req = NULL;
        CHECK_EQ(espfab_port_open_start(&loop, spec, 115200, on_open, &r, &req, &f), 0);
        CHECK(req != NULL);
        CHECK(!r.w.fired);
        while (!r.w.fired)
            uv_run(&loop, UV_RUN_ONCE);
        CHECK_EQ(r.w.calls, 1);
        CHECK(r.w.port != NULL);
        if (!r.w.port) {
            fprintf(stderr, "%s\n", r.w.fault.detail);
            continue;
        }
        espfab_port_t *p = r.w.port;
        CHECK_EQ(espfab_port_kind(p), ESPFAB_PORT_TCP);
        CHECK_STR(espfab_port_name(p), spec);
        CHECK_EQ(espfab_port_baud(p), 115200);
        /* the port core owns the socket: bytes written reach the server */
        int as = accept(ls, NULL, NULL);
        CHECK(as >= 0);
        CHECK_EQ(espfab_port_write(p, (const uint8_t *)"hi", 2, NULL, NULL), 0);
        spin(&loop, 5);
        char buf[4] = {0};
        CHECK_EQ(read(as, buf, sizeof(buf)), 2);
        CHECK_STR(buf, "hi");
        close(as);
        close_port(&loop, p);
    }
    close(ls);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

static void test_tcp_refused_and_unknown(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int port = 0;
    int ls = listener(&port);
    CHECK(ls >= 0);
    close(ls); /* nothing listens there now */
    char spec[64];
    snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    CHECK_EQ(port_open_wait(&loop, spec, 115200, &p, &f), ESPFAB_E_PORT_TCP_CONNECT);
    CHECK(p == NULL);
    CHECK_EQ(f.sys_errno, ECONNREFUSED);
    CHECK_CONTAINS(f.detail, spec);
    CHECK_CONTAINS(f.detail, "connect failed (nothing listens on that port)");
    CHECK_EQ(port_open_wait(&loop, "tcp://espfab-open-test.invalid:4000", 115200, &p, &f),
             ESPFAB_E_PORT_TCP_CONNECT);
    CHECK(p == NULL);
    CHECK_CONTAINS(f.detail, "espfab-open-test.invalid");
    spin(&loop, 5);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

/* A pty: opened in the start call, handed over from the loop. */
static int open_pty(char *slave, size_t len)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, slave, len) != 0)
        return -1;
    return m;
}

static void test_device_deferred(void)
{
    char slave[128];
    int m = open_pty(slave, sizeof(slave));
    CHECK(m >= 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    race_t r = {0};
    espfab_fault_t f;
    CHECK_EQ(espfab_port_open_start(&loop, slave, 115200, on_open, &r, NULL, &f), 0);
    CHECK(!r.w.fired);
    uv_run(&loop, UV_RUN_ONCE);
    CHECK(r.w.fired);
    CHECK(r.w.port != NULL);
    CHECK_EQ(espfab_port_kind(r.w.port), ESPFAB_PORT_TTY);
    close_port(&loop, r.w.port);
    /* a missing node: the same path, the fault from the loop */
    memset(&r, 0, sizeof(r));
    CHECK_EQ(espfab_port_open_start(&loop, "/dev/ttyESPFAB_NOPE", 115200, on_open, &r, NULL, &f),
             0);
    CHECK(!r.w.fired);
    uv_run(&loop, UV_RUN_ONCE);
    CHECK(r.w.fired);
    CHECK(r.w.port == NULL);
    CHECK_EQ(r.w.fault.code, ESPFAB_E_PORT_NOT_FOUND);
    /* what needs no I/O fails in the start call, without a callback */
    memset(&r, 0, sizeof(r));
    CHECK_EQ(espfab_port_open_start(&loop, "tcp://h:0", 115200, on_open, &r, NULL, &f),
             ESPFAB_E_PORT_BAD_SPEC);
    CHECK_EQ(espfab_port_open_start(&loop, slave, 0, on_open, &r, NULL, &f),
             ESPFAB_E_PORT_BAUD_UNSUPPORTED);
    CHECK_EQ(espfab_port_open_start(&loop, slave, 115200, NULL, &r, NULL, &f),
             ESPFAB_E_INVALID_ARG);
    spin(&loop, 5);
    CHECK(!r.w.fired);
    CHECK_EQ(uv_loop_close(&loop), 0);
    close(m);
}

/* Cancelled while connecting (socket open), while resolving, and a device
 * opened but not yet handed over: no callback, every fd given back. */
static void test_cancel(void)
{
    stuck_listener_t l;
    int port = stuck_listener_open(&l);
    CHECK(port > 0);
    char slave[128];
    int m = open_pty(slave, sizeof(slave));
    CHECK(m >= 0);
    if (port <= 0 || m < 0)
        return;
    uv_loop_t loop;
    uv_loop_init(&loop);
    spin(&loop, 1);
    int base = count_fds();
    char specs[3][128];
    snprintf(specs[0], sizeof(specs[0]), "tcp://127.0.0.1:%d", port);
    snprintf(specs[1], sizeof(specs[1]), "tcp://localhost:%d", port);
    snprintf(specs[2], sizeof(specs[2]), "%s", slave);
    for (int i = 0; i < 3; i++) {
        race_t r = {0};
        espfab_fault_t f;
        espfab_port_open_req_t *req = NULL;
        CHECK_EQ(espfab_port_open_start(&loop, specs[i], 115200, on_open, &r, &req, &f), 0);
        if (i == 0) {
            spin(&loop, 50); /* the connect is in progress on its own socket */
            CHECK(!r.w.fired);
            CHECK_EQ(count_fds(), base + 1);
        } else if (i == 2) {
            CHECK_EQ(count_fds(), base + 1); /* the pty, opened in the start call */
        }
        espfab_port_open_cancel(req);
        if (i == 0)
            CHECK_EQ(count_fds(), base); /* the half-open socket closed at once */
        spin(&loop, 50);
        CHECK(!r.w.fired);
        CHECK_EQ(count_fds(), base);
    }
    espfab_port_open_cancel(NULL);
    CHECK_EQ(uv_loop_close(&loop), 0);
    stuck_listener_close(&l);
    close(m);
}

int main(void)
{
    RUN(test_tcp_success);
    RUN(test_tcp_refused_and_unknown);
    RUN(test_device_deferred);
    RUN(test_cancel);
    RUN(test_loop_not_blocked);
    return check_summary();
}

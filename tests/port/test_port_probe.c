/* test_port_probe.c - the asynchronous presence probe on a real uv loop: a
 * listening loopback socket is there, a closed port is not (refused), a
 * name goes through uv_getaddrinfo, a device node is stat'ed off the loop
 * (and globbed), the callback never fires inside the start call, and a
 * cancelled probe never calls back and leaves the loop closable. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "espfab/port.h"

typedef struct {
    bool fired;
    int calls;
    int status;
    espfab_fault_t fault;
} result_t;

static void on_probe(espfab_port_probe_t *pr, int status, const espfab_fault_t *f, void *data)
{
    (void)pr;
    result_t *r = data;
    r->fired = true;
    r->calls++;
    r->status = status;
    r->fault = *f;
}

static bool guard_fired;
static void on_guard(uv_timer_t *t)
{
    guard_fired = true;
    uv_stop(t->loop);
}

/* A few loop turns (a listener may keep the loop alive: no UV_RUN_DEFAULT),
 * time for close callbacks and a cancelled lookup to come back. */
static void spin(uv_loop_t *loop)
{
    for (int i = 0; i < 20; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

/* Probes spec and runs the loop until the callback (or a 20 s hang guard). */
static result_t probe(uv_loop_t *loop, const char *spec_text, unsigned timeout_ms)
{
    result_t r = {0};
    espfab_port_spec_t spec;
    espfab_fault_t f;
    CHECK_EQ(espfab_port_spec_parse(spec_text, &spec, &f), 0);
    espfab_port_probe_t *pr = NULL;
    CHECK_EQ(espfab_port_probe_start(loop, &spec, timeout_ms, on_probe, &r, &pr, &f), 0);
    CHECK(pr != NULL);
    CHECK(!r.fired); /* never from inside the start call */
    uv_timer_t guard;
    guard_fired = false;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, on_guard, 20000, 0);
    while (!r.fired && !guard_fired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    spin(loop); /* the probe's own handles close */
    CHECK(r.fired);
    CHECK_EQ(r.calls, 1);
    return r;
}

static void on_incoming(uv_stream_t *srv, int status)
{
    (void)srv;
    (void)status; /* left in the backlog: the probe only needs the handshake */
}

/* A loopback listener that accepts nothing (the kernel completes the
 * handshake from its backlog); returns its port. */
static int listen_loopback(uv_loop_t *loop, uv_tcp_t *srv)
{
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(loop, srv);
    CHECK_EQ(uv_tcp_bind(srv, (const struct sockaddr *)&sa, 0), 0);
    CHECK_EQ(uv_listen((uv_stream_t *)srv, 8, on_incoming), 0);
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_tcp_getsockname(srv, (struct sockaddr *)&got, &len);
    return ntohs(((struct sockaddr_in *)&got)->sin_port);
}

/* A port nothing listens on: bound once, then closed. */
static int closed_port(uv_loop_t *loop)
{
    uv_tcp_t t;
    int port = listen_loopback(loop, &t);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return port;
}

static void test_tcp_listening_vs_closed(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t srv;
    char spec[64];
    int port = listen_loopback(&loop, &srv);
    snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
    result_t r = probe(&loop, spec, 0);
    CHECK_EQ(r.status, 0);

    /* a name: resolved with uv_getaddrinfo (localhost may give ::1 first,
     * where nothing listens: the next address is tried) */
    snprintf(spec, sizeof(spec), "tcp://localhost:%d", port);
    r = probe(&loop, spec, 0);
    CHECK_EQ(r.status, 0);
    uv_close((uv_handle_t *)&srv, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);

    port = closed_port(&loop);
    snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
    r = probe(&loop, spec, 0);
    CHECK_EQ(r.status, ESPFAB_E_PORT_TCP_CONNECT);
    CHECK_EQ(r.fault.code, ESPFAB_E_PORT_TCP_CONNECT);
    CHECK_EQ(r.fault.sys_errno, ECONNREFUSED);
    CHECK_CONTAINS(r.fault.detail, spec);
    CHECK_CONTAINS(r.fault.detail, "nothing listens");
    CHECK_EQ(uv_loop_close(&loop), 0); /* every probe freed its handles */
}

static void test_tcp_unknown_name(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* .invalid never resolves (RFC 6761); with no resolver the timeout
     * answers first: either way the server is not there */
    result_t r = probe(&loop, "tcp://espfab-probe-test.invalid:4000", 2000);
    CHECK_EQ(r.status, ESPFAB_E_PORT_TCP_CONNECT);
    CHECK_CONTAINS(r.fault.detail, "espfab-probe-test.invalid");
    CHECK_EQ(uv_loop_close(&loop), 0);
}

static void test_cancel(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t srv;
    int port = listen_loopback(&loop, &srv);
    static const char *const fmt[] = {"tcp://127.0.0.1:%d", "tcp://localhost:%d"};
    for (int i = 0; i < 2; i++) {
        char text[64];
        snprintf(text, sizeof(text), fmt[i], port);
        espfab_port_spec_t spec;
        espfab_fault_t f;
        CHECK_EQ(espfab_port_spec_parse(text, &spec, &f), 0);
        result_t r = {0};
        espfab_port_probe_t *pr = NULL;
        CHECK_EQ(espfab_port_probe_start(&loop, &spec, 0, on_probe, &r, &pr, &f), 0);
        espfab_port_probe_cancel(pr);
        spin(&loop);
        CHECK(!r.fired);
    }
    espfab_port_probe_cancel(NULL);
    uv_close((uv_handle_t *)&srv, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

static void test_device(void)
{
    char dir[] = "/tmp/test_port_probe.XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(false);
        return;
    }
    char a[128], b[128], spec[160];
    snprintf(a, sizeof(a), "%s/ttyUSB0", dir);
    snprintf(b, sizeof(b), "%s/ttyUSB1", dir);
    FILE *fp = fopen(a, "w");
    if (fp)
        fclose(fp);
    uv_loop_t loop;
    uv_loop_init(&loop);
    result_t r = probe(&loop, a, 0);
    CHECK_EQ(r.status, 0);
    r = probe(&loop, b, 0);
    CHECK_EQ(r.status, ESPFAB_E_PORT_NOT_FOUND);
    CHECK_EQ(r.fault.sys_errno, ENOENT);
    CHECK_CONTAINS(r.fault.detail, b);
    snprintf(spec, sizeof(spec), "%s/ttyUSB*", dir);
    r = probe(&loop, spec, 0); /* one match */
    CHECK_EQ(r.status, 0);
    fp = fopen(b, "w");
    if (fp)
        fclose(fp);
    r = probe(&loop, spec, 0); /* two: which one? */
    CHECK_EQ(r.status, ESPFAB_E_PORT_BAD_SPEC);
    snprintf(spec, sizeof(spec), "%s/ttyACM*", dir);
    r = probe(&loop, spec, 0); /* none */
    CHECK_EQ(r.status, ESPFAB_E_PORT_NOT_FOUND);
    CHECK_EQ(uv_loop_close(&loop), 0);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

int main(void)
{
    RUN(test_tcp_listening_vs_closed);
    RUN(test_tcp_unknown_name);
    RUN(test_cancel);
    RUN(test_device);
    return check_summary();
}

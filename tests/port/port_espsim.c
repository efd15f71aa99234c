/* port_espsim.c - espfab_port against espsim: open the simulated board's pty
 * (directly and through a --links-dir symlink) and its TCP port, send a SLIP
 * SYNC and see the ROM's SYNC reply arrive through the read callback; then
 * kill the simulator and check each port fails once with PORT_VANISHED (pty)
 * or PORT_CLOSED (TCP), the detail naming the port as given.
 * usage: port_espsim PATH-TO-ESPSIM */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "port_wait.h"
#include "espfab/port.h"

static pid_t sim_pid = -1;
static char sim_pty[128], sim_tcp[64], links[64];

static int start_espsim(const char *exe)
{
    int out[2];
    if (pipe(out) != 0)
        return -1;
    sim_pid = fork();
    if (sim_pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execl(exe, exe, "--boards", "esp32:2", "--tcp-base", "0", "--links-dir", links,
              (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *fp = fdopen(out[0], "r");
    char line[512];
    bool ready = false;
    while (fgets(line, sizeof(line), fp)) {
        char *p = strstr(line, "pty="), *t = strstr(line, "tcp=");
        /* board 0 is used through its pty, board 1 through TCP (a board
         * serves one host at a time) */
        if (p && t && !strncmp(line, "board 0 ", 8)) {
            sscanf(p + 4, "%127s", sim_pty);
        } else if (p && t && !strncmp(line, "board 1 ", 8)) {
            snprintf(sim_tcp, sizeof(sim_tcp), "tcp://");
            sscanf(t + 4, "%56s", sim_tcp + 6);
        }
        if (strstr(line, "espsim ready")) {
            ready = true;
            break;
        }
    }
    fclose(fp); /* espsim's later stdout goes nowhere; it only prints on dump */
    return ready && sim_pty[0] && sim_tcp[6] ? 0 : -1;
}

/* SYNC: op 0x08, 36 bytes 07 07 12 20 + 32 x 0x55, checksum 0; no byte
 * needs SLIP escaping. */
static size_t sync_frame(uint8_t *b)
{
    size_t n = 0;
    b[n++] = 0xC0;
    b[n++] = 0x00;
    b[n++] = 0x08;
    b[n++] = 36;
    b[n++] = 0;
    for (int i = 0; i < 4; i++)
        b[n++] = 0;
    b[n++] = 0x07;
    b[n++] = 0x07;
    b[n++] = 0x12;
    b[n++] = 0x20;
    for (int i = 0; i < 32; i++)
        b[n++] = 0x55;
    b[n++] = 0xC0;
    return n;
}

typedef struct {
    uint8_t buf[8192];
    size_t n;
    bool got_sync_reply;
    int fails, code;
    char detail[256];
    bool done;
} ctx_t;

static void on_read(espfab_port_t *p, const uint8_t *buf, ssize_t n, const espfab_fault_t *f,
                    void *data)
{
    ctx_t *c = data;
    (void)p;
    if (n < 0) {
        c->fails++;
        c->code = (int)n;
        snprintf(c->detail, sizeof(c->detail), "%s", f ? f->detail : "");
        c->done = true;
        return;
    }
    for (ssize_t i = 0; i < n && c->n < sizeof(c->buf); i++)
        c->buf[c->n++] = buf[i];
    for (size_t i = 0; i + 2 < c->n; i++)
        if (c->buf[i] == 0xC0 && c->buf[i + 1] == 0x01 && c->buf[i + 2] == 0x08)
            c->got_sync_reply = true;
    if (c->got_sync_reply)
        c->done = true;
}

static bool guard;
static void on_guard(uv_timer_t *t)
{
    guard = true;
    uv_stop(t->loop);
}

/* Sends SYNC every turn until the reply comes (the ROM may still be printing
 * its boot banner), with a hang guard. */
static void sync_until_reply(uv_loop_t *loop, espfab_port_t *p, ctx_t *c)
{
    uint8_t frame[64];
    size_t n = sync_frame(frame);
    uv_timer_t t;
    guard = false;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, on_guard, 15000, 0);
    for (int i = 0; !c->done && !guard; i++) {
        if (espfab_port_write_queued(p) == 0)
            CHECK_EQ(espfab_port_write(p, frame, n, NULL, NULL), 0);
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void wait_done(uv_loop_t *loop, ctx_t *c)
{
    uv_timer_t t;
    guard = false;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, on_guard, 15000, 0);
    while (!c->done && !guard)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void test_espsim(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    espfab_fault_t f;
    espfab_port_t *pty = NULL, *tcp = NULL;
    char link[128];
    snprintf(link, sizeof(link), "%s/board-0", links);

    /* the pty through the links-dir symlink (what a station file names) */
    int r = port_open_wait(&loop, link, 115200, &pty, &f);
    CHECK_EQ(r, 0);
    if (r)
        fprintf(stderr, "open %s: %s\n", link, f.detail);
    /* the same board's pty is now held: a second open names this process */
    espfab_port_t *again = NULL;
    CHECK_EQ(port_open_wait(&loop, sim_pty, 115200, &again, &f), ESPFAB_E_PORT_BUSY);
    CHECK_CONTAINS(f.detail, "(pid ");
    r = port_open_wait(&loop, sim_tcp, 115200, &tcp, &f);
    CHECK_EQ(r, 0);
    if (r)
        fprintf(stderr, "open %s: %s\n", sim_tcp, f.detail);
    if (!pty || !tcp)
        return;
    CHECK_EQ(espfab_port_kind(pty), ESPFAB_PORT_TTY);
    CHECK_EQ(espfab_port_kind(tcp), ESPFAB_PORT_TCP);

    static ctx_t cp, ct;
    CHECK_EQ(espfab_port_read_start(pty, on_read, &cp), 0);
    sync_until_reply(&loop, pty, &cp);
    CHECK(cp.got_sync_reply);
    if (!cp.got_sync_reply) {
        fprintf(stderr, "pty got %zu bytes:", cp.n);
        for (size_t i = 0; i < cp.n && i < 120; i++)
            fprintf(stderr, " %02x", cp.buf[i]);
        fprintf(stderr, "\n");
    }
    CHECK_EQ(cp.fails, 0);
    CHECK_EQ(espfab_port_read_start(tcp, on_read, &ct), 0);
    sync_until_reply(&loop, tcp, &ct);
    CHECK(ct.got_sync_reply);
    CHECK_EQ(ct.fails, 0);

    /* the simulator dies: both ports fail once */
    cp.done = ct.done = false;
    kill(sim_pid, SIGKILL);
    waitpid(sim_pid, NULL, 0);
    sim_pid = -1;
    wait_done(&loop, &cp);
    wait_done(&loop, &ct);
    CHECK_EQ(cp.fails, 1);
    CHECK_EQ(cp.code, ESPFAB_E_PORT_VANISHED);
    CHECK_CONTAINS(cp.detail, link);
    CHECK_EQ(ct.fails, 1);
    CHECK_EQ(ct.code, ESPFAB_E_PORT_CLOSED);
    CHECK_CONTAINS(ct.detail, sim_tcp);
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQ(cp.fails, 1);
    CHECK_EQ(ct.fails, 1);
    espfab_port_close(pty, NULL, NULL);
    espfab_port_close(tcp, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: port_espsim PATH-TO-ESPSIM\n");
        return 2;
    }
    snprintf(links, sizeof(links), "/tmp/port_espsim.XXXXXX");
    if (!mkdtemp(links) || start_espsim(argv[1]) != 0) {
        fprintf(stderr, "could not start %s\n", argv[1]);
        if (sim_pid > 0)
            kill(sim_pid, SIGKILL);
        return 1;
    }
    RUN(test_espsim);
    if (sim_pid > 0) {
        kill(sim_pid, SIGKILL);
        waitpid(sim_pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", links);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", links);
    return check_summary();
}

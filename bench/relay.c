/* espfab-benchrelay: a byte-counting TCP relay between a flashing tool and
 * one espsim board, so that espfab and esptool-js are measured in exactly
 * the same way, on the wire, by a program that is neither of them.
 *
 *   espfab-benchrelay --target PORT [--listen PORT] [--out FILE]
 *
 * Listens on 127.0.0.1 (--listen 0 or absent: an ephemeral port), prints
 * "relay port=N" on stdout once listening, accepts ONE connection, and only
 * then connects to 127.0.0.1:TARGET (espsim treats a connection as a
 * power-on reset, so the board's cycle starts when the tool opens the port).
 * Bytes are forwarded both ways through 64 KiB buffers with poll(); a slow
 * reader (espsim paces its reads to the baud rate) back-pressures the
 * writer as it would without the relay.  When either side closes, the
 * other is closed after its pending bytes, and ONE line is written to FILE
 * (stdout without --out), all times CLOCK_MONOTONIC ms (same clock as
 * espfab-benchrun), -1 when the event did not happen:
 *
 *   open_ms close_ms closed_by=host|board up_bytes down_bytes
 *   sync_ms        first SYNC request
 *   stub_ms        first MEM_BEGIN request (stub upload starts)
 *   baud_ms        reply to the last CHANGE_BAUDRATE
 *   begin_ms       first FLASH_BEGIN / FLASH_DEFL_BEGIN request with size > 0
 *   data_last_ms   last FLASH_DATA / FLASH_DEFL_DATA request
 *   write_end_ms   first reply, after the last DATA request, to a command
 *                  that is not DATA (the stub ACKs data before writing it,
 *                  so that reply is the first proof the flash is written)
 *   md5_ms         reply to the last SPI_FLASH_MD5
 *   last_frame_ms  last SLIP frame either way
 *   data_frames data_payload  DATA requests and their payload bytes (the
 *                  compressed stream for DEFL)
 *   ops=OP:N:UP:DOWN,...  per opcode (hex): requests, and the decoded bytes
 *                  of its requests and replies (SLIP escapes not counted)
 *
 * The SLIP parser only decodes the first 24 bytes of each frame (direction,
 * opcode, size, first data word); text outside frames (boot banners) is
 * ignored because it does not start with a direction byte of 0 or 1.
 * Single-threaded, blocking poll(); exits after the one connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 65536
#define HDR 24

enum { OP_FLASH_BEGIN = 0x02, OP_FLASH_DATA = 0x03, OP_MEM_BEGIN = 0x05, OP_SYNC = 0x08,
       OP_CHANGE_BAUD = 0x0F, OP_DEFL_BEGIN = 0x10, OP_DEFL_DATA = 0x11, OP_MD5 = 0x13 };

typedef struct slip {
    uint8_t hdr[HDR];
    size_t len;   /* decoded bytes so far (may exceed HDR) */
    bool esc;
} slip_t;

typedef struct stats {
    double open_ms, close_ms, sync_ms, stub_ms, baud_ms, begin_ms, data_last_ms, write_end_ms, md5_ms,
        last_frame_ms;
    unsigned long long up, down, data_frames, data_payload;
    bool data_pending; /* a DATA request was seen since the last non-DATA reply */
    unsigned long long op_n[256], op_up[256], op_down[256];
    const char *closed_by;
} stats_t;

typedef struct pipe_buf {
    uint8_t b[BUFSZ];
    size_t off, len;
} pipe_buf_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static bool is_data(uint8_t op)
{
    return op == OP_FLASH_DATA || op == OP_DEFL_DATA;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void frame(stats_t *st, bool up, const slip_t *f, double t)
{
    if (f->len < 8)
        return;
    uint8_t dir = f->hdr[0], op = f->hdr[1];
    if ((up && dir != 0) || (!up && dir != 1))
        return;
    st->last_frame_ms = t;
    if (up) {
        st->op_n[op]++;
        st->op_up[op] += f->len;
    } else {
        st->op_down[op] += f->len;
    }
    if (up) {
        if (op == OP_SYNC && st->sync_ms < 0)
            st->sync_ms = t;
        if (op == OP_MEM_BEGIN && st->stub_ms < 0)
            st->stub_ms = t;
        if ((op == OP_FLASH_BEGIN || op == OP_DEFL_BEGIN) && f->len >= 12 && le32(f->hdr + 8) > 0 &&
            st->begin_ms < 0)
            st->begin_ms = t;
        if (is_data(op)) {
            unsigned size = (unsigned)f->hdr[2] | (unsigned)f->hdr[3] << 8;
            st->data_last_ms = t;
            st->data_frames++;
            st->data_payload += size > 16 ? size - 16 : 0;
            st->data_pending = true;
        }
    } else {
        if (op == OP_CHANGE_BAUD)
            st->baud_ms = t;
        if (op == OP_MD5)
            st->md5_ms = t;
        if (!is_data(op) && st->data_pending) {
            st->write_end_ms = t;
            st->data_pending = false;
        }
    }
}

static void parse(stats_t *st, slip_t *s, bool up, const uint8_t *p, size_t n, double t)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == 0xC0) {
            if (s->len > 0)
                frame(st, up, s, t);
            s->len = 0;
            s->esc = false;
            continue;
        }
        if (s->esc) {
            c = c == 0xDC ? 0xC0 : c == 0xDD ? 0xDB : c;
            s->esc = false;
        } else if (c == 0xDB) {
            s->esc = true;
            continue;
        }
        if (s->len < HDR)
            s->hdr[s->len] = c;
        s->len++;
    }
}

static int listen_on(int port, int *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    socklen_t al = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Moves bytes from `from` into `pb`; returns 0, or 1 at EOF/error. */
static int pull(int from, pipe_buf_t *pb, stats_t *st, slip_t *s, bool up)
{
    if (pb->len == 0)
        pb->off = 0;
    size_t room = BUFSZ - pb->off - pb->len;
    if (room == 0)
        return 0;
    ssize_t n = read(from, pb->b + pb->off + pb->len, room);
    if (n <= 0)
        return n == 0 || (errno != EINTR && errno != EAGAIN) ? 1 : 0;
    double t = now_ms();
    parse(st, s, up, pb->b + pb->off + pb->len, (size_t)n, t);
    pb->len += (size_t)n;
    if (up)
        st->up += (unsigned long long)n;
    else
        st->down += (unsigned long long)n;
    return 0;
}

static int push(int to, pipe_buf_t *pb)
{
    ssize_t n = write(to, pb->b + pb->off, pb->len);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : 1;
    pb->off += (size_t)n;
    pb->len -= (size_t)n;
    return 0;
}

static void drain(int to, pipe_buf_t *pb)
{
    while (pb->len > 0 && push(to, pb) == 0) {
    }
}

int main(int argc, char **argv)
{
    int lport = 0, tport = -1;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            lport = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--target") && i + 1 < argc)
            tport = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "usage: espfab-benchrelay --target PORT [--listen PORT] [--out FILE]\n");
            return 2;
        }
    }
    if (tport <= 0) {
        fprintf(stderr, "espfab-benchrelay: --target PORT is required\n");
        return 2;
    }
    int bound = 0;
    int lfd = listen_on(lport, &bound);
    if (lfd < 0) {
        fprintf(stderr, "espfab-benchrelay: cannot listen on 127.0.0.1:%d: %s\n", lport, strerror(errno));
        return 1;
    }
    printf("relay port=%d\n", bound);
    fflush(stdout);

    int host = accept(lfd, NULL, NULL);
    close(lfd);
    if (host < 0) {
        fprintf(stderr, "espfab-benchrelay: accept: %s\n", strerror(errno));
        return 1;
    }
    static stats_t st;
    st = (stats_t){.open_ms = now_ms(), .close_ms = -1, .sync_ms = -1, .stub_ms = -1, .baud_ms = -1,
                  .begin_ms = -1, .data_last_ms = -1, .write_end_ms = -1, .md5_ms = -1, .last_frame_ms = -1,
                  .closed_by = "?"};
    int board = connect_to(tport);
    if (board < 0) {
        fprintf(stderr, "espfab-benchrelay: cannot connect to 127.0.0.1:%d: %s\n", tport, strerror(errno));
        close(host);
        return 1;
    }
    nodelay(host);
    nodelay(board);

    static pipe_buf_t upb, downb; /* host->board, board->host */
    static slip_t sup, sdown;
    for (;;) {
        struct pollfd p[2] = {{.fd = host}, {.fd = board}};
        if (upb.off + upb.len < BUFSZ)
            p[0].events |= POLLIN;
        if (downb.len)
            p[0].events |= POLLOUT;
        if (downb.off + downb.len < BUFSZ)
            p[1].events |= POLLIN;
        if (upb.len)
            p[1].events |= POLLOUT;
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && pull(host, &upb, &st, &sup, true)) {
            st.closed_by = "host";
            drain(board, &upb);
            break;
        }
        if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && pull(board, &downb, &st, &sdown, false)) {
            st.closed_by = "board";
            drain(host, &downb);
            break;
        }
        if ((p[0].revents & POLLOUT) && push(host, &downb)) {
            st.closed_by = "host";
            break;
        }
        if ((p[1].revents & POLLOUT) && push(board, &upb)) {
            st.closed_by = "board";
            break;
        }
    }
    st.close_ms = now_ms();
    close(host);
    close(board);

    FILE *f = out ? fopen(out, "a") : stdout;
    if (!f) {
        fprintf(stderr, "espfab-benchrelay: cannot open %s: %s\n", out, strerror(errno));
        return 1;
    }
    fprintf(f,
            "open_ms=%.3f close_ms=%.3f closed_by=%s up_bytes=%llu down_bytes=%llu sync_ms=%.3f stub_ms=%.3f "
            "baud_ms=%.3f begin_ms=%.3f data_last_ms=%.3f write_end_ms=%.3f md5_ms=%.3f last_frame_ms=%.3f "
            "data_frames=%llu data_payload=%llu ",
            st.open_ms, st.close_ms, st.closed_by, st.up, st.down, st.sync_ms, st.stub_ms, st.baud_ms, st.begin_ms,
            st.data_last_ms, st.write_end_ms, st.md5_ms, st.last_frame_ms, st.data_frames, st.data_payload);
    fprintf(f, "ops=");
    const char *sep = "";
    for (int op = 0; op < 256; op++) {
        if (st.op_n[op] || st.op_down[op]) {
            fprintf(f, "%s%02x:%llu:%llu:%llu", sep, op, st.op_n[op], st.op_up[op], st.op_down[op]);
            sep = ",";
        }
    }
    fprintf(f, "\n");
    if (f != stdout)
        fclose(f);
    return 0;
}

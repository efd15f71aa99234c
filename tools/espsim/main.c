/*
 * espsim: N simulated Espressif boards in one process, each on a raw pty
 * and/or a loopback TCP port.  This file owns the ppoll() event loop, pty/TCP plumbing, baud pacing (per-board byte budgets
 * driven by the loop's timeout, never sleeps), byte-level faults and flash
 * dumps.  The command line lives in opts.c, the protocol in loader.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "espsim.h"
#include "opts.h"

#define PTY_CHECK_S 0.020  /* how often an idle pty is checked for a host */
#define TICK_S 0.001       /* pacing granularity: bytes move in 1 ms batches */
#define BACKLOG_S 0.005    /* budget a continuously busy link may bank */

enum { LINK_NONE, LINK_PTY, LINK_TCP };

typedef struct {
    sim_board_t b;
    int pty;              /* master fd or -1 */
    char pty_path[64];
    bool pty_host;        /* a host has the slave open */
    double pty_next_check;
    int lfd, cfd;         /* TCP listen / connection */
    int port;
    int link;
    uint8_t in[4096];
    size_t in_off, in_len;
    double rx_next, tx_next;
    bool rx_idle, tx_idle; /* the line was quiet: no banked budget */
    double in_ready_at;    /* paced: buffered input counts from then on */
    double next_chatter;
    bool gone;
    bool keep;             /* --persist B:keep: a reconnect is no reset */
} io_t;

static sim_opts_t opt;
static io_t *ios;
static int nios;
static volatile sig_atomic_t sig_dump, sig_quit;

static void on_signal(int s)
{
    if (s == SIGUSR1)
        sig_dump = 1;
    else
        sig_quit = 1;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int open_pty(io_t *io)
{
    int m, s;
    struct termios t;
    if (openpty(&m, &s, NULL, NULL, NULL) < 0) {
        fprintf(stderr, "espsim: openpty: %s\n", strerror(errno));
        return -1;
    }
    /* raw on both sides (incl. -opost) so no byte is ever translated or
     * echoed; the slave keeps its termios while the master stays open */
    if (tcgetattr(s, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(s, TCSANOW, &t);
    }
    if (tcgetattr(m, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(m, TCSANOW, &t);
    }
    snprintf(io->pty_path, sizeof io->pty_path, "%s", ttyname(s));
    close(s); /* the master now reports POLLHUP until a host opens it */
    set_nonblock(m);
    fcntl(m, F_SETFD, FD_CLOEXEC);
    io->pty = m;
    if (opt.links_dir) {
        char p[512];
        snprintf(p, sizeof p, "%s/board-%d", opt.links_dir, io->b.index);
        unlink(p);
        if (symlink(io->pty_path, p) < 0)
            fprintf(stderr, "espsim: symlink %s: %s\n", p, strerror(errno));
    }
    return 0;
}

static int open_tcp(io_t *io, int port)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
                                          SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4) < 0) {
        fprintf(stderr, "espsim: board %d: cannot listen on 127.0.0.1:%d: "
                        "%s\n", io->b.index, port, strerror(errno));
        close(fd);
        return -1;
    }
    io->lfd = fd;
    io->port = port;
    if (port == 0) { /* ephemeral: report what the kernel chose */
        socklen_t al = sizeof a;
        if (getsockname(fd, (struct sockaddr *)&a, &al) == 0)
            io->port = ntohs(a.sin_port);
    }
    return 0;
}

static void link_reset(io_t *io, int link, double now)
{
    io->link = link;
    io->in_off = io->in_len = 0;
    io->b.now = now;
    io->rx_next = io->tx_next = now;
    io->rx_idle = io->tx_idle = true;
    sim_board_reset(&io->b);
    io->next_chatter = now + 0.2;
    if (io->b.verbose)
        fprintf(stderr, "espsim: board %d reset (%s host)\n", io->b.index,
                link == LINK_PTY ? "pty" : "tcp");
}

/* A host connected (TCP) or opened the pty: a power-on reset, except with
 * --persist keep on a powered board, which carries on as it was left (a
 * frame half-received from the previous host is discarded). */
static void link_connect(io_t *io, int link, double now)
{
    if (!io->keep || io->b.mode == SIM_IDLE) {
        link_reset(io, link, now);
        return;
    }
    io->link = link;
    io->in_off = io->in_len = 0;
    io->b.now = now;
    io->rx_next = io->tx_next = now;
    io->rx_idle = io->tx_idle = true;
    memset(&io->b.slip, 0, sizeof io->b.slip);
    io->next_chatter = now + 0.2;
    if (io->b.verbose)
        fprintf(stderr, "espsim: board %d %s host reconnected: kept (mode=%s "
                "baud=%u)\n", io->b.index, link == LINK_PTY ? "pty" : "tcp",
                sim_mode_name(io->b.mode), (unsigned)io->b.baud);
}

/* --persist keep: the host left, the chip runs on.  What it was sending is
 * lost on the line, but what those bytes were to do once sent still
 * happens (a baud switch; the ROM's FLASH_END(0) reboot). */
static void link_leave_running(io_t *io, double now)
{
    bool reboot = false;
    sim_chunk_t *c;
    while ((c = sim_out_peek(&io->b))) {
        if (c->baud_after)
            io->b.baud = c->baud_after;
        reboot = reboot || c->reset_after;
        sim_out_pop(&io->b);
    }
    if (reboot) {
        io->b.now = now;
        sim_board_reset(&io->b);
        sim_out_clear(&io->b); /* its banner goes nowhere */
    }
}

static void link_drop(io_t *io, int link)
{
    if (link == LINK_TCP && io->cfd >= 0) {
        close(io->cfd);
        io->cfd = -1;
    }
    if (link == LINK_PTY)
        io->pty_host = false;
    if (io->link == link) {
        io->link = LINK_NONE;
        if (io->keep)
            link_leave_running(io, sim_now());
        else
            sim_board_detach(&io->b);
        io->in_off = io->in_len = 0;
    }
}

static void unplug(io_t *io)
{
    if (io->b.verbose)
        fprintf(stderr, "espsim: board %d unplugged\n", io->b.index);
    if (io->pty >= 0) {
        close(io->pty); /* the /dev/pts node disappears */
        io->pty = -1;
        if (opt.links_dir) {
            char p[512];
            snprintf(p, sizeof p, "%s/board-%d", opt.links_dir, io->b.index);
            unlink(p);
        }
    }
    if (io->cfd >= 0)
        close(io->cfd);
    if (io->lfd >= 0)
        close(io->lfd);
    io->cfd = io->lfd = -1;
    io->link = LINK_NONE;
    sim_board_detach(&io->b);
    io->gone = true;
}

static int out_fd(const io_t *io)
{
    return io->link == LINK_PTY ? io->pty : io->link == LINK_TCP ? io->cfd
                                                                  : -1;
}

static double byte_time(const io_t *io)
{
    return 10.0 / (double)io->b.baud;
}

/* Applies noise / drop / baud-limit to a chunk about to be sent. */
static void mangle(io_t *io, sim_chunk_t *c)
{
    const sim_faults_t *f = &io->b.faults;
    size_t k = 0;
    bool garbage = f->baud_limit && io->b.baud > f->baud_limit;
    c->mangled = true;
    if (!garbage && f->noise <= 0 && f->drop <= 0)
        return;
    for (size_t i = c->off; i < c->len; i++) {
        uint8_t v = c->data[i];
        if (f->drop > 0 && sim_rand01(&io->b) < f->drop)
            continue;
        if (garbage)
            v = (uint8_t)sim_rand(&io->b);
        else if (f->noise > 0 && sim_rand01(&io->b) < f->noise)
            v ^= (uint8_t)(1u << (sim_rand(&io->b) % 8));
        c->data[c->off + k++] = v;
    }
    c->len = c->off + k;
}

/* Sends what the pacing budget allows; returns the next deadline. */
static double pump_out(io_t *io, double now)
{
    int fd = out_fd(io);
    while (fd >= 0) {
        sim_chunk_t *c = sim_out_peek(&io->b);
        size_t want;
        ssize_t w;
        if (!c) {
            io->tx_idle = true;
            return 1e18;
        }
        if (c->not_before > now) {
            io->tx_idle = true;
            return c->not_before;
        }
        if (!c->mangled)
            mangle(io, c);
        want = c->len - c->off;
        if (io->b.pace) {
            /* bytes leave in batches of at most one tick, each at the time
             * its last byte would have left the UART */
            double bt = byte_time(io);
            size_t batch = (size_t)(TICK_S / bt) + 1, allowed;
            if (io->tx_idle) {
                if (io->tx_next < now)
                    io->tx_next = now;
                io->tx_idle = false;
            } else if (io->tx_next < now - BACKLOG_S) {
                io->tx_next = now - BACKLOG_S;
            }
            if (batch > want)
                batch = want;
            allowed = (size_t)((now - io->tx_next) / bt + 1e-9);
            if (allowed < batch)
                return io->tx_next + (double)batch * bt;
            if (want > allowed)
                want = allowed;
        }
        w = want ? write(fd, c->data + c->off, want) : 0;
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return now + 0.001;
            link_drop(io, io->link); /* EIO: the host went away */
            return 1e18;
        }
        if (io->b.pace)
            io->tx_next += (double)w * byte_time(io);
        c->off += (size_t)w;
        if (c->off < c->len)
            continue;
        if (c->baud_after)
            io->b.baud = c->baud_after;
        if (c->reset_after) {
            sim_out_pop(&io->b);
            link_reset(io, io->link, now);
            continue;
        }
        sim_out_pop(&io->b);
    }
    io->tx_idle = true;
    return 1e18;
}

/* Hands buffered host bytes to the loader; returns the next deadline. */
static double pump_in(io_t *io, double now)
{
    io->b.now = now;
    if (io->b.pace && io->in_off < io->in_len && now < io->in_ready_at)
        return io->in_ready_at;
    if (io->b.frame_pending) {
        sim_loader_poll(&io->b);
        if (io->b.unplug_now) {
            unplug(io);
            return 1e18;
        }
    }
    if (io->in_off < io->in_len) {
        size_t k = sim_loader_feed(&io->b, io->in + io->in_off,
                                   io->in_len - io->in_off);
        io->in_off += k;
        if (io->in_off == io->in_len)
            io->in_off = io->in_len = 0;
        if (io->b.unplug_now) {
            unplug(io);
            return 1e18;
        }
    }
    if (io->b.busy_until > now)
        return io->b.busy_until;
    return 1e18;
}

/* Reads host bytes within the pacing budget. */
static void read_link(io_t *io, int fd, int link, double now)
{
    uint8_t tmp[4096];
    size_t room = sizeof tmp;
    ssize_t r;
    if (link == io->link) {
        room = sizeof io->in - io->in_len;
        if (io->in_off == io->in_len)
            io->in_off = io->in_len = 0;
        room = sizeof io->in - io->in_len;
        if (io->b.pace) {
            double bt = byte_time(io);
            size_t allowed;
            if (io->rx_idle) {
                /* first bytes after a quiet spell: they arrive from now on */
                if (io->rx_next < now)
                    io->rx_next = now;
                io->rx_idle = false;
            } else if (io->rx_next < now - BACKLOG_S) {
                io->rx_next = now - BACKLOG_S;
            }
            /* read up to one tick ahead; the bytes are handed to the loader
             * only when the last of them would have arrived (in_ready_at) */
            allowed = (size_t)((now + TICK_S - io->rx_next) / bt);
            if (allowed < room)
                room = allowed;
        }
        if (room == 0)
            return;
    }
    r = read(fd, link == io->link ? io->in + io->in_len : tmp, room);
    if (r > 0) {
        if (link == io->link) {
            io->in_len += (size_t)r;
            if (io->b.pace) {
                io->rx_next += (double)r * byte_time(io);
                io->in_ready_at = io->rx_next;
                if ((size_t)r < room)
                    io->rx_idle = true; /* drained the kernel buffer */
            }
        }
        return;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    link_drop(io, link); /* EOF, or EIO on a pty whose host closed it */
}

static bool rx_ready(const io_t *io, double now)
{
    if (io->in_len > 0 && io->in_off < io->in_len)
        return false; /* still working through the buffer */
    if (io->b.pace && !io->rx_idle && io->rx_next > now + TICK_S / 2)
        return false;
    return true;
}

static void dump_all(void)
{
    if (!opt.dump_dir)
        return;
    for (int i = 0; i < nios; i++) {
        char p[512], tmp[520];
        FILE *f;
        snprintf(p, sizeof p, "%s/board-%d.bin", opt.dump_dir, i);
        snprintf(tmp, sizeof tmp, "%s.tmp", p);
        f = fopen(tmp, "wb");
        if (!f) {
            fprintf(stderr, "espsim: cannot write %s: %s\n", tmp,
                    strerror(errno));
            continue;
        }
        fwrite(ios[i].b.flash, 1, ios[i].b.flash_size, f);
        fclose(f);
        rename(tmp, p);
    }
    printf("espsim dumped\n");
    fflush(stdout);
}

static void check_pty_host(io_t *io, double now)
{
    struct pollfd p = {.fd = io->pty, .events = POLLIN};
    if (io->pty < 0 || io->pty_host || now < io->pty_next_check)
        return;
    io->pty_next_check = now + PTY_CHECK_S;
    if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) {
        io->pty_host = true;
        if (io->link != LINK_TCP)
            link_connect(io, LINK_PTY, now);
    }
}

/* The board reset itself (a watchdog): host bytes not yet handed to the
 * loader are lost, the line restarts at 115200 with no banked budget. */
static void board_rebooted(io_t *io, double now)
{
    io->in_off = io->in_len = 0;
    io->rx_next = io->tx_next = now;
    io->rx_idle = io->tx_idle = true;
    io->next_chatter = now + 0.2;
}

static void chatter(io_t *io, double now)
{
    char line[80];
    int n;
    if (io->b.mode != SIM_APP || io->link == LINK_NONE ||
        now < io->next_chatter)
        return;
    io->next_chatter = now + 0.5;
    n = snprintf(line, sizeof line, "I (%ld) main: app running, tick\r\n",
                 (long)((now - io->b.busy_until) * 1000) & 0xFFFFF);
    sim_out_raw(&io->b, line, (size_t)n, now);
}

static void print_board(const io_t *io)
{
    char tcp[40] = "-";
    const uint8_t *m = io->b.mac;
    if (io->lfd >= 0)
        snprintf(tcp, sizeof tcp, "127.0.0.1:%d", io->port);
    printf("board %d chip=%s mac=%02x:%02x:%02x:%02x:%02x:%02x pty=%s "
           "tcp=%s\n", io->b.index, io->b.chip->name, m[0], m[1], m[2], m[3],
           m[4], m[5], io->pty >= 0 ? io->pty_path : "-", tcp);
}

/* The board at io (already unplugged) is inserted: a new pty, the same TCP
 * port, its board line printed again. */
static int insert(io_t *io)
{
    io->pty = io->lfd = io->cfd = -1;
    io->pty_host = false;
    io->link = LINK_NONE;
    io->gone = false;
    if (!opt.no_pty && open_pty(io) < 0)
        return -1;
    if (opt.tcp_base >= 0 && open_tcp(io, io->port) < 0)
        return -1;
    print_board(io);
    return 0;
}

/* The same board goes away and comes back (a chip's own USB port
 * re-enumerating after a reset): same MAC, same flash. */
static int replug(io_t *io)
{
    if (!io->gone)
        unplug(io);
    if (io->b.verbose)
        fprintf(stderr, "espsim: board %d back (replugged)\n", io->b.index);
    return insert(io);
}

/* A jig operator swaps the board at position N for a new one. */
static int plug(io_t *io)
{
    static uint32_t generation;
    sim_chip_id_t chip = io->b.chip_id;
    int index = io->b.index;
    sim_usb_t usb = io->b.usb; /* the jig's port, not the board */
    double wdt_s = io->b.usb_wdt_s;
    if (!io->gone)
        unplug(io);
    sim_board_free(&io->b);
    generation++;
    if (sim_board_init(&io->b, index, chip, opt.revs[chip],
                       opt.seed + generation, (uint32_t)opt.flash_size,
                       opt.jedec) < 0)
        return -1;
    io->b.pace = io->b.timing = opt.pace;
    io->b.verbose = opt.verbose;
    io->b.usb = usb;
    io->b.usb_wdt_s = wdt_s;
    return insert(io);
}

static void control_line(char *line)
{
    int n = -1;
    char cmd[16] = "";
    line[strcspn(line, "\r\n")] = '\0';
    if (sscanf(line, "%15s %d", cmd, &n) < 1)
        return;
    if (!strcmp(cmd, "dump")) {
        dump_all();
    } else if (!strcmp(cmd, "state") && n >= 0 && n < nios) {
        const sim_board_t *b = &ios[n].b;
        printf("state %d chip=%s mode=%s baud=%u usb=%s wdt-resets=%d "
               "last-reset=%s persist=%s\n", n, b->chip->name,
               ios[n].gone ? "unplugged" : sim_mode_name(b->mode),
               (unsigned)b->baud, sim_usb_name(b->usb), b->wdt_resets,
               b->last_reset ? b->last_reset : "none",
               ios[n].keep ? "keep" : "power-on");
    } else if (!strcmp(cmd, "replug") && n >= 0 && n < nios) {
        if (replug(&ios[n]) < 0) {
            printf("error replug %d failed\n", n);
            fflush(stdout);
            return;
        }
    } else if ((!strcmp(cmd, "unplug") || !strcmp(cmd, "plug")) && n >= 0 &&
               n < nios) {
        if (cmd[0] == 'u') {
            if (!ios[n].gone)
                unplug(&ios[n]);
        } else if (plug(&ios[n]) < 0) {
            printf("error plug %d failed\n", n);
            fflush(stdout);
            return;
        }
    } else {
        printf("error unknown command '%s' (unplug N, plug N, replug N, "
               "state N, dump)\n", line);
        fflush(stdout);
        return;
    }
    printf("ok %s\n", line);
    fflush(stdout);
}

static void read_control(void)
{
    static char buf[512];
    static size_t len;
    ssize_t r = read(STDIN_FILENO, buf + len, sizeof buf - 1 - len);
    if (r <= 0) {
        opt.control = false; /* stdin closed: no more commands */
        return;
    }
    len += (size_t)r;
    buf[len] = '\0';
    char *nl;
    while ((nl = memchr(buf, '\n', len))) {
        *nl = '\0';
        control_line(buf);
        size_t used = (size_t)(nl - buf) + 1;
        memmove(buf, nl + 1, len - used);
        len -= used;
    }
    if (len == sizeof buf - 1)
        len = 0; /* an over-long line: drop it */
}

/* ---- board set-up ------------------------------------------------------- */

/* count boards of chip c, appended to ios[] */
static int add_boards(int c, int count)
{
    for (int k = 0; k < count; k++, nios++) {
        io_t *io = &ios[nios];
        if (sim_board_init(&io->b, nios, (sim_chip_id_t)c, opt.revs[c],
                           opt.seed, (uint32_t)opt.flash_size,
                           opt.jedec) < 0) {
            fprintf(stderr, "espsim: out of memory\n");
            return 1;
        }
        io->b.pace = io->b.timing = opt.pace;
        io->b.verbose = opt.verbose;
        io->pty = io->lfd = io->cfd = -1;
    }
    return GO_ON;
}

/* --boards CHIP:N[,CHIP:N...] */
static int create_boards(const char *spec)
{
    char *copy = strdup(spec), *save = NULL, *tok;
    int rc = GO_ON;
    for (tok = strtok_r(copy, ",", &save); tok && rc == GO_ON;
         tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        int count = colon ? atoi(colon + 1) : 1, c;
        if (colon)
            *colon = '\0';
        c = sim_chip_by_name(tok);
        if (c < 0 || count <= 0 || nios + count > MAX_BOARDS) {
            fprintf(stderr, "espsim: bad board spec '%s' (chips: esp8266 "
                            "esp32 esp32s2 esp32s3 esp32c2 esp32c3 esp32c6 "
                            "esp32h2 esp32p4; at most %d boards)\n",
                    tok, MAX_BOARDS);
            rc = 2;
        } else {
            rc = add_boards(c, count);
        }
    }
    free(copy);
    return rc;
}

static int apply_faults(void)
{
    for (int f = 0; f < opt.nfaults; f++) {
        const fault_arg_t *fa = &opt.faults[f];
        char msg[160] = "";
        for (int i = 0; i < nios; i++) {
            if (fa->board != -1 && fa->board != i)
                continue;
            if (sim_faults_parse(&ios[i].b.faults, fa->spec, msg,
                                 sizeof msg) < 0) {
                fprintf(stderr, "espsim: --fault %d:%s: %s\n", fa->board,
                        fa->spec, msg);
                return 2;
            }
            if (ios[i].b.faults.slow_flash > 0)
                ios[i].b.timing = true;
        }
        if (fa->board >= nios) {
            fprintf(stderr, "espsim: --fault: no board %d\n", fa->board);
            return 2;
        }
    }
    return GO_ON;
}

static int apply_usb(void)
{
    for (int u = 0; u < opt.nusb; u++) {
        const usb_arg_t *ua = &opt.usbs[u];
        bool jtag = ua->usb == SIM_USB_JTAG;
        if (ua->board >= nios) {
            fprintf(stderr, "espsim: --usb %s: no board %d\n", ua->arg,
                    ua->board);
            return 2;
        }
        for (int i = 0; i < nios; i++) {
            sim_board_t *b = &ios[i].b;
            if (ua->board != -1 && ua->board != i)
                continue;
            if (!(jtag ? b->chip->has_jtag : b->chip->has_otg)) {
                fprintf(stderr, "espsim: --usb %s: board %d is an %s, which "
                        "has no %s (%s)\n", ua->arg, i, b->chip->name,
                        jtag ? "USB-Serial/JTAG" : "USB-OTG download port",
                        jtag ? "jtag: esp32s3 esp32c3 esp32c6 esp32h2 esp32p4"
                             : "otg: esp32s2 esp32s3 esp32p4");
                return 2;
            }
            b->usb = ua->usb;
            b->usb_wdt_s = ua->wdt_s;
        }
    }
    return GO_ON;
}

static int apply_persist(void)
{
    for (int k = 0; k < opt.npersist; k++) {
        const persist_arg_t *pa = &opt.persists[k];
        if (pa->board >= nios) {
            fprintf(stderr, "espsim: --persist: no board %d\n", pa->board);
            return 2;
        }
        for (int i = 0; i < nios; i++)
            if (pa->board == -1 || pa->board == i)
                ios[i].keep = pa->keep;
    }
    return GO_ON;
}

/* The boards of the command line, their faults and USB ports. */
static int setup_boards(void)
{
    int rc;
    ios = calloc(MAX_BOARDS, sizeof *ios);
    if (!ios)
        return 1;
    if ((rc = create_boards(opt.boards)) != GO_ON ||
        (rc = apply_faults()) != GO_ON || (rc = apply_usb()) != GO_ON ||
        (rc = apply_persist()) != GO_ON)
        return rc;
    if (opt.links_dir)
        mkdir(opt.links_dir, 0755);
    if (opt.dump_dir)
        mkdir(opt.dump_dir, 0755);
    return GO_ON;
}

#ifndef ESPSIM_DEFAULT_STUB_DIR
#define ESPSIM_DEFAULT_STUB_DIR \
    "tools/npm/node_modules/esptool-js/lib/targets/stub_flasher"
#endif

/* The known stubs, from the directory the station would use: --stub-dir,
 * else $ESPFAB_STUB_DIR, else the build's esptool-js package. */
static void load_stubs(void)
{
    const char *env = getenv("ESPFAB_STUB_DIR");
    const char *dir = opt.stub_dir ? opt.stub_dir
                      : env && *env ? env : ESPSIM_DEFAULT_STUB_DIR;
    const char *src = opt.stub_dir ? "--stub-dir"
                      : env && *env ? "$ESPFAB_STUB_DIR" : "built-in default";
    char msg[160];
    int n = sim_stubs_load(dir, msg, sizeof msg);
    sim_stubs_accept_any(opt.accept_any_stub);
    if (opt.accept_any_stub)
        fprintf(stderr, "espsim: --accept-any-stub: any MEM_END with an entry "
                "point starts the stub persona\n");
    else if (n <= 0)
        fprintf(stderr, "espsim: no flasher stub could be read from %s (%s: "
                "%s): every uploaded stub runs as garbage (silent); run "
                "tools/setup.sh, give --stub-dir DIR, or --accept-any-stub\n",
                dir, src, msg);
    else if (opt.verbose)
        fprintf(stderr, "espsim: %s from %s (%s)\n", msg, dir, src);
}

/* The signals stay blocked except inside ppoll(), which waits with *empty. */
static void setup_signals(sigset_t *empty)
{
    sigset_t block;
    struct sigaction sa;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigemptyset(empty);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Each board's pty and TCP port, its board line, then 'espsim ready'. */
static int open_links(void)
{
    for (int i = 0; i < nios; i++) {
        io_t *io = &ios[i];
        if (!opt.no_pty && open_pty(io) < 0)
            return 1;
        if (opt.tcp_base >= 0 &&
            open_tcp(io, opt.tcp_base ? opt.tcp_base + i : 0) < 0)
            return 1;
        print_board(io);
    }
    printf("espsim ready\n");
    fflush(stdout);
    return GO_ON;
}

/* ---- the event loop ----------------------------------------------------- */

/* Runs one board's timers and pumps; lowers *deadline to its next one. */
static void service_board(io_t *io, double now, double *deadline)
{
    double d;
    check_pty_host(io, now);
    io->b.now = now;
    if (sim_board_tick(&io->b))
        board_rebooted(io, now);
    d = sim_board_next_timer(&io->b);
    if (d < *deadline)
        *deadline = d;
    if (io->pty >= 0 && !io->pty_host && io->pty_next_check < *deadline)
        *deadline = io->pty_next_check;
    chatter(io, now);
    d = pump_in(io, now);
    if (io->gone)
        return;
    if (d < *deadline)
        *deadline = d;
    d = pump_out(io, now);
    if (d < *deadline)
        *deadline = d;
    if (io->b.pace && io->link != LINK_NONE && !rx_ready(io, now) &&
        io->in_off >= io->in_len && io->rx_next - TICK_S / 2 < *deadline)
        *deadline = io->rx_next - TICK_S / 2;
}

/* What to wait for on fd, the board's connection of kind link. */
static struct pollfd link_poll(io_t *io, int fd, int link, double now)
{
    const sim_chunk_t *c = sim_out_peek(&io->b);
    short ev = 0;
    if (io->link != link || rx_ready(io, now))
        ev |= POLLIN;
    if (io->link == link && c && c->not_before <= now)
        ev |= POLLOUT;
    return (struct pollfd){.fd = fd, .events = ev};
}

/* Fills pfd with every live board's fds (and stdin); returns the count. */
static int poll_set(struct pollfd *pfd, double now)
{
    int np = 0;
    for (int i = 0; i < nios; i++) {
        io_t *io = &ios[i];
        if (io->gone)
            continue;
        if (io->pty >= 0 && io->pty_host)
            pfd[np++] = link_poll(io, io->pty, LINK_PTY, now);
        if (io->lfd >= 0)
            pfd[np++] = (struct pollfd){.fd = io->lfd, .events = POLLIN};
        if (io->cfd >= 0)
            pfd[np++] = link_poll(io, io->cfd, LINK_TCP, now);
    }
    if (opt.control)
        pfd[np++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
    return np;
}

static struct timespec wait_until(double deadline, double now)
{
    struct timespec ts;
    double wait = deadline - now;
    if (wait < 0)
        wait = 0;
    if (wait > 1.0)
        wait = 1.0;
    ts.tv_sec = (time_t)wait;
    ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
    return ts;
}

/* A host connected to the board's TCP port: a power-on reset. */
static void accept_host(io_t *io, double now)
{
    int c = accept4(io->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) {
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (io->cfd >= 0)
            link_drop(io, LINK_TCP); /* the previous host is cut off */
        io->cfd = c;
        link_connect(io, LINK_TCP, now);
    }
}

/* One fd ppoll() reported: stdin or the board it belongs to. */
static void dispatch(const struct pollfd *p, double now)
{
    if (opt.control && p->fd == STDIN_FILENO) {
        read_control();
        return;
    }
    for (int i = 0; i < nios; i++) {
        io_t *io = &ios[i];
        if (io->gone)
            continue;
        if (p->fd == io->pty && io->pty >= 0) {
            if (p->revents & POLLIN)
                read_link(io, io->pty, LINK_PTY, now);
            else if (p->revents & (POLLHUP | POLLERR))
                link_drop(io, LINK_PTY);
            return;
        }
        if (p->fd == io->lfd && io->lfd >= 0) {
            accept_host(io, now);
            return;
        }
        if (p->fd == io->cfd && io->cfd >= 0) {
            if (p->revents & (POLLIN | POLLHUP | POLLERR))
                read_link(io, io->cfd, LINK_TCP, now);
            return;
        }
    }
}

/* Until SIGINT/SIGTERM (or a ppoll() failure). */
static void run_loop(const sigset_t *empty)
{
    struct pollfd *pfd = calloc((size_t)nios * 3 + 1, sizeof *pfd);
    while (!sig_quit) {
        double now = sim_now(), deadline = now + 1.0;
        struct timespec ts;
        int np;
        if (sig_dump) {
            sig_dump = 0;
            dump_all();
        }
        for (int i = 0; i < nios; i++)
            if (!ios[i].gone)
                service_board(&ios[i], now, &deadline);
        np = poll_set(pfd, now);
        ts = wait_until(deadline, now);
        if (ppoll(pfd, (nfds_t)np, &ts, empty) < 0) {
            if (errno == EINTR)
                continue;
            perror("espsim: ppoll");
            break;
        }
        now = sim_now();
        for (int k = 0; k < np; k++)
            if (pfd[k].revents)
                dispatch(&pfd[k], now);
    }
    free(pfd);
}

/* The final dump, the symlinks removed, the boards freed. */
static void shutdown_all(void)
{
    dump_all();
    for (int i = 0; i < nios; i++) {
        if (opt.links_dir && ios[i].pty >= 0) {
            char p[512];
            snprintf(p, sizeof p, "%s/board-%d", opt.links_dir, i);
            unlink(p);
        }
        sim_board_free(&ios[i].b);
    }
    free(ios);
}

int main(int argc, char **argv)
{
    sigset_t empty;
    int rc;
    if ((rc = sim_opts_parse(argc, argv, &opt)) != GO_ON ||
        (rc = setup_boards()) != GO_ON)
        return rc;
    load_stubs();
    setup_signals(&empty);
    if ((rc = open_links()) != GO_ON)
        return rc;
    run_loop(&empty);
    shutdown_all();
    return 0;
}

/*
 * opts.c - espsim's command line (opts.h): --help, every option and its
 * checks, the defaults.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "opts.h"

void sim_usage(FILE *f)
{
    fputs(
"usage: espsim --boards CHIP:N[,CHIP:N...] [options]\n"
"Simulates N Espressif boards (ROM loader + esp-flasher-stub v2) on raw\n"
"ptys and/or loopback TCP ports.  Chips: esp8266 esp32 esp32s2 esp32s3\n"
"esp32c2 esp32c3 esp32c6 esp32h2 esp32p4.\n"
"\n"
"  --boards SPEC        e.g. esp32:2,esp8266:1,esp32s3:1 (boards numbered\n"
"                       from 0 in that order)\n"
"  --tcp-base PORT      board N listens on 127.0.0.1:PORT+N (default: no TCP;\n"
"                       0 = an ephemeral port per board, shown in its line)\n"
"  --no-pty             do not create ptys\n"
"  --links-dir DIR      create symlinks DIR/board-N -> the board's pty\n"
"  --dump-dir DIR       write board N's flash to DIR/board-N.bin on SIGUSR1\n"
"                       and at exit (SIGINT/SIGTERM); prints 'espsim dumped'\n"
"  --pace / --no-pace   realistic timing: bytes take 10/baud s each way and\n"
"                       flash erase/program take time (default: --no-pace)\n"
"  --seed N             varies MACs (byte 3 = N & 0xFF) and fault RNG\n"
"  --flash-size SIZE    e.g. 4MB (default), 2MB, 16MB, 512KB\n"
"  --jedec ID           flash JEDEC id as read by RDID (default 0x1640EF,\n"
"                       capacity byte follows --flash-size)\n"
"  --rev CHIP:MAJ.MIN   chip revision for every board of CHIP (repeatable)\n"
"  --fault B:KIND[=ARG][,KIND...]  faults for board B (or '*' for all);\n"
"                       repeatable.  KIND: silent, normal-boot, no-sync,\n"
"                       noise=RATE, drop=RATE, baud-limit=BAUD,\n"
"                       rom-error=OP:CODE[:NTH] (NTH 0 = every time),\n"
"                       md5-stuck, slow-flash=FACTOR, unplug=BYTES,\n"
"                       secure-download (S2 and later: the ROM's SDM),\n"
"                       sync-miss=N (first N SYNCs after a reset unanswered)\n"
"  --usb B:jtag[=SECONDS] | --usb B:otg\n"
"                       board B (or '*') is reached over the chip's USB;\n"
"                       repeatable, the last one for a board wins.\n"
"                       jtag (USB-Serial/JTAG: esp32s3 esp32c3 esp32c6\n"
"                       esp32h2 esp32p4): the ROM feeds neither the RTC nor\n"
"                       the super watchdog, so SECONDS (default 3) after a\n"
"                       reset into the loader the board resets into its app\n"
"                       unless the host disarmed both (WRITE_REG).\n"
"                       otg (the ROM's USB-OTG CDC: esp32s2 esp32s3\n"
"                       esp32p4): a MEM_DATA/FLASH_DATA/FLASH_DEFL_DATA\n"
"                       block over 0x800 bytes is never answered; GPIO_STRAP\n"
"                       reads SPI_BOOT set.  Every S2/S3/C3/C6/H2/P4 board:\n"
"                       enabling the RTC WDT while unlocked resets it 50 ms\n"
"                       later, into the app or, with RTC_CNTL_OPTION1's\n"
"                       force-download bit set, into the download mode.\n"
"  --persist B:power-on|keep\n"
"                       what a host connecting to board B (or '*') finds;\n"
"                       repeatable, the last one for a board wins.\n"
"                       power-on (default): every TCP connection and every\n"
"                       pty open is a power-on reset.  keep: a reconnect\n"
"                       finds the chip as it was left (mode, stub, baud,\n"
"                       RAM, flash); only the first connection, or one\n"
"                       after 'unplug'/'replug', powers it on\n"
"  --stub-dir DIR       the esptool-js stub JSON files (either naming\n"
"                       scheme; default $ESPFAB_STUB_DIR, else the build's\n"
"                       esptool-js package): MEM_END starts the stub persona\n"
"                       only when RAM holds one of them exactly (text, data,\n"
"                       entry); anything else runs as garbage (silent)\n"
"  --accept-any-stub    any MEM_END with an entry point starts the stub\n"
"  --verbose            command trace per board on stderr\n"
"  --control            read commands on stdin, one per line: 'unplug N'\n"
"                       (the board vanishes: pty removed, TCP closed and\n"
"                       no longer accepting), 'plug N' (a NEW board is\n"
"                       inserted at position N: fresh flash, next MAC,\n"
"                       no faults; its board line is printed again),\n"
"                       'replug N' (the SAME board leaves and comes back,\n"
"                       as a chip's own USB port does when it resets),\n"
"                       'dump' (like SIGUSR1), 'state N' (prints 'state N\n"
"                       chip=.. mode=rom|stub|app|idle|hung baud=.. usb=..\n"
"                       wdt-resets=K last-reset=..' first).  Each command\n"
"                       is answered with 'ok CMD' or 'error ...' on stdout.\n"
"  --help               this text\n"
"\n"
"Output: one line per board\n"
"  board N chip=NAME mac=xx:xx:xx:xx:xx:xx pty=PATH|- tcp=127.0.0.1:PORT|-\n"
"then 'espsim ready'.  A host opening the pty or connecting to the TCP port\n"
"is a power-on reset (unless --persist B:keep and the board is powered):\n"
"boot banner, ROM download mode, 115200 baud.\n",
        f);
}

static long parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0)
        return -1;
    if (strcasecmp(end, "MB") == 0 || strcasecmp(end, "M") == 0)
        v *= 1024 * 1024;
    else if (strcasecmp(end, "KB") == 0 || strcasecmp(end, "K") == 0)
        v *= 1024;
    else if (*end)
        return -1;
    return (long)v;
}

const char *sim_usb_name(sim_usb_t u)
{
    return u == SIM_USB_JTAG ? "jtag" : u == SIM_USB_OTG ? "otg" : "none";
}

/* "B:jtag[=SECONDS]" or "B:otg"; returns 0 or -1 (message printed). */
static int parse_usb(const char *v, usb_arg_t *u)
{
    const char *colon = strchr(v, ':');
    char *end;
    u->arg = v;
    u->wdt_s = 3.0;
    if (!colon)
        goto bad;
    if (v[0] == '*' && colon == v + 1) {
        u->board = -1;
    } else {
        long k = strtol(v, &end, 10);
        if (end != colon || end == v || k < 0 || k >= MAX_BOARDS)
            goto bad;
        u->board = (int)k;
    }
    if (!strcmp(colon + 1, "otg")) {
        u->usb = SIM_USB_OTG;
        return 0;
    }
    if (strncmp(colon + 1, "jtag", 4) != 0)
        goto bad;
    u->usb = SIM_USB_JTAG;
    if (colon[5] == '\0')
        return 0;
    if (colon[5] != '=')
        goto bad;
    u->wdt_s = strtod(colon + 6, &end);
    if (end == colon + 6 || *end || !(u->wdt_s > 0) || u->wdt_s > 1e6)
        goto bad;
    return 0;
bad:
    fprintf(stderr, "espsim: bad --usb %s (want B:jtag[=SECONDS] or B:otg, "
                    "B = board number or '*', SECONDS > 0)\n", v);
    return -1;
}

/* ---- the command line --------------------------------------------------- */

static bool takes_value(const char *a)
{
    static const char *const with_value[] = {
        "--boards", "--tcp-base", "--dump-dir", "--links-dir", "--seed",
        "--flash-size", "--jedec", "--rev", "--fault", "--usb", "--stub-dir",
        "--persist"};
    for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++)
        if (!strcmp(a, with_value[i]))
            return true;
    return false;
}

static int opt_flash_size(sim_opts_t *o, const char *v)
{
    o->flash_size = parse_size(v);
    if (o->flash_size < 65536 || o->flash_size > 128L * 1024 * 1024 ||
        (o->flash_size & (o->flash_size - 1))) {
        fprintf(stderr, "espsim: bad --flash-size %s (power of two, "
                        "64KB..128MB)\n", v);
        return 2;
    }
    return GO_ON;
}

static int opt_rev(sim_opts_t *o, const char *v)
{
    char name[32];
    int maj, min, c;
    if (sscanf(v, "%31[^:]:%d.%d", name, &maj, &min) != 3 ||
        (c = sim_chip_by_name(name)) < 0) {
        fprintf(stderr, "espsim: bad --rev %s (want CHIP:MAJ.MIN)\n", v);
        return 2;
    }
    o->revs[c] = maj * 100 + min;
    return GO_ON;
}

static int opt_fault(sim_opts_t *o, const char *v)
{
    char *colon;
    if (o->nfaults == MAX_OPT_ARGS || !(colon = strchr(v, ':'))) {
        fprintf(stderr, "espsim: bad --fault %s (want B:KIND...)\n", v);
        return 2;
    }
    o->faults[o->nfaults].board = v[0] == '*' ? -1 : atoi(v);
    o->faults[o->nfaults].spec = colon + 1;
    o->nfaults++;
    return GO_ON;
}

/* --persist B:power-on|keep, B = board number or '*' */
static int opt_persist(sim_opts_t *o, const char *v)
{
    const char *colon = strchr(v, ':');
    persist_arg_t *p = &o->persists[o->npersist];
    char *end;
    if (o->npersist == MAX_OPT_ARGS || !colon)
        goto bad;
    if (v[0] == '*' && colon == v + 1) {
        p->board = -1;
    } else {
        long k = strtol(v, &end, 10);
        if (end != colon || end == v || k < 0 || k >= MAX_BOARDS)
            goto bad;
        p->board = (int)k;
    }
    if (!strcmp(colon + 1, "keep"))
        p->keep = true;
    else if (!strcmp(colon + 1, "power-on"))
        p->keep = false;
    else
        goto bad;
    o->npersist++;
    return GO_ON;
bad:
    fprintf(stderr, "espsim: bad --persist %s (want B:power-on or B:keep, "
                    "B = board number or '*')\n", v);
    return 2;
}

static int opt_usb(sim_opts_t *o, const char *v)
{
    if (o->nusb == MAX_OPT_ARGS) {
        fprintf(stderr, "espsim: too many --usb options\n");
        return 2;
    }
    if (parse_usb(v, &o->usbs[o->nusb]) < 0)
        return 2;
    o->nusb++;
    return GO_ON;
}

/* One option a with its value v (NULL unless takes_value(a)). */
static int parse_option(sim_opts_t *o, const char *a, const char *v)
{
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        sim_usage(stdout);
        return 0;
    } else if (!strcmp(a, "--boards")) {
        o->boards = v;
    } else if (!strcmp(a, "--tcp-base")) {
        o->tcp_base = atoi(v);
        if (o->tcp_base < 0 || o->tcp_base > 65535) {
            fprintf(stderr, "espsim: bad --tcp-base %s\n", v);
            return 2;
        }
    } else if (!strcmp(a, "--no-pty")) {
        o->no_pty = true;
    } else if (!strcmp(a, "--dump-dir")) {
        o->dump_dir = v;
    } else if (!strcmp(a, "--links-dir")) {
        o->links_dir = v;
    } else if (!strcmp(a, "--pace") || !strcmp(a, "--no-pace")) {
        o->pace = !strcmp(a, "--pace");
    } else if (!strcmp(a, "--seed")) {
        o->seed = (uint32_t)strtoul(v, NULL, 0);
    } else if (!strcmp(a, "--flash-size")) {
        return opt_flash_size(o, v);
    } else if (!strcmp(a, "--jedec")) {
        o->jedec = (uint32_t)strtoul(v, NULL, 0);
    } else if (!strcmp(a, "--rev")) {
        return opt_rev(o, v);
    } else if (!strcmp(a, "--fault")) {
        return opt_fault(o, v);
    } else if (!strcmp(a, "--usb")) {
        return opt_usb(o, v);
    } else if (!strcmp(a, "--persist")) {
        return opt_persist(o, v);
    } else if (!strcmp(a, "--stub-dir")) {
        o->stub_dir = v;
    } else if (!strcmp(a, "--accept-any-stub")) {
        o->accept_any_stub = true;
    } else if (!strcmp(a, "--control")) {
        o->control = true;
    } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
        o->verbose = true;
    } else {
        fprintf(stderr, "espsim: unknown option %s (see --help)\n", a);
        return 2;
    }
    return GO_ON;
}

/* Fills *o from argv; returns GO_ON, or the exit status (--help: 0). */
int sim_opts_parse(int argc, char **argv, sim_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->tcp_base = -1;
    o->flash_size = 4L * 1024 * 1024;
    for (int i = 0; i < SIM_CHIP_COUNT; i++)
        o->revs[i] = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int rc;
        if (takes_value(a)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "espsim: %s needs a value\n", a);
                return 2;
            }
            v = argv[++i];
        }
        if ((rc = parse_option(o, a, v)) != GO_ON)
            return rc;
    }
    if (!o->boards) {
        sim_usage(stderr);
        return 2;
    }
    if (!o->jedec) { /* Winbond, capacity byte from the flash size */
        int code = 0;
        while ((1L << code) < o->flash_size)
            code++;
        o->jedec = 0x40EFu | (uint32_t)code << 16;
    }
    return GO_ON;
}

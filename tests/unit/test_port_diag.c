/* test_port_diag.c - the open-failure diagnoses with injected inputs (fake
 * /proc and /dev trees, gathered stat facts), the USB bridge table, the
 * by-path/by-id matcher and the `espfab ports` text and JSON output (JSON
 * checked by parsing it with SQLite's JSON functions). */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "espfab/port.h"
#include "port/diagnose.h"
#include "port/port_backend.h"
#include "port/list.h"

static char root[64];

static void mk(const char *rel)
{
    char path[256], cmd[300];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "mkdir %s failed\n", path);
}
static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}
static void link_to(const char *target, const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    if (symlink(target, path) != 0)
        perror(path);
}

static void test_usb_names(void)
{
    CHECK(espfab_portdiag_is_usb_tty_name("ttyUSB0"));
    CHECK(espfab_portdiag_is_usb_tty_name("ttyACM12"));
    CHECK(espfab_portdiag_is_usb_tty_name("ttyCH343USB0"));
    CHECK(!espfab_portdiag_is_usb_tty_name("ttyUSB"));
    CHECK(!espfab_portdiag_is_usb_tty_name("ttyS0"));
    CHECK(!espfab_portdiag_is_usb_tty_name("tty1"));
    CHECK(!espfab_portdiag_is_usb_tty_name("ttyUSBx"));
}

static void test_not_found(void)
{
    mk("dev/serial/by-id");
    put("dev/ttyUSB1", "");
    put("dev/ttyACM0", "");
    put("dev/ttyS0", "");
    put("dev/null", "");
    char dev[96], spec[256];
    snprintf(dev, sizeof(dev), "%s/dev", root);
    espfab_portdiag_list_t c = {.n = 0};
    snprintf(spec, sizeof(spec), "%s/ttyUSB0", dev);
    espfab_portdiag_candidates(spec, dev, &c);
    CHECK_EQ(c.n, 2);
    char want[320];
    snprintf(want, sizeof(want), "%s/ttyACM0", dev);
    CHECK_STR(c.name[0], want);
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_portdiag_not_found(&f, spec, spec, &c, false), ESPFAB_E_PORT_NOT_FOUND);
    CHECK_CONTAINS(f.detail, spec);
    snprintf(want, sizeof(want), "present: %s/ttyACM0, %s/ttyUSB1", dev, dev);
    CHECK_CONTAINS(f.detail, want);
    CHECK_EQ(f.sys_errno, ENOENT);

    /* a by-id name that is missing lists the other by-id links and /dev ttys */
    link_to("../../ttyACM0",
            "dev/serial/by-id/usb-Espressif_USB_JTAG_serial_debug_unit_AA:BB-if00");
    snprintf(spec, sizeof(spec), "%s/serial/by-id/usb-1a86_USB_Single_Serial_5434-if00", dev);
    c.n = 0;
    espfab_portdiag_candidates(spec, dev, &c);
    CHECK_EQ(c.n, 3);
    CHECK_EQ(espfab_portdiag_not_found(&f, spec, spec, &c, false), ESPFAB_E_PORT_NOT_FOUND);
    CHECK_CONTAINS(f.detail, "usb-Espressif_USB_JTAG_serial_debug_unit_AA:BB-if00");

    /* no USB tty at all: NONE_PRESENT for USB-looking names, the hint says
     * driver or charge-only cable */
    espfab_portdiag_list_t none = {.n = 0};
    CHECK_EQ(espfab_portdiag_not_found(&f, "/dev/ttyUSB0", "/dev/ttyUSB0", &none, false),
             ESPFAB_E_PORT_NONE_PRESENT);
    CHECK_CONTAINS(f.detail, "/dev/ttyUSB0");
    CHECK_CONTAINS(espfab_err_hint(f.code), "charge-only");
    CHECK_EQ(espfab_portdiag_not_found(&f, "/dev/pts/9", "/dev/pts/9", &none, false),
             ESPFAB_E_PORT_NOT_FOUND);
    /* a list too long for the detail is cut with "..." and still names the port */
    espfab_portdiag_list_t many = {.n = PORTDIAG_MAX};
    for (size_t i = 0; i < many.n; i++)
        snprintf(many.name[i], sizeof(many.name[i]), "/dev/ttyUSB%zu", i);
    CHECK_EQ(espfab_portdiag_not_found(&f, "/dev/ttyUSB99", "/dev/ttyUSB99", &many, false),
             ESPFAB_E_PORT_NOT_FOUND);
    CHECK_CONTAINS(f.detail, "/dev/ttyUSB99 does not exist");
    CHECK_CONTAINS(f.detail, "...");
    CHECK(strstr(f.detail, "brltty") == NULL);
    /* brltty running: say so (Ubuntu's brltty takes CH340/CP210x ports away) */
    CHECK_EQ(espfab_portdiag_not_found(&f, "/dev/ttyUSB0", "/dev/ttyUSB0", &none, true),
             ESPFAB_E_PORT_NONE_PRESENT);
    CHECK_CONTAINS(f.detail, "apt remove brltty");
}

static espfab_portdiag_perm_t perm(mode_t mode, const char *group, bool in_db, bool in_proc)
{
    espfab_portdiag_perm_t p;
    memset(&p, 0, sizeof(p));
    p.have_stat = true;
    p.mode = S_IFCHR | mode;
    p.gid = 20;
    snprintf(p.owner_name, sizeof(p.owner_name), "root");
    snprintf(p.group_name, sizeof(p.group_name), "%s", group);
    snprintf(p.user, sizeof(p.user), "op");
    p.user_in_group_db = in_db;
    p.process_in_group = in_proc;
    return p;
}

static void test_permission(void)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    espfab_portdiag_perm_t p = perm(0660, "dialout", false, false);
    CHECK_EQ(espfab_portdiag_permission(&f, "/dev/ttyUSB0", &p), ESPFAB_E_PORT_PERMISSION);
    CHECK_CONTAINS(f.detail, "/dev/ttyUSB0");
    CHECK_CONTAINS(f.detail, "sudo usermod -aG dialout $USER");
    CHECK_CONTAINS(f.detail, "log in again");
    CHECK_EQ(f.sys_errno, EACCES);

    p = perm(0660, "uucp", true, false); /* added, not logged in again */
    espfab_portdiag_permission(&f, "/dev/ttyACM0", &p);
    CHECK_CONTAINS(f.detail, "/dev/ttyACM0");
    CHECK_CONTAINS(f.detail, "listed in group uucp");
    CHECK_CONTAINS(f.detail, "log out and in again");
    CHECK(strstr(f.detail, "usermod") == NULL);

    p = perm(0660, "dialout", true, true); /* in the group and still denied */
    espfab_portdiag_permission(&f, "/dev/ttyUSB0", &p);
    CHECK_CONTAINS(f.detail, "udev");
    CHECK(strstr(f.detail, "usermod") == NULL);

    p = perm(0600, "dialout", false, false); /* owner-only */
    espfab_portdiag_permission(&f, "/dev/ttyUSB0", &p);
    CHECK_CONTAINS(f.detail, "mode 600");
    CHECK_CONTAINS(f.detail, "udev rule");
    CHECK_CONTAINS(f.detail, "GROUP=\"dialout\"");

    p = perm(0660, "", false, false); /* gid without a name */
    espfab_portdiag_permission(&f, "/dev/ttyUSB0", &p);
    CHECK_CONTAINS(f.detail, "sudo usermod -aG 20 $USER");

    p.have_stat = false;
    espfab_portdiag_permission(&f, "/x/ttyUSB0", &p);
    CHECK_EQ(f.code, ESPFAB_E_PORT_PERMISSION);
    CHECK_CONTAINS(f.detail, "/x/ttyUSB0");

    /* gather on a real node: /dev/null is root's, mode 666 */
    espfab_portdiag_perm_gather("/dev/null", &p);
    CHECK(p.have_stat);
    CHECK_EQ(p.mode & 0777, 0666);
    CHECK_STR(p.owner_name, "root");
    CHECK(p.user[0] != '\0');
}

static void test_holders(void)
{
    mk("proc/812/fd");
    mk("proc/900/fd");
    mk("proc/77/fd");
    mk("proc/self/fd");
    put("proc/812/comm", "ModemManager\n");
    put("proc/900/comm", "screen\n");
    put("proc/77/comm", "brltty\n");
    link_to("/dev/null", "proc/812/fd/0");
    link_to("/dev/ttyUSB0", "proc/812/fd/7");
    link_to("/dev/ttyUSB1", "proc/900/fd/3");
    link_to("/dev/ttyUSB0", "proc/77/fd/4");
    link_to("/dev/ttyUSB0", "proc/812/fd/8");
    link_to("/dev/ttyUSB0", "proc/self/fd/9"); /* not a pid: ignored */
    char proc[128];
    snprintf(proc, sizeof(proc), "%s/proc", root);
    espfab_portdiag_holder_t h[4];
    size_t n = espfab_portdiag_find_holders(proc, "/dev/ttyUSB0", h, 4);
    CHECK_EQ(n, 2);
    CHECK_EQ(h[0].pid, 77);
    CHECK_EQ(h[0].nfds, 1);
    CHECK_STR(h[0].comm, "brltty");
    CHECK_EQ(h[1].pid, 812);
    CHECK_STR(h[1].comm, "ModemManager");
    CHECK_EQ(h[1].nfds, 2);
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_portdiag_busy(&f, "/dev/ttyUSB0", &h[1], 1), ESPFAB_E_PORT_BUSY);
    CHECK_CONTAINS(f.detail, "/dev/ttyUSB0 is held by ModemManager (pid 812)");
    CHECK_CONTAINS(f.detail, "systemctl disable --now ModemManager");
    CHECK_EQ(f.sys_errno, EBUSY);
    espfab_portdiag_busy(&f, "/dev/ttyUSB0", h, 2);
    CHECK_CONTAINS(f.detail, "brltty (pid 77), ModemManager (pid 812)");
    CHECK_CONTAINS(f.detail, "apt remove brltty");
    n = espfab_portdiag_find_holders(proc, "/dev/ttyUSB1", h, 4);
    CHECK_EQ(n, 1);
    CHECK_STR(h[0].comm, "screen");
    espfab_portdiag_busy(&f, "/dev/ttyUSB1", h, n);
    CHECK_CONTAINS(f.detail, "held by screen (pid 900)");
    CHECK(strstr(f.detail, "systemctl") == NULL);
    CHECK_EQ(espfab_portdiag_find_holders(proc, "/dev/ttyUSB5", h, 4), 0);
    espfab_portdiag_busy(&f, "/dev/ttyUSB5", h, 0);
    CHECK_CONTAINS(f.detail, "/dev/ttyUSB5 is in use");
    CHECK_CONTAINS(f.detail, "fuser");
    /* max smaller than the holders: count is still right */
    CHECK_EQ(espfab_portdiag_find_holders(proc, "/dev/ttyUSB0", h, 1), 2);
    CHECK_EQ(espfab_portdiag_find_holders("/nonexistent-proc", "/dev/ttyUSB0", h, 4), 0);
    CHECK(espfab_portdiag_process_running(proc, "brltty"));
    CHECK(espfab_portdiag_process_running(proc, "ModemManager"));
    CHECK(!espfab_portdiag_process_running(proc, "minicom"));
}

/* Issue 16 item 12: the fix printed with a mode-600 node does not tell the
 * user to join the group right after the detail said it will not help; and
 * espfab's own descriptor is no holder to blame for a busy port. */
static void test_permission_fix_consistent(void)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    espfab_portdiag_perm_t p = perm(0600, "root", false, false);
    espfab_portdiag_permission(&f, "/dev/ttyUSB0", &p);
    char line[1024];
    espfab_fault_format(&f, line, sizeof(line));
    CHECK_CONTAINS(line, "joining it will not help");
    CHECK(strstr(line, "add your user to the device's group") == NULL);
    CHECK_CONTAINS(line, "when the node's group can read and write it");
}

static void test_holders_drop(void)
{
    espfab_portdiag_holder_t h[3] = {{10, 1, "screen"}, {20, 1, "espfab"}, {30, 2, "espfab"}};
    CHECK_EQ(espfab_portdiag_holders_drop(h, 3, 20), 2); /* only our new fd: not named */
    CHECK_EQ(h[0].pid, 10);
    CHECK_EQ(h[1].pid, 30);
    CHECK_EQ(espfab_portdiag_holders_drop(h, 2, 99), 2);
    CHECK_EQ(espfab_portdiag_holders_drop(h, 2, 30), 2); /* another fd of ours: still named */
    CHECK_EQ(h[1].nfds, 1);
    CHECK_EQ(espfab_portdiag_holders_drop(h, 1, 10), 0);
}

/* Issue 16 item 12: a TCP board unplugged mid-session (libuv reports the
 * poll error as EBADF) is a closed connection, not "Bad file descriptor". */
static void test_tcp_poll_error(void)
{
    int e = EBADF;
    CHECK_EQ(espfab_port_tcp_ops.classify(ESPFAB_PORT_IO_POLL, &e), ESPFAB_E_PORT_CLOSED);
    CHECK(e != EBADF);
    CHECK(strstr(espfab_port_tcp_ops.poll_error_what, "socket error") == NULL);
}

static void test_vanished(void)
{
    espfab_portdiag_list_t before = {.n = 1}, now = {.n = 1};
    snprintf(before.name[0], sizeof(before.name[0]), "/dev/ttyACM0");
    snprintf(now.name[0], sizeof(now.name[0]), "/dev/ttyACM1");
    espfab_fault_t f;
    espfab_fault_clear(&f);
    const char *spec = "/dev/serial/by-id/usb-Espressif_USB_JTAG_serial_debug_unit_AA-if00";
    CHECK_EQ(espfab_portdiag_vanished(&f, ESPFAB_E_PORT_VANISHED, EIO, spec, "/dev/ttyACM0",
                                      "read: Input/output error", true, &before, &now),
             ESPFAB_E_PORT_VANISHED);
    CHECK_CONTAINS(f.detail, spec);
    CHECK_CONTAINS(f.detail, "device node is gone");
    CHECK_CONTAINS(f.detail, "by-id");
    CHECK_CONTAINS(f.detail, "new port /dev/ttyACM1 appeared");
    CHECK_EQ(f.sys_errno, EIO);
    espfab_portdiag_vanished(&f, ESPFAB_E_PORT_VANISHED, EIO,
                             "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0",
                             "/dev/ttyUSB0", "read", false, &before, &before);
    CHECK_CONTAINS(f.detail, "by-path");
    CHECK(strstr(f.detail, "gone") == NULL);
    CHECK(strstr(f.detail, "new port") == NULL);
    /* the port itself reappearing under its old name is not "a new port" */
    espfab_portdiag_list_t same = {.n = 1};
    snprintf(same.name[0], sizeof(same.name[0]), "/dev/ttyACM0");
    espfab_portdiag_list_t empty = {.n = 0};
    espfab_portdiag_vanished(&f, ESPFAB_E_PORT_VANISHED, EIO, "/dev/ttyACM0", "/dev/ttyACM0",
                             "read", false, &empty, &same);
    CHECK(strstr(f.detail, "new port") == NULL);
}

static void test_bridges(void)
{
    CHECK_STR(espfab_port_bridge_name(0x10c4, 0xea60), "CP210x");
    CHECK_STR(espfab_port_bridge_name(0x1a86, 0x7523), "CH340");
    CHECK_STR(espfab_port_bridge_name(0x1a86, 0x55d3), "CH343");
    CHECK_STR(espfab_port_bridge_name(0x1a86, 0x55d4), "CH9102");
    CHECK_CONTAINS(espfab_port_bridge_name(0x0403, 0x6001), "FTDI");
    CHECK_CONTAINS(espfab_port_bridge_name(0x0403, 0x6010), "FTDI");
    CHECK_CONTAINS(espfab_port_bridge_name(0x0403, 0x6014), "FTDI");
    CHECK_CONTAINS(espfab_port_bridge_name(0x0403, 0x6015), "FTDI");
    CHECK_STR(espfab_port_bridge_name(0x067b, 0x2303), "PL2303");
    CHECK_STR(espfab_port_bridge_name(0x303a, 0x1001), "ESP USB-JTAG-Serial");
    CHECK_CONTAINS(espfab_port_bridge_name(0x303a, 0x0002), "USB-OTG CDC");
    CHECK_CONTAINS(espfab_port_bridge_name(0x303a, 0x0009), "USB-OTG CDC");
    CHECK_CONTAINS(espfab_port_bridge_name(0x303a, 0x0012), "USB-OTG CDC");
    CHECK(espfab_port_bridge_name(0x303a, 0x0003) == NULL);
    CHECK(espfab_port_bridge_name(0x10c4, 0x7523) == NULL);
    CHECK(espfab_port_bridge_name(-1, -1) == NULL);
    espfab_port_desc_t d;
    memset(&d, 0, sizeof(d));
    d.usb_vid = 0x303a;
    d.usb_pid = 0x4001; /* an app's TinyUSB CDC */
    espfab_port__fill_bridge(&d);
    CHECK_STR(d.bridge, "Espressif native USB");
    d.usb_vid = d.usb_pid = -1;
    espfab_port__fill_bridge(&d);
    CHECK_STR(d.bridge, "");
}

static void test_links(void)
{
    mk("l/dev/serial/by-path");
    mk("l/dev/serial/by-id");
    put("l/dev/ttyUSB0", "");
    put("l/dev/ttyACM3", "");
    link_to("../../ttyUSB0", "l/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0");
    link_to("../../ttyUSB0", "l/dev/serial/by-id/usb-Silicon_Labs_CP2102_0001-if00-port0");
    link_to("../../ttyACM3", "l/dev/serial/by-id/usb-Espressif_USB_JTAG-if00");
    link_to("../../gone", "l/dev/serial/by-id/dangling");
    char bp[128], bi[128];
    snprintf(bp, sizeof(bp), "%s/l/dev/serial/by-path", root);
    snprintf(bi, sizeof(bi), "%s/l/dev/serial/by-id", root);
    espfab_port_desc_t d[4];
    memset(d, 0, sizeof(d));
    snprintf(d[0].path, sizeof(d[0].path), "%s/l/dev/ttyUSB0", root);
    d[0].usb_vid = 0x10c4;
    d[0].usb_pid = 0xea60;
    size_t n = 1;
    espfab_port__fill_links(d, &n, 4, bp, bi);
    CHECK_EQ(n, 2); /* ttyACM3 was not in the list: added from its by-id link */
    CHECK_CONTAINS(d[0].by_path, "by-path/pci-0000:00:14.0-usb-0:2:1.0-port0");
    CHECK_CONTAINS(d[0].by_id, "usb-Silicon_Labs_CP2102_0001-if00-port0");
    CHECK_CONTAINS(d[1].path, "/l/dev/ttyACM3");
    CHECK_CONTAINS(d[1].by_id, "usb-Espressif_USB_JTAG-if00");
    CHECK_STR(d[1].by_path, "");
    CHECK_EQ(d[1].usb_vid, -1);
    /* cap respected */
    n = 1;
    d[1].path[0] = '\0';
    espfab_port__fill_links(d, &n, 1, bp, bi);
    CHECK_EQ(n, 1);
}

static espfab_port_desc_t sample(int i)
{
    espfab_port_desc_t d;
    memset(&d, 0, sizeof(d));
    if (i == 0) {
        snprintf(d.path, sizeof(d.path), "/dev/ttyUSB0");
        snprintf(d.by_path, sizeof(d.by_path),
                 "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0");
        snprintf(d.by_id, sizeof(d.by_id),
                 "/dev/serial/by-id/usb-Silicon_Labs_CP2102_0001-if00-port0");
        d.usb_vid = 0x10c4;
        d.usb_pid = 0xea60;
        snprintf(d.serial, sizeof(d.serial), "0001");
        snprintf(d.manufacturer, sizeof(d.manufacturer), "Silicon Labs");
        snprintf(d.product, sizeof(d.product), "CP2102 \"USB\" to UART\\Bridge");
    } else {
        snprintf(d.path, sizeof(d.path), "/dev/ttyS0");
        d.usb_vid = d.usb_pid = -1;
    }
    espfab_port__fill_bridge(&d);
    return d;
}

static char *capture(void (*fmt)(FILE *, const espfab_port_desc_t *, size_t),
                     const espfab_port_desc_t *d, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    fmt(fp, d, n);
    fclose(fp);
    return buf;
}

static void test_format_text(void)
{
    espfab_port_desc_t d[2] = {sample(0), sample(1)};
    char *t = capture(espfab_port__format_text, d, 2);
    CHECK_CONTAINS(t, "/dev/ttyUSB0  10c4:ea60  CP210x  \"Silicon Labs CP2102");
    CHECK_CONTAINS(t, "serial 0001");
    CHECK_CONTAINS(t, "    by-path: /dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0\n");
    CHECK_CONTAINS(t, "    by-id:   /dev/serial/by-id/usb-Silicon_Labs_CP2102_0001-if00-port0\n");
    CHECK_CONTAINS(t, "/dev/ttyS0  (not USB)\n");
    CHECK(strstr(t, "no USB serial device") == NULL);
    free(t);
    t = capture(espfab_port__format_text, d, 0);
    CHECK_CONTAINS(t, "no serial ports found");
    CHECK_CONTAINS(t, "charge-only");
    free(t);
    t = capture(espfab_port__format_text, &d[1], 1);
    CHECK_CONTAINS(t, "no USB serial device among them");
    free(t);
}

/* Evaluates a SQLite expression with ?1 bound to json; returns text. */
static void sql_text(sqlite3 *db, const char *expr, const char *json, char *out, size_t len)
{
    sqlite3_stmt *st = NULL;
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT %s", expr);
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(out, len, "prepare failed: %s", sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(out, len, "%s", v ? (const char *)v : "(null)");
    }
    sqlite3_finalize(st);
}

static void test_format_json(void)
{
    espfab_port_desc_t d[2] = {sample(0), sample(1)};
    char *j = capture(espfab_port__format_json, d, 2);
    sqlite3 *db = NULL;
    CHECK_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
    char v[256];
    sql_text(db, "json_valid(?1)", j, v, sizeof(v));
    CHECK_STR(v, "1");
    sql_text(db, "json_array_length(?1)", j, v, sizeof(v));
    CHECK_STR(v, "2");
    sql_text(db, "json_extract(?1, '$[0].path')", j, v, sizeof(v));
    CHECK_STR(v, "/dev/ttyUSB0");
    sql_text(db, "json_extract(?1, '$[0].vid_pid')", j, v, sizeof(v));
    CHECK_STR(v, "10c4:ea60");
    sql_text(db, "json_extract(?1, '$[0].usb_vid')", j, v, sizeof(v));
    CHECK_STR(v, "4292");
    sql_text(db, "json_extract(?1, '$[0].bridge')", j, v, sizeof(v));
    CHECK_STR(v, "CP210x");
    sql_text(db, "json_extract(?1, '$[0].product')", j, v, sizeof(v));
    CHECK_STR(v, "CP2102 \"USB\" to UART\\Bridge");
    sql_text(db, "json_extract(?1, '$[0].by_id')", j, v, sizeof(v));
    CHECK_STR(v, "/dev/serial/by-id/usb-Silicon_Labs_CP2102_0001-if00-port0");
    sql_text(db, "json_type(?1, '$[1].usb_vid')", j, v, sizeof(v));
    CHECK_STR(v, "null");
    sql_text(db, "json_type(?1, '$[1].bridge')", j, v, sizeof(v));
    CHECK_STR(v, "null");
    free(j);
    j = capture(espfab_port__format_json, d, 0);
    sql_text(db, "json_valid(?1) || json_array_length(?1)", j, v, sizeof(v));
    CHECK_STR(v, "10");
    free(j);
    sqlite3_close(db);
}

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/test_port_diag.XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_usb_names);
    RUN(test_not_found);
    RUN(test_permission);
    RUN(test_holders);
    RUN(test_permission_fix_consistent);
    RUN(test_holders_drop);
    RUN(test_tcp_poll_error);
    RUN(test_vanished);
    RUN(test_bridges);
    RUN(test_links);
    RUN(test_format_text);
    RUN(test_format_json);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return check_summary();
}

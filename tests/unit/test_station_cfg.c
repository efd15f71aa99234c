/* test_station_cfg.c - station file parsing, validation and slot resolution. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "espfab/station_cfg.h"

static char dir[256];

static void touch(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *fp = fopen(p, "w");
    if (fp)
        fclose(fp);
}

static void test_full(void)
{
    char ini[2048];
    snprintf(ini, sizeof ini,
             "[station]\n"
             "id = line3-st1\n"
             "line = line3\n"
             "operator = alice\n"
             "lot = WO-2026-0042\n"
             "database = data/trace.db\n"
             "profile = profiles/app.ini\n"
             "mode = Continuous\n"
             "\n"
             "[slot A1]\n"
             "port = %s/by-path/pci-0000:00:14.0-usb-0:1.1:1.0-port0\n"
             "before = usb_reset\n"
             "baud = 921600\n"
             "[slot A2]\n"
             "port = /dev/serial/by-path/*-usb-0:1.2:1.0-port0\n"
             "[slot sim]\n"
             "port = tcp://127.0.0.1:3333\n"
             "usb_id = 303A:1001\n",
             dir);
    espfab_station_cfg_t c;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_station_cfg_parse(ini, strlen(ini), "station.ini", "/srv/st1", &c, &f), 0);
    CHECK_STR(c.id, "line3-st1");
    CHECK_STR(c.line, "line3");
    CHECK_STR(c.operator_name, "alice");
    CHECK_STR(c.lot, "WO-2026-0042");
    CHECK_STR(c.database, "/srv/st1/data/trace.db");
    CHECK_STR(c.profile, "/srv/st1/profiles/app.ini");
    CHECK_EQ(c.mode, ESPFAB_STATION_CONTINUOUS);
    CHECK_STR(espfab_station_mode_name(c.mode), "continuous");
    CHECK_EQ(c.nslots, 3);
    const espfab_slot_cfg_t *a1 = espfab_station_cfg_slot(&c, "A1");
    CHECK(a1 != NULL);
    if (a1) {
        CHECK(a1->has_before);
        CHECK_EQ(a1->before, ESPFAB_RESET_USB_JTAG); /* "usb-reset" */
        CHECK_EQ(a1->baud, 921600);
        CHECK(!a1->is_glob);
        CHECK(!a1->is_tcp);
        CHECK_EQ(a1->line, 10);
    }
    CHECK(c.slots[1].is_glob);
    CHECK(!c.slots[1].has_before); /* no before: the profile's */
    CHECK_EQ(c.slots[1].baud, 0);
    CHECK(c.slots[2].is_tcp);
    CHECK_EQ(c.slots[2].usb_vid, 0x303a);
    CHECK_EQ(c.slots[2].usb_pid, 0x1001);
    CHECK_EQ(c.slots[1].usb_vid, 0);
    CHECK(espfab_station_cfg_slot(&c, "B9") == NULL);
    espfab_station_cfg_free(&c);
    CHECK_EQ(c.nslots, 0);
}

static void test_defaults_and_load(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/station.ini", dir);
    FILE *fp = fopen(path, "w");
    fputs("[station]\nid = st\n", fp);
    fclose(fp);
    espfab_station_cfg_t c;
    espfab_fault_t f;
    CHECK_EQ(espfab_station_cfg_load(path, &c, &f), 0);
    char real[PATH_MAX], want[PATH_MAX + 16];
    CHECK(realpath(dir, real) != NULL);
    snprintf(want, sizeof want, "%s/espfab.db", real);
    CHECK_STR(c.database, want);
    CHECK_STR(c.profile, "");
    CHECK_EQ(c.mode, ESPFAB_STATION_BATCH);
    CHECK_EQ(c.nslots, 0);
    snprintf(want, sizeof want, "%s/station.ini", real);
    CHECK_STR(c.path, want);
    espfab_station_cfg_free(&c);
}

static void test_errors(void)
{
    static const struct {
        const char *ini;
        int code;
        const char *detail;
    } cases[] = {
        {"[station]\nid = a\nopertor = bob\n", ESPFAB_E_CONFIG_UNKNOWN_KEY,
         "st.ini:3: unknown key 'opertor' in [station] (did you mean 'operator'?)"},
        {"[station]\nid = a\n[slot A]\nprot = /dev/ttyUSB0\n", ESPFAB_E_CONFIG_UNKNOWN_KEY,
         "st.ini:4: unknown key 'prot' in [slot A] (did you mean 'port'?)"},
        {"[station]\nid = a\nport = /dev/ttyUSB0\n", ESPFAB_E_CONFIG_UNKNOWN_KEY,
         "st.ini:3: unknown key 'port' in [station] (it belongs in a [slot NAME] section)"},
        {"[statoin]\n", ESPFAB_E_CONFIG_UNKNOWN_SECTION,
         "st.ini:1: unknown section [statoin] (did you mean [station]?)"},
        {"[station]\nline = x\n", ESPFAB_E_CONFIG_MISSING_KEY, "st.ini:1: [station] has no 'id'"},
        {"[slot A]\nport = /dev/x\n", ESPFAB_E_CONFIG_MISSING_KEY, "no [station] section"},
        {"[station]\nid = a\n[slot A]\nbaud = 115200\n", ESPFAB_E_CONFIG_MISSING_KEY,
         "st.ini:3: [slot A] has no 'port'"},
        {"[station]\nid = a\nmode = fast\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "st.ini:3: bad value 'fast' for mode (allowed: batch, continuous)"},
        {"[station]\nid = a\n[slot A]\nport = /dev/x\nbaud = 9k\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "st.ini:5: bad number '9k' for baud"},
        {"[station]\nid = a\n[slot A]\nport = /dev/x\nbefore = sometimes\n",
         ESPFAB_E_CONFIG_BAD_VALUE, "st.ini:5: bad value 'sometimes' for before (allowed: "},
        {"[station]\nid = a\n[slot A]\nport = /dev/x\nusb_id = 1001\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "st.ini:5: bad usb_id '1001' (VID:PID in hex, e.g. 303a:1001"},
        {"[station]\nid = a\n[slot A]\nport = ttyUSB0\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "st.ini:4: bad port 'ttyUSB0'"},
        {"[station]\nid = a\n[slot A]\nport = tcp://host\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "st.ini:4: bad port 'tcp://host' (tcp://HOST:PORT)"},
        {"[station]\nid = a\n[slot A]\nport = /dev/x\n[slot A]\n", ESPFAB_E_CONFIG_DUPLICATE,
         "st.ini:5: duplicate section [slot A] (first at line 3)"},
        {"[station]\nid = a\n[slot A]\nport = /dev/x\n[slot B]\nport = /dev/x\n",
         ESPFAB_E_CONFIG_DUPLICATE, "st.ini:6: port '/dev/x' is already slot A's (line 4)"},
        {"[station]\nid = a\nid = b\n", ESPFAB_E_CONFIG_DUPLICATE,
         "st.ini:3: duplicate key 'id' in [station] (first at line 2)"},
        {"[station]\nid = a\n[slot]\n", ESPFAB_E_CONFIG_UNKNOWN_SECTION,
         "st.ini:3: section [slot] needs a name"},
        {"[station]\nid = a\njunk\n", ESPFAB_E_CONFIG_SYNTAX, "st.ini:3: expected 'key = value'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        espfab_station_cfg_t c;
        espfab_fault_t f;
        espfab_fault_clear(&f);
        int rc = espfab_station_cfg_parse(cases[i].ini, strlen(cases[i].ini), "st.ini", "/x", &c,
                                          &f);
        if (rc != cases[i].code || !strstr(f.detail, cases[i].detail))
            fprintf(stderr, "case %zu: rc %d detail '%s'\n", i, rc, f.detail);
        CHECK_EQ(rc, cases[i].code);
        CHECK_CONTAINS(f.detail, cases[i].detail);
        CHECK(c.slots == NULL);
    }
}

static void test_many_slots(void)
{
    /* more slots than the first allocation */
    char *ini = malloc(64 * 1024);
    size_t n = (size_t)sprintf(ini, "[station]\nid = big\n");
    for (int i = 0; i < 48; i++)
        n += (size_t)sprintf(ini + n, "[slot S%02d]\nport = tcp://127.0.0.1:%d\n", i, 4000 + i);
    espfab_station_cfg_t c;
    espfab_fault_t f;
    CHECK_EQ(espfab_station_cfg_parse(ini, n, "big.ini", NULL, &c, &f), 0);
    CHECK_EQ(c.nslots, 48);
    CHECK_STR(c.slots[47].name, "S47");
    CHECK_STR(c.slots[47].port, "tcp://127.0.0.1:4047");
    CHECK_EQ(c.slots[47].line, 2 + 47 * 2 + 1);
    espfab_station_cfg_free(&c);
    free(ini);
}

static void test_resolve(void)
{
    char bp[300], target[300], link[400];
    snprintf(bp, sizeof bp, "%s/by-path", dir);
    mkdir(bp, 0755);
    touch("ttyUSB3");
    snprintf(target, sizeof target, "%s/ttyUSB3", dir);
    snprintf(link, sizeof link, "%s/pci-0000:00:14.0-usb-0:1.1:1.0-port0", bp);
    CHECK_EQ(symlink(target, link), 0);
    touch("by-path/pci-0000:00:14.0-usb-0:1.3:1.0-port0");
    touch("by-path/pci-0000:00:14.0-usb-0:1.4:1.0-port0");

    espfab_slot_cfg_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "A1");
    char dev[600];
    espfab_fault_t f;

    /* glob, one match */
    snprintf(s.port, sizeof s.port, "%s/*-usb-0:1.1:1.0-port0", bp);
    s.is_glob = true;
    CHECK_EQ(espfab_station_slot_resolve(&s, false, dev, sizeof dev, &f), 0);
    CHECK_STR(dev, link);
    char real[PATH_MAX];
    CHECK(realpath(target, real) != NULL);
    CHECK_EQ(espfab_station_slot_resolve(&s, true, dev, sizeof dev, &f), 0);
    CHECK_STR(dev, real);
    CHECK_EQ(espfab_station_slot_resolve(&s, false, dev, 8, &f), ESPFAB_E_BUFFER_TOO_SMALL);

    /* nothing plugged in there */
    snprintf(s.port, sizeof s.port, "%s/*-usb-0:1.2:1.0-port0", bp);
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_station_slot_resolve(&s, false, dev, sizeof dev, &f), ESPFAB_E_PORT_NOT_FOUND);
    CHECK_CONTAINS(f.detail, "slot A1: nothing plugged in at");
    CHECK_STR(dev, "");

    /* ambiguous pattern */
    snprintf(s.port, sizeof s.port, "%s/*-port0", bp);
    CHECK_EQ(espfab_station_slot_resolve(&s, false, dev, sizeof dev, &f), ESPFAB_E_PORT_BAD_SPEC);
    CHECK_CONTAINS(f.detail, "matches 3 devices");

    /* plain paths */
    s.is_glob = false;
    snprintf(s.port, sizeof s.port, "%s", target);
    CHECK_EQ(espfab_station_slot_resolve(&s, false, dev, sizeof dev, &f), 0);
    CHECK_STR(dev, target);
    snprintf(s.port, sizeof s.port, "%s/ttyUSB9", dir);
    CHECK_EQ(espfab_station_slot_resolve(&s, false, dev, sizeof dev, &f), ESPFAB_E_PORT_NOT_FOUND);

    /* tcp */
    snprintf(s.port, sizeof s.port, "tcp://127.0.0.1:5555");
    s.is_tcp = true;
    CHECK_EQ(espfab_station_slot_resolve(&s, false, dev, sizeof dev, &f), 0);
    CHECK_STR(dev, "tcp://127.0.0.1:5555");
}

static void test_slot_profile(void)
{
    /* A jig that flashes two products: each slot may name its own profile. */
    const char *ini = "[station]\nid = mixed\nprofile = default.ini\n"
                      "[slot A]\nport = tcp://127.0.0.1:4000\n"
                      "[slot B]\nport = tcp://127.0.0.1:4001\nprofile = ../p/s3.ini\n";
    espfab_station_cfg_t c;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_station_cfg_parse(ini, strlen(ini), "st.ini", "/srv/st", &c, &f), 0);
    CHECK_EQ(c.nslots, 2);
    CHECK_STR(c.profile, "/srv/st/default.ini");
    CHECK_STR(c.slots[0].profile, "");
    CHECK_CONTAINS(c.slots[1].profile, "p/s3.ini");
    CHECK(c.slots[1].profile[0] == '/');
    espfab_station_cfg_free(&c);

    const char *dup = "[station]\nid = x\n[slot A]\nport = /dev/ttyUSB0\nprofile = a.ini\nprofile = b.ini\n";
    espfab_fault_clear(&f);
    CHECK(espfab_station_cfg_parse(dup, strlen(dup), "st.ini", "/srv", &c, &f) != 0);
    CHECK_EQ(f.code, ESPFAB_E_CONFIG_DUPLICATE);
    CHECK_CONTAINS(f.detail, "st.ini:6:");
    espfab_station_cfg_free(&c);
}

/* Issue 16 item 9: one rule for labels, whoever gives them. */
static void test_label_rule(void)
{
    char dst[64] = "old", why[64];
    CHECK_EQ(espfab_station_label_copy(dst, sizeof dst, "WO-2026-0042", why, sizeof why), 0);
    CHECK_STR(dst, "WO-2026-0042");
    char long_lot[80];
    memset(long_lot, 'L', 70);
    long_lot[70] = '\0';
    CHECK_EQ(espfab_station_label_copy(dst, sizeof dst, long_lot, why, sizeof why), -1);
    CHECK_CONTAINS(why, "1 to 63 characters");
    CHECK_STR(dst, "WO-2026-0042"); /* untouched: never cut */
    CHECK_EQ(espfab_station_label_copy(dst, sizeof dst, "eve\n12:00 PASS", why, sizeof why), -1);
    CHECK_CONTAINS(why, "control character");
    CHECK_EQ(espfab_station_label_copy(dst, sizeof dst, "", why, sizeof why), -1);
    /* the station file says the same, with file:line */
    espfab_station_cfg_t c;
    espfab_fault_t f;
    const char *ini = "[station]\nid = s\nlot = \x1b[2J\n";
    CHECK(espfab_station_cfg_parse(ini, strlen(ini), "st.ini", "/x", &c, &f) != 0);
    CHECK_CONTAINS(f.detail, "st.ini:3");
    CHECK_CONTAINS(f.detail, "lot contains a control character");
}

/* Issue 16 items 7 and 11: what `espfab run` refuses before it opens the
 * database. */
static void test_check_run(void)
{
    espfab_station_cfg_t c;
    espfab_fault_t f;
    const char *noslot = "; a station\n[station]\nid = s\n";
    CHECK_EQ(espfab_station_cfg_parse(noslot, strlen(noslot), "st.ini", "/x", &c, &f), 0);
    CHECK_EQ(espfab_station_cfg_check_run(&c, &f), ESPFAB_E_STATION_NO_PORTS);
    CHECK_CONTAINS(f.detail, ":2: ");
    CHECK_CONTAINS(f.detail, "[slot A1]");
    espfab_station_cfg_free(&c);

    char ini[1024];
    mkdir(strcat(strcpy(ini, dir), "/bp"), 0755);
    touch("bp/usb-0:2.1-port0");
    touch("bp/usb-0:2.2-port0");
    touch("bp/usb-0:3.1-port0");
    snprintf(ini, sizeof ini, "[station]\nid = s\n[slot A]\nport = %s/bp/usb-0:3.*\n"
             "[slot B]\nport = %s/bp/usb-0:2.*\n", dir, dir);
    CHECK_EQ(espfab_station_cfg_parse(ini, strlen(ini), "st.ini", "/x", &c, &f), 0);
    CHECK_EQ(espfab_station_cfg_check_run(&c, &f), ESPFAB_E_PORT_BAD_SPEC);
    CHECK_CONTAINS(f.detail, ":5: [slot B]");
    CHECK_CONTAINS(f.detail, "usb-0:2.1-port0");
    CHECK_CONTAINS(f.detail, "usb-0:2.2-port0");
    c.slots[1].port[strlen(c.slots[1].port) - 1] = '1'; /* usb-0:2.1 exactly */
    c.slots[1].is_glob = false;
    CHECK_EQ(espfab_station_cfg_check_run(&c, &f), 0);
    espfab_station_cfg_free(&c);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/espfab-test-station-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_full);
    RUN(test_defaults_and_load);
    RUN(test_errors);
    RUN(test_many_slots);
    RUN(test_resolve);
    RUN(test_slot_profile);
    RUN(test_label_rule);
    RUN(test_check_run);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}

/* test_port_spec.c - the one port spec parser (espfab_port_spec_parse):
 * device paths, globs and tcp://HOST:PORT parse to typed values; bad specs
 * give PORT_BAD_SPEC with a detail naming the spec. */
#include <string.h>

#include "check.h"
#include "espfab/port.h"

static void test_good(void)
{
    espfab_port_spec_t s;
    espfab_fault_t f;
    CHECK_EQ(espfab_port_spec_parse("/dev/ttyUSB0", &s, &f), 0);
    CHECK_EQ(s.kind, ESPFAB_PORT_SPEC_DEVICE);
    CHECK_STR(s.path, "/dev/ttyUSB0");
    CHECK(!s.is_glob);
    CHECK_EQ(espfab_port_spec_parse("ttyACM3", &s, &f), 0);
    CHECK_EQ(s.kind, ESPFAB_PORT_SPEC_DEVICE);
    CHECK_STR(s.path, "/dev/ttyACM3");
    CHECK_EQ(espfab_port_spec_parse("/dev/serial/by-path/*-usb-0:1.2:1.0-port0", &s, &f), 0);
    CHECK_EQ(s.kind, ESPFAB_PORT_SPEC_DEVICE);
    CHECK(s.is_glob);
    CHECK_EQ(espfab_port_spec_parse("tcp://localhost:4000", &s, &f), 0);
    CHECK_EQ(s.kind, ESPFAB_PORT_SPEC_TCP);
    CHECK_STR(s.host, "localhost");
    CHECK_EQ(s.tcp_port, 4000);
    CHECK_EQ(espfab_port_spec_parse("tcp://127.0.0.1:1", &s, &f), 0);
    CHECK_STR(s.host, "127.0.0.1");
    CHECK_EQ(s.tcp_port, 1);
    CHECK_EQ(espfab_port_spec_parse("tcp://[::1]:65535", &s, &f), 0);
    CHECK_STR(s.host, "::1");
    CHECK_EQ(s.tcp_port, 65535);
    /* the last colon splits host and port */
    CHECK_EQ(espfab_port_spec_parse("tcp://jig-a.local:00080", &s, &f), 0);
    CHECK_STR(s.host, "jig-a.local");
    CHECK_EQ(s.tcp_port, 80);
}

static void test_bad(void)
{
    static const struct {
        const char *spec, *why;
    } bad[] = {
        {"tcp://host:99999", "not a number from 1 to 65535"},
        {"tcp://host:65536", "not a number from 1 to 65535"},
        {"tcp://h:", "no port number"},
        {"tcp://h:12x", "not a number from 1 to 65535"},
        {"tcp://h:0", "not a number from 1 to 65535"},
        {"tcp://h:-1", "not a number from 1 to 65535"},
        {"tcp://h:+80", "not a number from 1 to 65535"},
        {"tcp://h: 80", "not a number from 1 to 65535"},
        {"tcp://h:0x50", "not a number from 1 to 65535"},
        {"tcp://h:99999999999999999999", "not a number from 1 to 65535"},
        {"tcp://h", "no port number"},
        {"tcp://:80", "no host"},
        {"tcp://[::1]80", "[IPv6]:PORT"},
        {"rfc2217://h:4000", "not supported"},
        {"COM3", "Windows"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        espfab_port_spec_t s;
        espfab_fault_t f;
        espfab_fault_clear(&f);
        int r = espfab_port_spec_parse(bad[i].spec, &s, &f);
        if (r != ESPFAB_E_PORT_BAD_SPEC)
            fprintf(stderr, "spec '%s' -> %d\n", bad[i].spec, r);
        CHECK_EQ(r, ESPFAB_E_PORT_BAD_SPEC);
        CHECK_EQ(f.code, ESPFAB_E_PORT_BAD_SPEC);
        CHECK_CONTAINS(f.detail, bad[i].spec);
        CHECK_CONTAINS(f.detail, bad[i].why);
    }
    espfab_port_spec_t s;
    espfab_fault_t f;
    CHECK_EQ(espfab_port_spec_parse(NULL, &s, &f), ESPFAB_E_PORT_BAD_SPEC);
    CHECK_EQ(espfab_port_spec_parse("", &s, &f), ESPFAB_E_PORT_BAD_SPEC);
    CHECK_EQ(espfab_port_spec_parse("/dev/tty\tUSB0", &s, &f), ESPFAB_E_PORT_BAD_SPEC);
    CHECK_CONTAINS(f.detail, "control character");
    /* a host longer than the struct holds is refused, not truncated */
    char longhost[240];
    memcpy(longhost, "tcp://", 6);
    memset(longhost + 6, 'h', 220);
    memcpy(longhost + 226, ":80", 4);
    CHECK_EQ(espfab_port_spec_parse(longhost, &s, &f), ESPFAB_E_PORT_BAD_SPEC);
    CHECK_CONTAINS(f.detail, "too long");
}

int main(void)
{
    RUN(test_good);
    RUN(test_bad);
    return check_summary();
}

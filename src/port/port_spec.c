/* port_spec.c - the one parser of port specs (pure: no I/O; see port.h). */
#include "port/port_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SPEC_MAX 250

static int bad(espfab_fault_t *f, const char *spec, const char *why)
{
    return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC, "%s: %s", spec, why);
}

/* The HOST:PORT after "tcp://". */
static int parse_tcp(const char *spec, espfab_port_spec_t *out, espfab_fault_t *f)
{
    const char *h = spec + 6, *colon;
    size_t hlen;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':')
            return bad(f, spec, "expected tcp://[IPv6]:PORT");
        h++;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon)
            return bad(f, spec, "no port number (expected tcp://HOST:PORT)");
        hlen = (size_t)(colon - h);
    }
    if (hlen == 0)
        return bad(f, spec, "no host (expected tcp://HOST:PORT)");
    if (hlen >= sizeof(out->host))
        return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC, "host name of %zu characters is too long in %s",
                                hlen, spec);
    const char *ps = colon + 1;
    if (!*ps)
        return bad(f, spec, "no port number (expected tcp://HOST:PORT)");
    unsigned long v = 0;
    for (const char *c = ps; *c; c++) {
        if (!isdigit((unsigned char)*c) || v > 65535)
            return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                    "%s: port '%s' is not a number from 1 to 65535", spec, ps);
        v = v * 10 + (unsigned long)(*c - '0');
    }
    if (v < 1 || v > 65535)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                "%s: port '%s' is not a number from 1 to 65535", spec, ps);
    out->kind = ESPFAB_PORT_SPEC_TCP;
    memcpy(out->host, h, hlen);
    out->host[hlen] = '\0';
    out->tcp_port = (uint16_t)v;
    return 0;
}

int espfab_port_spec_parse(const char *spec, espfab_port_spec_t *out, espfab_fault_t *f)
{
    memset(out, 0, sizeof(*out));
    if (!spec || !spec[0])
        return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC, "empty port name");
    size_t len = strlen(spec);
    if (len >= SPEC_MAX)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                "port name of %zu characters is too long", len);
    for (const char *c = spec; *c; c++)
        if (iscntrl((unsigned char)*c))
            return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                    "port name '%.60s' contains a control character", spec);
    if (!strncmp(spec, "tcp://", 6))
        return parse_tcp(spec, out, f);
    const char *scheme = strstr(spec, "://");
    if (scheme)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                "%s: '%.*s://' ports are not supported (only tcp://HOST:PORT)",
                                spec, (int)(scheme - spec), spec);
    if (!strncasecmp(spec, "COM", 3) && spec[3] &&
        strspn(spec + 3, "0123456789") == strlen(spec + 3))
        return espfab_fault_set(
            f, ESPFAB_E_PORT_BAD_SPEC,
            "%s is a Windows port name; on Linux use /dev/ttyUSB0 or /dev/ttyACM0", spec);
    out->kind = ESPFAB_PORT_SPEC_DEVICE;
    snprintf(out->path, sizeof(out->path), "%s%s", strchr(spec, '/') ? "" : "/dev/", spec);
    out->is_glob = strpbrk(out->path, "*?[") != NULL;
    return 0;
}

int espfab_port__parse_spec(const char *spec, espfab_port_kind_t *kind, char *out, size_t outlen,
                            int *tcp_port, espfab_fault_t *f)
{
    espfab_port_spec_t s;
    int r = espfab_port_spec_parse(spec, &s, f);
    if (r < 0)
        return r;
    const char *what = s.kind == ESPFAB_PORT_SPEC_TCP ? s.host : s.path;
    if (strlen(what) >= outlen)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC, "port name '%.60s' is too long", spec);
    *kind = s.kind == ESPFAB_PORT_SPEC_TCP ? ESPFAB_PORT_TCP : ESPFAB_PORT_TTY;
    *tcp_port = s.tcp_port;
    snprintf(out, outlen, "%s", what);
    return 0;
}

/* list.c - enumerating serial ports (libserialport plus /dev/serial/by-*),
 * naming the USB-UART bridge, and printing the list as text or JSON. */
#include "port/list.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libserialport.h>

#include "espfab/json.h"

static const struct {
    int vid, pid;
    const char *name;
} bridges[] = {
    {0x10c4, 0xea60, "CP210x"},
    {0x10c4, 0xea70, "CP2105"},
    {0x10c4, 0xea71, "CP2108"},
    {0x1a86, 0x7523, "CH340"},
    {0x1a86, 0x5523, "CH341"},
    {0x1a86, 0x55d2, "CH342"},
    {0x1a86, 0x55d3, "CH343"},
    {0x1a86, 0x55d4, "CH9102"},
    {0x0403, 0x6001, "FTDI FT232R"},
    {0x0403, 0x6010, "FTDI FT2232"},
    {0x0403, 0x6011, "FTDI FT4232"},
    {0x0403, 0x6014, "FTDI FT232H"},
    {0x0403, 0x6015, "FTDI FT-X"},
    {0x067b, 0x2303, "PL2303"},
    {0x303a, 0x1001, "ESP USB-JTAG-Serial"},
    {0x303a, 0x0002, "ESP32-S2 USB-OTG CDC"},
    {0x303a, 0x0009, "ESP32-S3 USB-OTG CDC"},
    {0x303a, 0x0012, "ESP32-P4 USB-OTG CDC"},
};

const char *espfab_port_bridge_name(int vid, int pid)
{
    for (size_t i = 0; i < sizeof(bridges) / sizeof(bridges[0]); i++)
        if (bridges[i].vid == vid && bridges[i].pid == pid)
            return bridges[i].name;
    return NULL;
}

void espfab_port__fill_bridge(espfab_port_desc_t *d)
{
    const char *b = d->usb_vid >= 0 ? espfab_port_bridge_name(d->usb_vid, d->usb_pid) : NULL;
    if (!b && d->usb_vid == 0x303a)
        b = "Espressif native USB";
    snprintf(d->bridge, sizeof(d->bridge), "%s", b ? b : "");
}

static void scan_links(espfab_port_desc_t *d, size_t *n, size_t cap, const char *dir, bool by_id)
{
    DIR *dd = opendir(dir);
    if (!dd)
        return;
    struct dirent *e;
    char link[PATH_MAX], real[PATH_MAX];
    while ((e = readdir(dd)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
        if (!realpath(link, real))
            continue;
        espfab_port_desc_t *hit = NULL;
        for (size_t i = 0; i < *n && !hit; i++) {
            char rp[PATH_MAX];
            const char *cmp = realpath(d[i].path, rp) ? rp : d[i].path;
            if (!strcmp(cmp, real))
                hit = &d[i];
        }
        if (!hit) {
            if (*n >= cap)
                continue;
            hit = &d[(*n)++];
            memset(hit, 0, sizeof(*hit));
            hit->usb_vid = hit->usb_pid = -1;
            snprintf(hit->path, sizeof(hit->path), "%.255s", real);
        }
        char *slot = by_id ? hit->by_id : hit->by_path;
        if (!slot[0] || strcmp(link, slot) < 0)
            snprintf(slot, sizeof(hit->by_id), "%.255s", link);
    }
    closedir(dd);
}

void espfab_port__fill_links(espfab_port_desc_t *d, size_t *n, size_t cap, const char *by_path_dir,
                             const char *by_id_dir)
{
    if (by_path_dir)
        scan_links(d, n, cap, by_path_dir, false);
    if (by_id_dir)
        scan_links(d, n, cap, by_id_dir, true);
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(((const espfab_port_desc_t *)a)->path, ((const espfab_port_desc_t *)b)->path);
}

int espfab_ports_list(espfab_port_desc_t **out, espfab_fault_t *f)
{
    espfab_fault_clear(f);
    if (!out)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_ports_list: out is NULL");
    *out = NULL;
    struct sp_port **ports = NULL;
    enum sp_return r = sp_list_ports(&ports);
    size_t nsp = 0;
    if (r == SP_OK)
        while (ports[nsp])
            nsp++;
    size_t cap = nsp + 64, n = 0;
    espfab_port_desc_t *d = calloc(cap, sizeof(*d));
    if (!d) {
        if (ports)
            sp_free_port_list(ports);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "listing serial ports");
    }
    for (size_t i = 0; i < nsp; i++) {
        espfab_port_desc_t *x = &d[n++];
        x->usb_vid = x->usb_pid = -1;
        const char *name = sp_get_port_name(ports[i]);
        snprintf(x->path, sizeof(x->path), "%s", name ? name : "?");
        if (sp_get_port_transport(ports[i]) == SP_TRANSPORT_USB) {
            int vid = -1, pid = -1;
            if (sp_get_port_usb_vid_pid(ports[i], &vid, &pid) == SP_OK) {
                x->usb_vid = vid;
                x->usb_pid = pid;
            }
            const char *s = sp_get_port_usb_serial(ports[i]);
            snprintf(x->serial, sizeof(x->serial), "%s", s ? s : "");
            s = sp_get_port_usb_manufacturer(ports[i]);
            snprintf(x->manufacturer, sizeof(x->manufacturer), "%s", s ? s : "");
            s = sp_get_port_usb_product(ports[i]);
            snprintf(x->product, sizeof(x->product), "%s", s ? s : "");
        }
    }
    if (ports)
        sp_free_port_list(ports);
    espfab_port__fill_links(d, &n, cap, "/dev/serial/by-path", "/dev/serial/by-id");
    for (size_t i = 0; i < n; i++)
        espfab_port__fill_bridge(&d[i]);
    qsort(d, n, sizeof(*d), cmp_desc);
    if (n == 0) {
        free(d);
        d = NULL;
    }
    *out = d;
    return (int)n;
}

void espfab_port__format_text(FILE *out, const espfab_port_desc_t *d, size_t n)
{
    if (n == 0) {
        fprintf(out, "no serial ports found.\n%s\n", espfab_err_hint(ESPFAB_E_PORT_NONE_PRESENT));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const espfab_port_desc_t *x = &d[i];
        fprintf(out, "%s", x->path);
        if (x->usb_vid >= 0)
            fprintf(out, "  %04x:%04x", (unsigned)x->usb_vid, (unsigned)x->usb_pid);
        else
            fprintf(out, "  (not USB)");
        if (x->bridge[0])
            fprintf(out, "  %s", x->bridge);
        else if (x->usb_vid >= 0)
            fprintf(out, "  unknown USB serial device");
        if (x->manufacturer[0] || x->product[0])
            fprintf(out, "  \"%s%s%s\"", x->manufacturer,
                    x->manufacturer[0] && x->product[0] ? " " : "", x->product);
        if (x->serial[0])
            fprintf(out, "  serial %s", x->serial);
        fputc('\n', out);
        if (x->by_path[0])
            fprintf(out, "    by-path: %s\n", x->by_path);
        if (x->by_id[0])
            fprintf(out, "    by-id:   %s\n", x->by_id);
    }
    bool any_usb = false;
    for (size_t i = 0; i < n; i++)
        any_usb |= d[i].usb_vid >= 0;
    if (!any_usb)
        fprintf(out, "no USB serial device among them: %s\n",
                espfab_err_hint(ESPFAB_E_PORT_NONE_PRESENT));
}

int espfab_port__pick(const espfab_port_desc_t *d, size_t n, size_t *index, espfab_fault_t *f)
{
    size_t usb = 0, at = 0;
    for (size_t i = 0; i < n; i++)
        if (d[i].usb_vid >= 0) {
            if (usb++ == 0)
                at = i;
        }
    if (usb == 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_NONE_PRESENT,
                                "--port not given and no USB serial port is present%s",
                                n ? " (the ports found are not USB: name one with --port)" : "");
    if (usb > 1)
        return espfab_fault_set(f, ESPFAB_E_PORT_AMBIGUOUS,
                                "--port not given and %zu USB serial ports are present; name one "
                                "with --port", usb);
    *index = at;
    return 0;
}

void espfab_port__format_choices(FILE *out, const espfab_port_desc_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const espfab_port_desc_t *x = &d[i];
        if (x->usb_vid < 0)
            continue;
        fprintf(out, "  %s  %04x:%04x  %s", x->path, (unsigned)x->usb_vid, (unsigned)x->usb_pid,
                x->bridge[0] ? x->bridge : "unknown USB serial device");
        if (x->serial[0])
            fprintf(out, "  serial %s", x->serial);
        if (x->by_path[0])
            fprintf(out, "  (%s)", x->by_path);
        fputc('\n', out);
    }
}

/* Empty strings are unknown values: null. */
static void json_opt(espfab_json_t *w, const char *key, const char *s)
{
    espfab_json_str(w, key, s && s[0] ? s : NULL);
}

void espfab_port__format_json(FILE *out, const espfab_port_desc_t *d, size_t n)
{
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        const espfab_port_desc_t *x = &d[i];
        fprintf(out, "%s\n  ", i ? "," : "");
        espfab_json_t w;
        espfab_json_init_file(&w, out, true);
        espfab_json_obj(&w, NULL);
        json_opt(&w, "path", x->path);
        json_opt(&w, "by_path", x->by_path);
        json_opt(&w, "by_id", x->by_id);
        char vp[16] = "";
        if (x->usb_vid >= 0) {
            espfab_json_int(&w, "usb_vid", x->usb_vid);
            espfab_json_int(&w, "usb_pid", x->usb_pid);
            snprintf(vp, sizeof(vp), "%04x:%04x", (unsigned)x->usb_vid & 0xffff,
                     (unsigned)x->usb_pid & 0xffff);
        } else {
            espfab_json_null(&w, "usb_vid");
            espfab_json_null(&w, "usb_pid");
        }
        json_opt(&w, "vid_pid", vp);
        json_opt(&w, "serial", x->serial);
        json_opt(&w, "manufacturer", x->manufacturer);
        json_opt(&w, "product", x->product);
        json_opt(&w, "bridge", x->bridge);
        espfab_json_end(&w);
    }
    fprintf(out, "%s]\n", n ? "\n" : "");
}

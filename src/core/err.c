/* err.c - the error table: names, messages, hints and fault formatting. */
#include "espfab/err.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    int code;
    const char *name;
    const char *msg;
    const char *hint;
} err_entry;

static const err_entry table[] = {
#define XX(name, num, msg, hint) {-(num), #name, msg, hint},
    ESPFAB_ERR_MAP(XX)
#undef XX
};

#define NTABLE (sizeof(table) / sizeof(table[0]))

static const err_entry *lookup(int code)
{
    for (size_t i = 0; i < NTABLE; i++)
        if (table[i].code == code)
            return &table[i];
    return NULL;
}

const char *espfab_err_name(int code)
{
    if (code == 0)
        return "OK";
    const err_entry *e = lookup(code);
    return e ? e->name : NULL;
}

const char *espfab_strerror(int code)
{
    if (code == 0)
        return "success";
    const err_entry *e = lookup(code);
    return e ? e->msg : "error code not in espfab's table (espfab bug)";
}

const char *espfab_err_hint(int code)
{
    const err_entry *e = lookup(code);
    return e ? e->hint : "";
}

int espfab_err_number(int code) { return code < 0 ? -code : code; }

int espfab_err_from_name(const char *name)
{
    if (!name)
        return 1;
    if (strncmp(name, "ESPFAB_E_", 9) == 0)
        name += 9;
    if (strcmp(name, "OK") == 0)
        return 0;
    for (size_t i = 0; i < NTABLE; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].code;
    return 1;
}

size_t espfab_err_count(void) { return NTABLE; }

int espfab_err_at(size_t i) { return i < NTABLE ? table[i].code : 0; }

const char *espfab_rom_error_name(int e)
{
    switch (e) {
    case 0x00: return "undefined error";
    case 0x01: return "invalid input parameter";
    case 0x02: return "out of memory";
    case 0x03: return "failed to send";
    case 0x04: return "failed to receive";
    case 0x05: return "invalid message / command not accepted";
    case 0x06: return "operation failed";
    case 0x07: return "bad data checksum";
    case 0x08: return "flash write error";
    case 0x09: return "flash read error";
    case 0x0A: return "flash read length error";
    case 0x0B: return "inflate (deflate data) error";
    case 0x0C: return "inflate Adler-32 error";
    case 0x0D: return "inflate parameter error";
    case 0x0E: return "invalid RAM binary size";
    case 0x0F: return "invalid RAM binary address";
    case 0x64: return "invalid parameter";
    case 0x65: return "invalid format";
    case 0x66: return "description too long";
    case 0x67: return "bad encoding description";
    case 0x69: return "insufficient storage";
    default: return "ROM error code not documented";
    }
}

const char *espfab_stub_error_name(int e)
{
    switch (e) {
    case 0x01: return "command failed (stub v1 reports every failure of this command as 0x01)";
    case 0xC0: return "bad data length";
    case 0xC1: return "bad data checksum";
    case 0xC2: return "bad block size";
    case 0xC3: return "invalid command";
    case 0xC4: return "SPI flash operation failed";
    case 0xC5: return "SPI flash unlock failed";
    case 0xC6: return "not in flash mode";
    case 0xC7: return "inflate error";
    case 0xC8: return "not enough data";
    case 0xC9: return "too much data";
    case 0xCA: return "NAND program failed";
    case 0xCB: return "NAND erase failed";
    case 0xFF: return "command not implemented";
    default: return "stub error code not documented";
    }
}

void espfab_fault_clear(espfab_fault_t *f)
{
    if (!f)
        return;
    memset(f, 0, sizeof(*f));
    f->rom_status = -1;
    f->rom_error = -1;
}

int espfab_fault_setv(espfab_fault_t *f, int code, const char *fmt, va_list ap)
{
    if (!f)
        return code;
    f->code = code;
    if (fmt)
        vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
    else
        f->detail[0] = '\0';
    return code;
}

int espfab_fault_set(espfab_fault_t *f, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    espfab_fault_setv(f, code, fmt, ap);
    va_end(ap);
    return code;
}

int espfab_fault_errno(espfab_fault_t *f, int code, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    espfab_fault_setv(f, code, fmt, ap);
    va_end(ap);
    if (f)
        f->sys_errno = err;
    return code;
}

char *espfab_fault_format(const espfab_fault_t *f, char *buf, size_t len)
{
    size_t n = 0;
    if (!buf || len == 0)
        return buf;
    buf[0] = '\0';
    if (!f)
        return buf;
#define APPEND(...)                                                    \
    do {                                                               \
        if (n < len) {                                                 \
            int w_ = snprintf(buf + n, len - n, __VA_ARGS__);          \
            if (w_ > 0)                                                \
                n += (size_t)w_;                                       \
        }                                                              \
    } while (0)
    APPEND("%s", espfab_strerror(f->code));
    if (f->detail[0])
        APPEND(": %s", f->detail);
    if (f->rom_error >= 0) {
        if (f->stub_error)
            APPEND(" [stub error 0x%02X %s]", f->rom_error, espfab_stub_error_name(f->rom_error));
        else
            APPEND(" [ROM error 0x%02X %s]", f->rom_error, espfab_rom_error_name(f->rom_error));
    }
    if (f->sys_errno)
        APPEND(" (errno %d %s)", f->sys_errno, strerror(f->sys_errno));
    if (f->retries > 1)
        APPEND(" after %d attempts", f->retries);
    const char *hint = espfab_err_hint(f->code);
    if (hint && hint[0])
        APPEND(" -> %s", hint);
#undef APPEND
    return buf;
}

/*
 * espsim register file: a sparse map (default 0) seeded with the chip's
 * magic word, eFuse MAC and revision words, UART divider and the ESP32 RTC
 * calibration words, plus the SPI user-command engine that answers RDID
 * (0x9F), SFDP (0x5A) and status reads when CMD bit 18 is written, and
 * the watchdog registers of S2/S3/C3/C6/H2/P4: write protection of the RTC
 * watchdog (RWDT) and the super watchdog (SWD), and the reset that follows
 * when a host enables the RWDT (esptool's watchdog_reset).
 */
#include <stdio.h>
#include <stdlib.h>

#include "espsim.h"

#define SPI_CMD_USR (1u << 18)

static sim_reg_t *find(sim_board_t *b, uint32_t addr)
{
    for (size_t i = 0; i < b->nregs; i++)
        if (b->regs[i].addr == addr)
            return &b->regs[i];
    return NULL;
}

uint32_t sim_reg_read(sim_board_t *b, uint32_t addr)
{
    sim_reg_t *r = find(b, addr);
    return r ? r->val : 0;
}

void sim_reg_set(sim_board_t *b, uint32_t addr, uint32_t val)
{
    sim_reg_t *r = find(b, addr);
    if (r) {
        r->val = val;
        return;
    }
    if (b->nregs == b->capregs) {
        size_t cap = b->capregs ? b->capregs * 2 : 64;
        sim_reg_t *n = realloc(b->regs, cap * sizeof *n);
        if (!n)
            abort();
        b->regs = n;
        b->capregs = cap;
    }
    b->regs[b->nregs].addr = addr;
    b->regs[b->nregs].val = val;
    b->nregs++;
}

static void or_reg(sim_board_t *b, uint32_t addr, uint32_t bits)
{
    sim_reg_set(b, addr, sim_reg_read(b, addr) | bits);
}

/* Standard ESP32-family MAC layout: w0 = MAC[2..5], w1[15:0] = MAC[0..1]. */
static void seed_mac(sim_board_t *b, uint32_t w0addr)
{
    const uint8_t *m = b->mac;
    or_reg(b, w0addr, (uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 |
                          (uint32_t)m[4] << 8 | m[5]);
    or_reg(b, w0addr + 4, (uint32_t)m[0] << 8 | m[1]);
}

/* S3 and C3 share the revision layout relative to eFuse BLOCK1. */
static void seed_rev_s3c3(sim_board_t *b, uint32_t b1, int major, int minor)
{
    or_reg(b, b1 + 20, (uint32_t)(major & 3) << 24 |
                           (uint32_t)((minor >> 3) & 1) << 23);
    or_reg(b, b1 + 12, (uint32_t)(minor & 7) << 18);
}

/* ESP8266: the chip id's top byte (OTP m1[23:16]); any non-zero value
 * other than 1 (with m3 = 0 it would select the OUI AC:D0:74). */
#define ESP8266_ID_HIGH 0x02u

void sim_regs_seed(sim_board_t *b, uint32_t seed)
{
    const sim_chip_t *c = b->chip;
    int major = b->rev / 100, minor = b->rev % 100;
    (void)seed;
    if (c->has_magic)
        sim_reg_set(b, 0x40001000u, c->magic);
    if (c->uart_clkdiv_reg)
        sim_reg_set(b, c->uart_clkdiv_reg, c->uart_clkdiv);

    switch (b->chip_id) {
    case SIM_ESP8266: {
        /* OTP words 0x3FF00050 (m0), ..54 (m1), ..5C (m3).  m3 holds the
         * OUI (non-zero m3 wins over m1[23:16], protocol 4.4), which
         * leaves m1[23:16] to the chip id: esptool's ESP8266 chip_id() is
         * m0[31:24] | m1[23:0] << 8, so it is never 0, even for the MAC
         * xx:xx:xx:00:00:00 of board 0 with seed 0. */
        const uint8_t *m = b->mac;
        sim_reg_set(b, 0x3FF00050u, (uint32_t)m[5] << 24);
        sim_reg_set(b, 0x3FF00054u, (uint32_t)ESP8266_ID_HIGH << 16 |
                                        (uint32_t)m[3] << 8 | m[4]);
        sim_reg_set(b, 0x3FF0005Cu, (uint32_t)m[0] << 16 |
                                        (uint32_t)m[1] << 8 | m[2]);
        break;
    }
    case SIM_ESP32: {
        const uint32_t ef = 0x3FF5A000u;
        int code = major >= 3 ? 7 : major == 2 ? 3 : major == 1 ? 1 : 0;
        seed_mac(b, ef + 4);
        if (code & 1)
            or_reg(b, ef + 12, 1u << 15);
        if (code & 2)
            or_reg(b, ef + 20, 1u << 20);
        if (code & 4)
            or_reg(b, 0x3FF6607Cu, 1u << 31);
        or_reg(b, ef + 20, (uint32_t)(minor & 3) << 24);
        /* RTC calibration so that the ROM baud workaround sees ~40 MHz:
         * ((cal >> 7) & 0x1FFFFFF) * 15625 * (word4 & 0xFF) / 40 = 40e6. */
        sim_reg_set(b, 0x3FF5F06Cu, 2560u << 7);
        or_reg(b, ef + 16, 40);
        break;
    }
    case SIM_ESP32S2: {
        const uint32_t b1 = 0x3F41A044u;
        seed_mac(b, b1);
        or_reg(b, b1 + 12, (uint32_t)(major & 3) << 18 |
                               (uint32_t)((minor >> 3) & 1) << 20);
        or_reg(b, b1 + 16, (uint32_t)(minor & 7) << 4);
        break;
    }
    case SIM_ESP32S3:
        seed_mac(b, 0x60007044u);
        seed_rev_s3c3(b, 0x60007044u, major, minor);
        break;
    case SIM_ESP32C3:
        seed_mac(b, 0x60008844u);
        seed_rev_s3c3(b, 0x60008844u, major, minor);
        break;
    case SIM_ESP32C2:
        seed_mac(b, 0x60008840u);
        or_reg(b, 0x60008844u, (uint32_t)(major & 3) << 20 |
                                   (uint32_t)(minor & 0xF) << 16);
        break;
    case SIM_ESP32C6:
        seed_mac(b, 0x600B0844u);
        or_reg(b, 0x600B0850u, (uint32_t)(major & 3) << 22 |
                                   (uint32_t)(minor & 0xF) << 18);
        break;
    case SIM_ESP32H2:
        seed_mac(b, 0x600B0844u);
        or_reg(b, 0x600B0850u, (uint32_t)(major & 3) << 21 |
                                   (uint32_t)(minor & 7) << 18);
        break;
    case SIM_ESP32P4:
        seed_mac(b, 0x5012D044u);
        or_reg(b, 0x5012D04Cu, (uint32_t)((major >> 2) & 1) << 23 |
                                   (uint32_t)(major & 3) << 4 |
                                   (uint32_t)(minor & 0xF));
        break;
    default:
        break;
    }
}

static void spi_execute(sim_board_t *b)
{
    const sim_chip_t *c = b->chip;
    uint32_t op = sim_reg_read(b, c->spi_base + c->spi_usr2) & 0xFF;
    uint32_t addr = sim_reg_read(b, c->spi_base + 0x04);
    uint32_t w0 = c->spi_base + c->spi_w0;
    if (c->spi_addr_msb)
        addr >>= 8; /* 24-bit address left-aligned in a 32-bit register */
    switch (op) {
    case 0x9F:
        sim_reg_set(b, w0, b->jedec & 0xFFFFFF);
        break;
    case 0x5A:
        if (addr == 0)
            sim_reg_set(b, w0, 0x50444653u); /* "SFDP" */
        else if (addr == 0x10)
            sim_reg_set(b, w0, b->jedec & 0xFF);
        else
            sim_reg_set(b, w0, 0);
        break;
    case 0x05: case 0x35: case 0x15:
        sim_reg_set(b, w0, 0);
        break;
    default:
        break; /* WREN, reset 0x66/0x99 and friends: no-op */
    }
}

void sim_regs_usb_reset(sim_board_t *b, bool power_on)
{
    const sim_chip_t *c = b->chip;
    if (b->usb == SIM_USB_NONE)
        return;
    if (c->wdt_config0) {
        sim_reg_set(b, c->wdt_config0, 1u << 31); /* RWDT enabled */
        sim_reg_set(b, c->wdt_wprotect, 0);       /* locked */
    }
    if (c->swd_conf) {
        sim_reg_set(b, c->swd_conf, 0); /* SWD not auto-fed */
        sim_reg_set(b, c->swd_wprotect, 0);
    }
    if (c->gpio_strap) /* USB download: the boot pin is not held low */
        sim_reg_set(b, c->gpio_strap, c->strap_spi_boot);
    if (power_on && c->option1)
        sim_reg_set(b, c->option1, 0);
}

bool sim_regs_wdt_armed(sim_board_t *b, bool *rwdt, bool *swd)
{
    const sim_chip_t *c = b->chip;
    bool r = c->wdt_config0 && (sim_reg_read(b, c->wdt_config0) & (1u << 31));
    bool s = c->swd_conf && !(sim_reg_read(b, c->swd_conf) & c->swd_auto_feed);
    if (rwdt)
        *rwdt = r;
    if (swd)
        *swd = s;
    return r || s;
}

/* Watchdog registers: the RWDT's configuration takes writes only while
 * WDTWPROTECT holds the key, the SWD's only while SWD_WPROTECT holds its
 * key.  Enabling the RWDT (bit 31) resets the board shortly after (the
 * WRITE_REG reply goes out first).  Returns true when the write is
 * swallowed. */
static bool wdt_write(sim_board_t *b, uint32_t addr, uint32_t val)
{
    const sim_chip_t *c = b->chip;
    bool locked;
    if (c->wdt_config0 && (addr == c->wdt_config0 || addr == c->wdt_config1)) {
        locked = sim_reg_read(b, c->wdt_wprotect) != c->wdt_key;
        if (locked) {
            if (b->verbose)
                fprintf(stderr, "espsim: board %d WRITE_REG 0x%08x = 0x%08x "
                        "ignored: RTC WDT write-protected\n", b->index,
                        (unsigned)addr, (unsigned)val);
            return true;
        }
        if (addr == c->wdt_config0 && (val & (1u << 31))) {
            double at = (b->busy_until > b->now ? b->busy_until : b->now) +
                        SIM_WDT_RESET_S;
            if (!(b->wdt_reset_at > 0 && b->wdt_reset_at <= at))
                b->wdt_reset_at = at;
            if (b->verbose)
                fprintf(stderr, "espsim: board %d RTC WDT enabled "
                        "(config0=0x%08x): reset at t=%.3f\n", b->index,
                        (unsigned)val, b->wdt_reset_at);
        }
        return false;
    }
    if (c->swd_conf && addr == c->swd_conf) {
        locked = sim_reg_read(b, c->swd_wprotect) != c->swd_key;
        if (locked && b->verbose)
            fprintf(stderr, "espsim: board %d WRITE_REG 0x%08x = 0x%08x "
                    "ignored: super WDT write-protected\n", b->index,
                    (unsigned)addr, (unsigned)val);
        return locked;
    }
    return false;
}

void sim_reg_write(sim_board_t *b, uint32_t addr, uint32_t val)
{
    const sim_chip_t *c = b->chip;
    if (wdt_write(b, addr, val))
        return;
    if (addr == c->spi_base && (val & SPI_CMD_USR)) {
        spi_execute(b);
        sim_reg_set(b, addr, val & ~SPI_CMD_USR); /* command done */
        return;
    }
    sim_reg_set(b, addr, val);
}

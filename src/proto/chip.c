/*
 * chip.c - the chip table (docs/protocol.md 4.1-4.6) and the pure decoders for
 * MAC, revision, crystal, ROM baud quirks, SPI user-command plans and JEDEC
 * ids (4.3, 4.4).  Const data only; thread-safe.
 */
#include "espfab/chip.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "espfab/err.h"

/* SPI register layout shared by S2, S3, C2, C3, C6, H2 and P4. */
#define SPI_NEW(base)                                                                     \
    .spi_base = (base), .spi_usr = 0x18, .spi_usr1 = 0x1C, .spi_usr2 = 0x20,              \
    .spi_mosi_dlen = 0x24, .spi_miso_dlen = 0x28, .spi_w0 = 0x58, .spi_has_dlen = true,   \
    .spi_addr_left_aligned = false

/* Every ESP32-family ROM after the ESP32 itself (docs/protocol.md 4.3). */
#define ROM_NEW                                                                           \
    .rom_status_len = 4, .rom_deflate = true, .rom_md5 = true, .rom_change_baud = true,   \
    .rom_spi_attach = true, .rom_secinfo = true, .rom_begin_encrypted_word = true

static const espfab_chip_t chips[ESPFAB_CHIP_COUNT] = {
    [ESPFAB_CHIP_ESP8266] = {
        .id = ESPFAB_CHIP_ESP8266, .name = "ESP8266", .key = "esp8266",
        .magic = {0xFFF0C101u}, .nmagic = 1, .image_chip_id = -1,
        .bootloader_offset = 0x0, .uart_clkdiv_reg = 0x60000014u, .xtal_factor = 2,
        .xtal_fixed_mhz = 0, .mac_reg = 0x3FF00050u, .uart_date_reg = 0x60000078u,
        .rom_status_len = 2,
        .spi_base = 0x60000200u, .spi_usr = 0x1C, .spi_usr1 = 0x20, .spi_usr2 = 0x24,
        .spi_mosi_dlen = 0, .spi_miso_dlen = 0, .spi_w0 = 0x40, .spi_has_dlen = false,
        .spi_addr_left_aligned = true,
        .stub_file = "esp8266.json", .stub_file_legacy = "stub_flasher_8266.json",
    },
    [ESPFAB_CHIP_ESP32] = {
        .id = ESPFAB_CHIP_ESP32, .name = "ESP32", .key = "esp32",
        .magic = {0x00F01D83u}, .nmagic = 1, .image_chip_id = 0,
        .bootloader_offset = 0x1000, .uart_clkdiv_reg = 0x3FF40014u, .xtal_factor = 1,
        .xtal_fixed_mhz = 0, .mac_reg = 0x3FF5A004u, .uart_date_reg = 0x60000078u,
        .rom_status_len = 4, .rom_deflate = true, .rom_md5 = true, .rom_change_baud = true,
        .rom_spi_attach = true, .rom_secinfo = false, .rom_begin_encrypted_word = false,
        .spi_base = 0x3FF42000u, .spi_usr = 0x1C, .spi_usr1 = 0x20, .spi_usr2 = 0x24,
        .spi_mosi_dlen = 0x28, .spi_miso_dlen = 0x2C, .spi_w0 = 0x80, .spi_has_dlen = true,
        .spi_addr_left_aligned = true,
        .stub_file = "esp32.json", .stub_file_legacy = "stub_flasher_32.json",
    },
    [ESPFAB_CHIP_ESP32S2] = {
        .id = ESPFAB_CHIP_ESP32S2, .name = "ESP32-S2", .key = "esp32s2",
        .magic = {0x000007C6u}, .nmagic = 1, .image_chip_id = 2,
        .bootloader_offset = 0x1000, .uart_clkdiv_reg = 0, .xtal_factor = 1,
        .xtal_fixed_mhz = 40, .mac_reg = 0x3F41A044u, .uart_date_reg = 0x60000078u,
        ROM_NEW, SPI_NEW(0x3F402000u),
        .stub_file = "esp32s2.json", .stub_file_legacy = "stub_flasher_32s2.json",
        .usb_otg = true, .wdt_config0 = 0x3F408094u, .wdt_config1 = 0x3F408098u,
        .wdt_wprotect = 0x3F4080ACu, .strap_reg = 0x3F404038u, .strap_spi_boot = 1u << 3,
        .option1_reg = 0x3F408128u, .force_dl = 0x1,
    },
    [ESPFAB_CHIP_ESP32S3] = {
        .id = ESPFAB_CHIP_ESP32S3, .name = "ESP32-S3", .key = "esp32s3",
        .magic = {0x00000009u}, .nmagic = 1, .image_chip_id = 9,
        .bootloader_offset = 0x0, .uart_clkdiv_reg = 0, .xtal_factor = 1,
        .xtal_fixed_mhz = 40, .mac_reg = 0x60007044u, .uart_date_reg = 0x60000080u,
        ROM_NEW, SPI_NEW(0x60002000u),
        .stub_file = "esp32s3.json", .stub_file_legacy = "stub_flasher_32s3.json",
        .usb_jtag = true, .usb_otg = true, .reset_clears_force_dl = true,
        .wdt_config0 = 0x60008098u, .wdt_config1 = 0x6000809Cu, .wdt_wprotect = 0x600080B0u,
        .swd_conf = 0x600080B4u, .swd_wprotect = 0x600080B8u, .swd_wkey = 0x8F1D312Au,
        .swd_auto_feed = 1u << 31, .strap_reg = 0x60004038u, .strap_spi_boot = 1u << 3,
        .option1_reg = 0x6000812Cu, .force_dl = 0x1,
    },
    [ESPFAB_CHIP_ESP32C2] = {
        .id = ESPFAB_CHIP_ESP32C2, .name = "ESP32-C2", .key = "esp32c2",
        .magic = {0x6F51306Fu, 0x7C41A06Fu, 0x0C21E06Fu}, .nmagic = 3, .image_chip_id = 12,
        .bootloader_offset = 0x0, .uart_clkdiv_reg = 0x60000014u, .xtal_factor = 1,
        .xtal_fixed_mhz = 0, .mac_reg = 0x60008840u, .uart_date_reg = 0x6000007Cu, /* as C3 */
        ROM_NEW, SPI_NEW(0x60002000u),
        .stub_file = "esp32c2.json", .stub_file_legacy = "stub_flasher_32c2.json",
    },
    [ESPFAB_CHIP_ESP32C3] = {
        .id = ESPFAB_CHIP_ESP32C3, .name = "ESP32-C3", .key = "esp32c3",
        .magic = {0x6921506Fu, 0x1B31506Fu, 0x4881606Fu, 0x4361606Fu}, .nmagic = 4,
        .image_chip_id = 5, .bootloader_offset = 0x0, .uart_clkdiv_reg = 0, .xtal_factor = 1,
        .xtal_fixed_mhz = 40, .mac_reg = 0x60008844u, .uart_date_reg = 0x6000007Cu,
        ROM_NEW, SPI_NEW(0x60002000u),
        .stub_file = "esp32c3.json", .stub_file_legacy = "stub_flasher_32c3.json",
        .usb_jtag = true, .wdt_config0 = 0x60008090u, .wdt_config1 = 0x60008094u,
        .wdt_wprotect = 0x600080A8u, .swd_conf = 0x600080ACu, .swd_wprotect = 0x600080B0u,
        .swd_wkey = 0x8F1D312Au, .swd_auto_feed = 1u << 31,
    },
    [ESPFAB_CHIP_ESP32C6] = {
        .id = ESPFAB_CHIP_ESP32C6, .name = "ESP32-C6", .key = "esp32c6",
        .magic = {0x2CE0806Fu}, .nmagic = 1, .image_chip_id = 13,
        .bootloader_offset = 0x0, .uart_clkdiv_reg = 0, .xtal_factor = 1,
        .xtal_fixed_mhz = 40, .mac_reg = 0x600B0844u, .uart_date_reg = 0x6000007Cu,
        ROM_NEW, SPI_NEW(0x60003000u),
        .stub_file = "esp32c6.json", .stub_file_legacy = "stub_flasher_32c6.json",
        .usb_jtag = true, .wdt_config0 = 0x600B1C00u, .wdt_config1 = 0x600B1C04u,
        .wdt_wprotect = 0x600B1C18u, .swd_conf = 0x600B1C1Cu, .swd_wprotect = 0x600B1C20u,
        .swd_wkey = ESPFAB_WDT_KEY, .swd_auto_feed = 1u << 18,
    },
    [ESPFAB_CHIP_ESP32H2] = {
        .id = ESPFAB_CHIP_ESP32H2, .name = "ESP32-H2", .key = "esp32h2",
        .magic = {0xD7B73E80u}, .nmagic = 1, .image_chip_id = 16,
        .bootloader_offset = 0x0, .uart_clkdiv_reg = 0, .xtal_factor = 1,
        .xtal_fixed_mhz = 32, .mac_reg = 0x600B0844u, .uart_date_reg = 0x6000007Cu,
        ROM_NEW, SPI_NEW(0x60003000u),
        .stub_file = "esp32h2.json", .stub_file_legacy = "stub_flasher_32h2.json",
        .usb_jtag = true, .wdt_config0 = 0x600B1C00u, .wdt_config1 = 0x600B1C04u,
        .wdt_wprotect = 0x600B1C1Cu, .swd_conf = 0x600B1C20u, .swd_wprotect = 0x600B1C24u,
        .swd_wkey = ESPFAB_WDT_KEY, .swd_auto_feed = 1u << 18,
    },
    /* No magic: reading 0x40001000 crashes ECO5+ ROMs; detect by security info. */
    [ESPFAB_CHIP_ESP32P4] = {
        .id = ESPFAB_CHIP_ESP32P4, .name = "ESP32-P4", .key = "esp32p4",
        .magic = {0}, .nmagic = 0, .image_chip_id = 18,
        .bootloader_offset = 0x2000, .uart_clkdiv_reg = 0, .xtal_factor = 1,
        .xtal_fixed_mhz = 40, .mac_reg = 0x5012D044u, .uart_date_reg = 0x500CA08Cu,
        ROM_NEW, SPI_NEW(0x5008D000u),
        .stub_file = "esp32p4.json", .stub_file_legacy = "stub_flasher_32p4.json",
        .usb_jtag = true, .usb_otg = true, .otg_reset_by_wdt = true,
        .wdt_config0 = 0x50116000u, .wdt_config1 = 0x50116004u, .wdt_wprotect = 0x50116018u,
        .swd_conf = 0x5011601Cu, .swd_wprotect = 0x50116020u, .swd_wkey = ESPFAB_WDT_KEY,
        .swd_auto_feed = 1u << 18, .strap_reg = 0x500E0038u, .strap_spi_boot = 0x8,
        .option1_reg = 0x50110008u, .force_dl = 0x4,
    },
};

const espfab_chip_t *espfab_chip_get(espfab_chip_id_t id)
{
    if ((int)id < 0 || id >= ESPFAB_CHIP_COUNT)
        return NULL;
    return &chips[id];
}

const espfab_chip_t *espfab_chip_by_key(const char *key)
{
    char norm[32];
    size_t n = 0;
    if (!key)
        return NULL;
    for (const char *p = key; *p; p++) {
        if (*p == '-' || *p == '_')
            continue;
        if (n + 1 >= sizeof(norm))
            return NULL;
        norm[n++] = (char)tolower((unsigned char)*p);
    }
    norm[n] = '\0';
    for (int i = 0; i < ESPFAB_CHIP_COUNT; i++)
        if (strcmp(norm, chips[i].key) == 0)
            return &chips[i];
    return NULL;
}

const espfab_chip_t *espfab_chip_by_magic(uint32_t magic)
{
    for (int i = 0; i < ESPFAB_CHIP_COUNT; i++)
        for (int j = 0; j < chips[i].nmagic; j++)
            if (chips[i].magic[j] == magic)
                return &chips[i];
    return NULL;
}

const espfab_chip_t *espfab_chip_by_image_id(int image_chip_id)
{
    if (image_chip_id < 0)
        return NULL;
    for (int i = 0; i < ESPFAB_CHIP_COUNT; i++)
        if (chips[i].image_chip_id == image_chip_id)
            return &chips[i];
    return NULL;
}

const char *espfab_chip_keys(void)
{
    return "esp8266, esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c6, esp32h2, esp32p4";
}

/* ---- registers ---------------------------------------------------------- */

#define ESP8266_OTP_M0 0x3FF00050u
#define ESP8266_OTP_M1 0x3FF00054u
#define ESP8266_OTP_M3 0x3FF0005Cu
#define ESP32_EFUSE(n) (0x3FF5A000u + 4u * (n))
#define ESP32_APB_CTL_DATE 0x3FF6607Cu
#define ESP32_RTCCALICFG1 0x3FF5F06Cu
#define S2_B1 0x3F41A044u
#define S3_B1 0x60007044u
#define S3_BLOCK2 0x6000705Cu
#define C2_BLOCK2 0x60008840u
#define C3_B1 0x60008844u
#define C6_B1 0x600B0844u
#define P4_B1 0x5012D044u

static size_t add(uint32_t *addrs, size_t cap, size_t n, uint32_t a)
{
    for (size_t i = 0; i < n && i < cap; i++)
        if (addrs[i] == a)
            return n;
    if (n < cap)
        addrs[n] = a;
    return n + 1;
}

size_t espfab_chip_info_regs(const espfab_chip_t *c, uint32_t *addrs, size_t cap)
{
    uint32_t want[16];
    size_t n = 0;
    if (!c)
        return 0;
    switch (c->id) {
    case ESPFAB_CHIP_ESP8266:
        n = add(want, 16, n, ESP8266_OTP_M0);
        n = add(want, 16, n, ESP8266_OTP_M1);
        n = add(want, 16, n, ESP8266_OTP_M3);
        break;
    case ESPFAB_CHIP_ESP32:
        for (uint32_t w = 1; w <= 5; w++) /* MAC 1-2, revision 3 and 5, 8M clock 4 */
            n = add(want, 16, n, ESP32_EFUSE(w));
        n = add(want, 16, n, ESP32_APB_CTL_DATE);
        n = add(want, 16, n, ESP32_RTCCALICFG1);
        break;
    case ESPFAB_CHIP_ESP32S2:
        n = add(want, 16, n, S2_B1 + 12);
        n = add(want, 16, n, S2_B1 + 16);
        break;
    case ESPFAB_CHIP_ESP32S3:
        n = add(want, 16, n, S3_B1 + 12);
        n = add(want, 16, n, S3_B1 + 20);
        n = add(want, 16, n, S3_BLOCK2 + 16);
        break;
    case ESPFAB_CHIP_ESP32C2:
        n = add(want, 16, n, C2_BLOCK2 + 4);
        break;
    case ESPFAB_CHIP_ESP32C3:
        n = add(want, 16, n, C3_B1 + 12);
        n = add(want, 16, n, C3_B1 + 20);
        break;
    case ESPFAB_CHIP_ESP32C6:
    case ESPFAB_CHIP_ESP32H2:
        n = add(want, 16, n, C6_B1 + 12);
        break;
    case ESPFAB_CHIP_ESP32P4:
        n = add(want, 16, n, P4_B1 + 8);
        n = add(want, 16, n, ESPFAB_P4_EFUSE_RD_REPEAT_DATA1); /* flash power (v3.2) */
        break;
    default:
        return 0;
    }
    if (c->id != ESPFAB_CHIP_ESP8266) {
        n = add(want, 16, n, c->mac_reg);
        n = add(want, 16, n, c->mac_reg + 4);
    }
    if (!c->xtal_fixed_mhz && c->uart_clkdiv_reg)
        n = add(want, 16, n, c->uart_clkdiv_reg);
    size_t out = 0;
    for (size_t i = 0; i < n && out < cap; i++)
        addrs[out++] = want[i];
    return out;
}

static uint32_t reg(const espfab_reg_t *regs, size_t n, uint32_t addr)
{
    for (size_t i = 0; regs && i < n; i++)
        if (regs[i].addr == addr)
            return regs[i].value;
    return 0;
}

int espfab_chip_xtal_mhz(const espfab_chip_t *c, uint32_t clkdiv, uint32_t read_baud)
{
    if (!c)
        return 0;
    if (c->xtal_fixed_mhz)
        return c->xtal_fixed_mhz;
    double est = (double)read_baud * (double)(clkdiv & 0xFFFFFu) / 1e6 /
                 (double)(c->xtal_factor > 0 ? c->xtal_factor : 1);
    if (est > 45.0)
        return 48;
    if (est > 33.0)
        return 40;
    return 26;
}

static void mac_from_words(uint32_t w0, uint32_t w1, uint8_t mac[6])
{
    mac[0] = (uint8_t)(w1 >> 8);
    mac[1] = (uint8_t)w1;
    mac[2] = (uint8_t)(w0 >> 24);
    mac[3] = (uint8_t)(w0 >> 16);
    mac[4] = (uint8_t)(w0 >> 8);
    mac[5] = (uint8_t)w0;
}

static int esp8266_mac(const espfab_reg_t *regs, size_t n, espfab_chip_info_t *out)
{
    uint32_t m0 = reg(regs, n, ESP8266_OTP_M0), m1 = reg(regs, n, ESP8266_OTP_M1);
    uint32_t m3 = reg(regs, n, ESP8266_OTP_M3);
    uint8_t oui[3];
    if (m3 != 0) {
        oui[0] = (uint8_t)(m3 >> 16);
        oui[1] = (uint8_t)(m3 >> 8);
        oui[2] = (uint8_t)m3;
    } else if (((m1 >> 16) & 0xFF) == 0) {
        oui[0] = 0x18; oui[1] = 0xFE; oui[2] = 0x34;
    } else if (((m1 >> 16) & 0xFF) == 1) {
        oui[0] = 0xAC; oui[1] = 0xD0; oui[2] = 0x74;
    } else {
        return ESPFAB_E_CHIP_UNKNOWN;
    }
    memcpy(out->mac, oui, 3);
    out->mac[3] = (uint8_t)(m1 >> 8);
    out->mac[4] = (uint8_t)m1;
    out->mac[5] = (uint8_t)(m0 >> 24);
    out->esp8266_chip_id = (m0 >> 24) | ((m1 & 0xFFFFFFu) << 8);
    return 0;
}

static void revision(const espfab_chip_t *c, const espfab_reg_t *regs, size_t n, int *maj,
                     int *min)
{
    uint32_t w, x;
    switch (c->id) {
    case ESPFAB_CHIP_ESP32: {
        uint32_t w3 = reg(regs, n, ESP32_EFUSE(3)), w5 = reg(regs, n, ESP32_EFUSE(5));
        uint32_t apb = reg(regs, n, ESP32_APB_CTL_DATE);
        unsigned code = (((apb >> 31) & 1u) << 2) | (((w5 >> 20) & 1u) << 1) | ((w3 >> 15) & 1u);
        *maj = code == 1 ? 1 : code == 3 ? 2 : code == 7 ? 3 : 0;
        *min = (int)((w5 >> 24) & 3u);
        break;
    }
    case ESPFAB_CHIP_ESP32S2:
        w = reg(regs, n, S2_B1 + 12);
        x = reg(regs, n, S2_B1 + 16);
        *maj = (int)((w >> 18) & 3u);
        *min = (int)((((w >> 20) & 1u) << 3) + ((x >> 4) & 7u));
        break;
    case ESPFAB_CHIP_ESP32S3:
    case ESPFAB_CHIP_ESP32C3: {
        uint32_t b1 = c->id == ESPFAB_CHIP_ESP32S3 ? S3_B1 : C3_B1;
        w = reg(regs, n, b1 + 20);
        x = reg(regs, n, b1 + 12);
        *maj = (int)((w >> 24) & 3u);
        *min = (int)((((w >> 23) & 1u) << 3) + ((x >> 18) & 7u));
        if (c->id == ESPFAB_CHIP_ESP32S3) {
            /* v0.0 parts reused the major field: block version 1.1 says so. */
            uint32_t blk_major = reg(regs, n, S3_BLOCK2 + 16) & 3u;
            uint32_t blk_minor = (x >> 24) & 7u;
            if ((*min & 7) == 0 && blk_major == 1 && blk_minor == 1) {
                *maj = 0;
                *min = 0;
            }
        }
        break;
    }
    case ESPFAB_CHIP_ESP32C2:
        w = reg(regs, n, C2_BLOCK2 + 4);
        *maj = (int)((w >> 20) & 3u);
        *min = (int)((w >> 16) & 0xFu);
        break;
    case ESPFAB_CHIP_ESP32C6:
        w = reg(regs, n, C6_B1 + 12);
        *maj = (int)((w >> 22) & 3u);
        *min = (int)((w >> 18) & 0xFu);
        break;
    case ESPFAB_CHIP_ESP32H2:
        w = reg(regs, n, C6_B1 + 12);
        *maj = (int)((w >> 21) & 3u);
        *min = (int)((w >> 18) & 7u);
        break;
    case ESPFAB_CHIP_ESP32P4:
        w = reg(regs, n, P4_B1 + 8);
        *maj = (int)((((w >> 23) & 1u) << 2) | ((w >> 4) & 3u));
        *min = (int)(w & 0xFu);
        break;
    default:
        *maj = -1;
        *min = -1;
        break;
    }
}

int espfab_chip_decode_info(const espfab_chip_t *c, const espfab_reg_t *regs, size_t n,
                            uint32_t baud, espfab_chip_info_t *out)
{
    memset(out, 0, sizeof(*out));
    out->rev_major = out->rev_minor = out->rev_full = -1;
    if (!c || c->id < 0 || c->id >= ESPFAB_CHIP_COUNT)
        return ESPFAB_E_CHIP_UNKNOWN;
    out->xtal_mhz = espfab_chip_xtal_mhz(c, c->uart_clkdiv_reg ? reg(regs, n, c->uart_clkdiv_reg) : 0,
                                         baud);
    if (c->id == ESPFAB_CHIP_ESP8266) {
        int rc = esp8266_mac(regs, n, out);
        snprintf(out->description, sizeof(out->description), "%s", c->name);
        return rc;
    }
    mac_from_words(reg(regs, n, c->mac_reg), reg(regs, n, c->mac_reg + 4), out->mac);
    revision(c, regs, n, &out->rev_major, &out->rev_minor);
    out->rev_full = out->rev_major * 100 + out->rev_minor;
    snprintf(out->description, sizeof(out->description), "%s (revision v%d.%d)", c->name,
             out->rev_major, out->rev_minor);
    return 0;
}

uint32_t espfab_chip_rom_baud_at(const espfab_chip_t *c, const espfab_reg_t *regs, size_t n,
                                 uint32_t read_baud, uint32_t baud)
{
    if (!c)
        return baud;
    if (c->id == ESPFAB_CHIP_ESP32) {
        /* The ROM derives its UART clock from a drifting 8 MHz calibration. */
        double cali = (double)((reg(regs, n, ESP32_RTCCALICFG1) >> 7) & 0x1FFFFFFu);
        double ck8m = (double)(reg(regs, n, ESP32_EFUSE(4)) & 0xFFu);
        double rom_freq = cali * 15625.0 * ck8m / 40.0;
        if (rom_freq <= 0.0)
            return baud; /* registers not readable: sending 0 would kill the link */
        double valid = rom_freq > 33000000.0 ? 40000000.0 : 26000000.0;
        double v = floor((double)baud * rom_freq / valid);
        return v >= 4294967295.0 ? UINT32_MAX : (uint32_t)v; /* garbage registers */
    }
    if (c->id == ESPFAB_CHIP_ESP32C2) {
        uint32_t div = reg(regs, n, c->uart_clkdiv_reg);
        if (espfab_chip_xtal_mhz(c, div, read_baud) == 26) {
            uint64_t v = (uint64_t)baud * 40u / 26u;
            return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
        }
    }
    return baud;
}

uint32_t espfab_chip_rom_baud(const espfab_chip_t *c, const espfab_reg_t *regs, size_t n,
                              uint32_t baud)
{
    return espfab_chip_rom_baud_at(c, regs, n, 115200, baud);
}

/* ---- SPI user commands -------------------------------------------------- */

#define SPI_CMD_USR (1u << 18)
#define SPI_USR_COMMAND (1u << 31)
#define SPI_USR_ADDR (1u << 30)
#define SPI_USR_DUMMY (1u << 29)
#define SPI_USR_MISO (1u << 28)
#define SPI_USR2_CMD_LEN_SHIFT 28
#define SPI_USR_ADDR_LEN_SHIFT 26
#define ESP8266_MISO_BITLEN_SHIFT 8
#define ESP8266_MOSI_BITLEN_SHIFT 17

size_t espfab_chip_spi_plan(const espfab_chip_t *c, uint8_t opcode, bool has_addr,
                            uint32_t addr, int miso_bits, espfab_regop_t *ops, size_t cap)
{
    espfab_regop_t p[12];
    size_t n = 0;
    if (!c || !ops || miso_bits < 0 || miso_bits > 512)
        return 0;
    uint32_t base = c->spi_base;
    const uint32_t addr_bits = 24, dummy_bits = 8;
    uint32_t usr1 = 0;
    if (has_addr)
        usr1 |= (addr_bits - 1) << SPI_USR_ADDR_LEN_SHIFT | (dummy_bits - 1);

#define OP(k, a, v, m) (p[n++] = (espfab_regop_t){(k), (a), (v), (m)})
    if (c->spi_has_dlen) {
        if (miso_bits > 0)
            OP(ESPFAB_REGOP_WRITE, base + c->spi_miso_dlen, (uint32_t)miso_bits - 1, 0);
        if (usr1)
            OP(ESPFAB_REGOP_WRITE, base + c->spi_usr1, usr1, 0);
    } else {
        uint32_t miso_mask = miso_bits > 0 ? (uint32_t)miso_bits - 1 : 0;
        usr1 |= miso_mask << ESP8266_MISO_BITLEN_SHIFT | 0u << ESP8266_MOSI_BITLEN_SHIFT;
        OP(ESPFAB_REGOP_WRITE, base + c->spi_usr1, usr1, 0);
    }
    uint32_t usr = SPI_USR_COMMAND;
    if (miso_bits > 0)
        usr |= SPI_USR_MISO;
    if (has_addr)
        usr |= SPI_USR_ADDR | SPI_USR_DUMMY;
    OP(ESPFAB_REGOP_WRITE, base + c->spi_usr, usr, 0);
    OP(ESPFAB_REGOP_WRITE, base + c->spi_usr2, 7u << SPI_USR2_CMD_LEN_SHIFT | opcode, 0);
    if (has_addr)
        OP(ESPFAB_REGOP_WRITE, base + 0x04,
           c->spi_addr_left_aligned ? (addr & 0xFFFFFFu) << (32 - addr_bits) : (addr & 0xFFFFFFu),
           0);
    OP(ESPFAB_REGOP_WRITE, base + c->spi_w0, 0, 0);
    OP(ESPFAB_REGOP_WRITE, base + 0x00, SPI_CMD_USR, 0);
    OP(ESPFAB_REGOP_POLL_CLEAR, base + 0x00, 0, SPI_CMD_USR);
    OP(ESPFAB_REGOP_READ, base + c->spi_w0, 0, 0);
#undef OP
    if (n > cap)
        return 0;
    memcpy(ops, p, n * sizeof(p[0]));
    return n;
}

uint32_t espfab_flash_size_from_jedec(uint32_t id)
{
    id &= 0xFFFFFFu;
    if (id == 0xFFFFFFu || id == 0)
        return 0;
    uint8_t manuf = (uint8_t)id;
    if (manuf == 0x1F) { /* Adesto: size in the low bits of the device id */
        switch ((id >> 8) & 0x1F) {
        case 4: return 512u * 1024;
        case 5: return 1u << 20;
        case 6: return 2u << 20;
        case 7: return 4u << 20;
        case 8: return 8u << 20;
        case 9: return 16u << 20;
        default: return 0;
        }
    }
    switch ((id >> 16) & 0xFF) {
    case 0x12: case 0x32: return 256u * 1024;
    case 0x13: case 0x33: return 512u * 1024;
    case 0x14: case 0x34: return 1u << 20;
    case 0x15: case 0x35: return 2u << 20;
    case 0x16: case 0x36: return 4u << 20;
    case 0x17: case 0x37: return 8u << 20;
    case 0x18: case 0x38: return 16u << 20;
    case 0x19: case 0x39: return 32u << 20;
    case 0x1A: case 0x3A: case 0x20: return 64u << 20;
    case 0x1B: case 0x21: return 128u << 20;
    case 0x1C: case 0x22: return 256u << 20;
    default: return 0;
    }
}

const char *espfab_flash_vendor(uint8_t manufacturer)
{
    switch (manufacturer) {
    case 0xEF: return "Winbond";
    case 0xC8: return "GigaDevice";
    case 0xC2: return "Macronix";
    case 0x20: return "XMC/Micron";
    case 0x1F: return "Adesto";
    case 0x68: return "Boya";
    case 0x5E: return "Zbit";
    case 0x9D: return "ISSI";
    case 0x0B: return "XTX";
    case 0x85: return "Puya";
    case 0x1C: return "EON";
    case 0xA1: return "Fudan";
    default: return "unknown";
    }
}

espfab_usb_mode_t espfab_chip_usb_mode(const espfab_chip_t *c, int vid, int pid)
{
    if (!c || vid != ESPFAB_ESPRESSIF_VID)
        return ESPFAB_USB_NONE;
    if (pid == ESPFAB_USB_JTAG_PID && c->usb_jtag)
        return ESPFAB_USB_JTAG;
    if (c->usb_otg && pid == c->image_chip_id)
        return ESPFAB_USB_OTG;
    return ESPFAB_USB_NONE;
}

const char *espfab_usb_mode_name(espfab_usb_mode_t m)
{
    switch (m) {
    case ESPFAB_USB_JTAG: return "USB-Serial/JTAG";
    case ESPFAB_USB_OTG: return "USB-OTG";
    default: return "UART";
    }
}

#define OP(k, a, v, m) (p[n++] = (espfab_regop_t){(k), (a), (v), (m)})

size_t espfab_chip_wdt_disable_plan(const espfab_chip_t *c, espfab_regop_t *ops, size_t cap)
{
    espfab_regop_t p[8];
    size_t n = 0;
    if (!c || !ops || !c->wdt_config0 || !c->swd_conf)
        return 0;
    OP(ESPFAB_REGOP_WRITE, c->wdt_wprotect, ESPFAB_WDT_KEY, 0);   /* unlock */
    OP(ESPFAB_REGOP_WRITE, c->wdt_config0, 0, 0);                 /* RTC WDT off */
    OP(ESPFAB_REGOP_WRITE, c->wdt_wprotect, 0, 0);                /* lock */
    OP(ESPFAB_REGOP_WRITE, c->swd_wprotect, c->swd_wkey, 0);
    OP(ESPFAB_REGOP_SET_BITS, c->swd_conf, c->swd_auto_feed, 0);  /* SWD feeds itself */
    OP(ESPFAB_REGOP_WRITE, c->swd_wprotect, 0, 0);
    if (n > cap)
        return 0;
    memcpy(ops, p, n * sizeof(p[0]));
    return n;
}

size_t espfab_chip_wdt_reset_plan(const espfab_chip_t *c, espfab_regop_t *ops, size_t cap)
{
    espfab_regop_t p[4];
    size_t n = 0;
    if (!c || !ops || !c->wdt_config0)
        return 0;
    OP(ESPFAB_REGOP_WRITE, c->wdt_wprotect, ESPFAB_WDT_KEY, 0);
    OP(ESPFAB_REGOP_WRITE, c->wdt_config1, 2000, 0);
    /* enable, stage 0 resets the system (5), after the timeout in config1 */
    OP(ESPFAB_REGOP_WRITE, c->wdt_config0, 1u << 31 | 5u << 28 | 1u << 8 | 2u, 0);
    OP(ESPFAB_REGOP_WRITE, c->wdt_wprotect, 0, 0);
    if (n > cap)
        return 0;
    memcpy(ops, p, n * sizeof(p[0]));
    return n;
}
#undef OP

/* P4 power management (LP_AON at 0x50110000): LP_SYS + 0x10C powers the
 * pad group, PMU + 0x1B8/0x1BC are the flash LDO, PMU + 0x3FC's low two bits
 * force the flash supply on. */
#define P4_XPD_PAD_GROUP 0x5011010Cu
#define P4_LDO_0P1A 0x501151B8u
#define P4_LDO_0P1A_ANA 0x501151BCu
#define P4_PMU_DATE 0x501153FCu
#define P4_EFUSE_XPD_ON (1u << 16)

size_t espfab_chip_flash_power_plan(const espfab_chip_t *c, int rev_full, const espfab_reg_t *regs,
                                    size_t n, espfab_regop_t *ops, size_t cap)
{
    espfab_regop_t p[12];
    size_t k = 0;
    if (!c || !ops || c->id != ESPFAB_CHIP_ESP32P4 || (rev_full != 301 && rev_full != 302))
        return 0;
    if (rev_full == 302 && (reg(regs, n, ESPFAB_P4_EFUSE_RD_REPEAT_DATA1) & P4_EFUSE_XPD_ON)) {
        /* the ROM powered it; running the sequence twice would upset it */
        p[k++] = (espfab_regop_t){ESPFAB_REGOP_CLEAR_IF_SET, P4_PMU_DATE, 0x3, 0};
    } else {
#define P(kind, a, v) (p[k++] = (espfab_regop_t){(kind), (a), (v), 0})
        P(ESPFAB_REGOP_WRITE, P4_XPD_PAD_GROUP, 1);
        P(ESPFAB_REGOP_DELAY, 0, 10000);
        P(ESPFAB_REGOP_SET_BITS, P4_LDO_0P1A_ANA, 1u << 27);   /* current limit on */
        P(ESPFAB_REGOP_SET_BITS, P4_LDO_0P1A, 1u << 7);        /* force tie-high */
        P(ESPFAB_REGOP_SET_BITS, P4_PMU_DATE, 0x3);            /* flash supply forced on */
        P(ESPFAB_REGOP_DELAY, 0, 50);
        P(ESPFAB_REGOP_CLEAR_BITS, P4_LDO_0P1A_ANA, 1u << 27); /* current limit off */
        P(ESPFAB_REGOP_CLEAR_BITS, P4_LDO_0P1A, 0xFFu << 23);  /* target voltage field */
        P(ESPFAB_REGOP_SET_BITS, P4_LDO_0P1A, 0x80);           /* take the eFuse voltage */
        P(ESPFAB_REGOP_CLEAR_BITS, P4_LDO_0P1A, 1u << 7);
        P(ESPFAB_REGOP_DELAY, 0, 1800);
#undef P
    }
    if (k > cap)
        return 0;
    memcpy(ops, p, k * sizeof(p[0]));
    return k;
}

/* 1 to 4 hex digits in [b, e) -> *out; -1 if anything else */
static int hex16(const char *b, const char *e, int *out)
{
    if (e <= b || e - b > 4)
        return -1;
    int v = 0;
    for (const char *q = b; q < e; q++) {
        if (!isxdigit((unsigned char)*q))
            return -1;
        v = v * 16 + (isdigit((unsigned char)*q) ? *q - '0' : tolower((unsigned char)*q) - 'a' + 10);
    }
    *out = v;
    return 0;
}

int espfab_usb_id_parse(const char *s, int *vid, int *pid)
{
    const char *colon = s ? strchr(s, ':') : NULL;
    int v, p;
    if (!colon || hex16(s, colon, &v) != 0 || hex16(colon + 1, colon + 1 + strlen(colon + 1), &p) != 0 ||
        v == 0)
        return -1;
    *vid = v;
    *pid = p;
    return 0;
}

bool espfab_flash_is_xmc_strict(uint32_t jedec)
{
    if ((jedec & 0xFF) != ESPFAB_FLASH_VENDOR_XMC)
        return false;
    uint32_t type = (jedec >> 8) & 0xFF, cap = (jedec >> 16) & 0xFF;
    switch (type) {
    case 0x40: return cap >= 0x13 && cap <= 0x20;
    case 0x41: return cap >= 0x17 && cap <= 0x20;
    case 0x50: return cap >= 0x15 && cap <= 0x16;
    default: return false;
    }
}

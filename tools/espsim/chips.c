/*
 * espsim chip table: identity, status-byte count, security-info layout,
 * SPI register block, UART divider and boot banners per chip.  Values are
 * restated from the protocol fact sheet (sections 4.1, 4.3, 5.3); the USB
 * and watchdog registers from esptool's targets (facts only).
 */
#include <stdio.h>
#include <string.h>

#include "espsim.h"

#define DL_NEW(rom, build, boot, mode)                                        \
    "ESP-ROM:" rom "\r\nBuild:" build "\r\nrst:0x1 (POWERON),boot:" boot      \
    " (" mode ")\r\nwaiting for download\r\n"
#define APP_NEW(rom, build, boot)                                             \
    "ESP-ROM:" rom "\r\nBuild:" build "\r\nrst:0x1 (POWERON),boot:" boot      \
    " (SPI_FAST_FLASH_BOOT)\r\n"

#define WDT_KEY 0x50D83AA1u /* RTC WDT write-protect key (and LP SWD's) */

static const sim_chip_t chips[SIM_CHIP_COUNT] = {
    [SIM_ESP8266] = {
        .name = "esp8266", .magic = 0xFFF0C101u, .has_magic = true,
        .rom_status_len = 2, .secinfo_len = 0, .image_chip_id = 0,
        .spi_base = 0x60000200u, .spi_usr2 = 0x24, .spi_w0 = 0x40,
        .spi_addr_msb = true, .uart_clkdiv_reg = 0x60000014u,
        .uart_clkdiv = 451, /* 26 MHz crystal, APB = 2 x XTAL */
        .default_rev = 0, .oui = {0x18, 0xFE, 0x34},
        .banner = "\r\n ets Jan  8 2013,rst cause:1, boot mode:(1,7)\r\n\r\n",
        .app_boot = "\r\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r\n\r\n"
                    "load 0x4010f000, len 3460, room 16 \r\n",
    },
    [SIM_ESP32] = {
        .name = "esp32", .magic = 0x00F01D83u, .has_magic = true,
        .rom_status_len = 4, .secinfo_len = 0, .image_chip_id = 0,
        .spi_base = 0x3FF42000u, .spi_usr2 = 0x24, .spi_w0 = 0x80,
        .spi_addr_msb = true, .uart_clkdiv_reg = 0x3FF40014u,
        .uart_clkdiv = 347, .default_rev = 300, .oui = {0x24, 0x6F, 0x28},
        .banner = "ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),"
                  "boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\n"
                  "waiting for download\r\n",
        .app_boot = "ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),"
                    "boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n",
    },
    [SIM_ESP32S2] = {
        .name = "esp32s2", .magic = 0x000007C6u, .has_magic = true,
        .rom_status_len = 4, .secinfo_len = 12, .image_chip_id = 2,
        .spi_base = 0x3F402000u, .spi_usr2 = 0x20, .spi_w0 = 0x58,
        .uart_clkdiv_reg = 0x3F400014u, .uart_clkdiv = 347,
        .default_rev = 100, .oui = {0x7C, 0xDF, 0xA1},
        .banner = DL_NEW("esp32s2-rc4-20191025", "Oct 25 2019", "0x0",
                         "DOWNLOAD(USB/UART0/1)"),
        .app_boot = APP_NEW("esp32s2-rc4-20191025", "Oct 25 2019", "0x8"),
        .has_otg = true, /* RTC WDT only (used for the OTG reset) */
        .wdt_config0 = 0x3F408094u, .wdt_config1 = 0x3F408098u,
        .wdt_wprotect = 0x3F4080ACu, .wdt_key = WDT_KEY,
        .gpio_strap = 0x3F404038u, .strap_spi_boot = 0x8,
        .option1 = 0x3F408128u, .force_dl = 0x1,
    },
    [SIM_ESP32S3] = {
        .name = "esp32s3", .magic = 0x00000009u, .has_magic = true,
        .rom_status_len = 4, .secinfo_len = 20, .image_chip_id = 9,
        .spi_base = 0x60002000u, .spi_usr2 = 0x20, .spi_w0 = 0x58,
        .uart_clkdiv_reg = 0x60000014u, .uart_clkdiv = 347,
        .default_rev = 2, .oui = {0xF4, 0x12, 0xFA},
        .banner = "ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n"
                  "rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0))\r\n"
                  "waiting for download\r\n",
        .app_boot = APP_NEW("esp32s3-20210327", "Mar 27 2021", "0x8"),
        .has_jtag = true, .has_otg = true,
        .wdt_config0 = 0x60008098u, .wdt_config1 = 0x6000809Cu,
        .wdt_wprotect = 0x600080B0u, .wdt_key = WDT_KEY,
        .swd_conf = 0x600080B4u, .swd_wprotect = 0x600080B8u,
        .swd_key = 0x8F1D312Au, .swd_auto_feed = 1u << 31,
        .gpio_strap = 0x60004038u, .strap_spi_boot = 0x8,
        .option1 = 0x6000812Cu, .force_dl = 0x1,
    },
    [SIM_ESP32C2] = {
        .name = "esp32c2", .magic = 0x6F51306Fu, .has_magic = true,
        .rom_status_len = 4, .secinfo_len = 20, .image_chip_id = 12,
        .spi_base = 0x60002000u, .spi_usr2 = 0x20, .spi_w0 = 0x58,
        .uart_clkdiv_reg = 0x60000014u, .uart_clkdiv = 347,
        .default_rev = 100, .oui = {0x08, 0x3A, 0x8D},
        .banner = DL_NEW("esp8684-api2-20220127", "Jan 27 2022", "0x4",
                         "DOWNLOAD(USB/UART0)"),
        .app_boot = APP_NEW("esp8684-api2-20220127", "Jan 27 2022", "0xc"),
    },
    [SIM_ESP32C3] = {
        .name = "esp32c3", .magic = 0x1B31506Fu, .has_magic = true,
        .rom_status_len = 4, .secinfo_len = 20, .image_chip_id = 5,
        .spi_base = 0x60002000u, .spi_usr2 = 0x20, .spi_w0 = 0x58,
        .uart_clkdiv_reg = 0x60000014u, .uart_clkdiv = 347,
        .default_rev = 4, .oui = {0x34, 0x85, 0x18},
        .banner = DL_NEW("esp32c3-api1-20210207", "Feb  7 2021", "0x4",
                         "DOWNLOAD(USB/UART1)"),
        .app_boot = APP_NEW("esp32c3-api1-20210207", "Feb  7 2021", "0xc"),
        .has_jtag = true,
        .wdt_config0 = 0x60008090u, .wdt_config1 = 0x60008094u,
        .wdt_wprotect = 0x600080A8u, .wdt_key = WDT_KEY,
        .swd_conf = 0x600080ACu, .swd_wprotect = 0x600080B0u,
        .swd_key = 0x8F1D312Au, .swd_auto_feed = 1u << 31,
    },
    [SIM_ESP32C6] = {
        .name = "esp32c6", .magic = 0x2CE0806Fu, .has_magic = true,
        .rom_status_len = 4, .secinfo_len = 20, .image_chip_id = 13,
        .spi_base = 0x60003000u, .spi_usr2 = 0x20, .spi_w0 = 0x58,
        .uart_clkdiv_reg = 0x60000014u, .uart_clkdiv = 347,
        .default_rev = 0, .oui = {0x40, 0x4C, 0xCA},
        .banner = "ESP-ROM:esp32c6-20220919\r\nBuild:Sep 19 2022\r\n"
                  "rst:0x15 (USB_UART_HPSYS),boot:0x4 "
                  "(DOWNLOAD(USB/UART0/SDIO_FEI_FEO))\r\nwaiting for download\r\n",
        .app_boot = APP_NEW("esp32c6-20220919", "Sep 19 2022", "0xc"),
        .has_jtag = true,
        .wdt_config0 = 0x600B1C00u, .wdt_config1 = 0x600B1C04u,
        .wdt_wprotect = 0x600B1C18u, .wdt_key = WDT_KEY,
        .swd_conf = 0x600B1C1Cu, .swd_wprotect = 0x600B1C20u,
        .swd_key = WDT_KEY, .swd_auto_feed = 1u << 18,
    },
    [SIM_ESP32H2] = {
        .name = "esp32h2", .magic = 0xD7B73E80u, .has_magic = true,
        .rom_status_len = 4, .secinfo_len = 20, .image_chip_id = 16,
        .spi_base = 0x60003000u, .spi_usr2 = 0x20, .spi_w0 = 0x58,
        .uart_clkdiv_reg = 0x60000014u, .uart_clkdiv = 278, /* 32 MHz */
        .default_rev = 1, .oui = {0x74, 0x4D, 0xBD},
        .banner = DL_NEW("esp32h2-20221101", "Nov  1 2022", "0x4",
                         "DOWNLOAD(USB/UART0)"),
        .app_boot = APP_NEW("esp32h2-20221101", "Nov  1 2022", "0xc"),
        .has_jtag = true,
        .wdt_config0 = 0x600B1C00u, .wdt_config1 = 0x600B1C04u,
        .wdt_wprotect = 0x600B1C1Cu, .wdt_key = WDT_KEY,
        .swd_conf = 0x600B1C20u, .swd_wprotect = 0x600B1C24u,
        .swd_key = WDT_KEY, .swd_auto_feed = 1u << 18,
    },
    [SIM_ESP32P4] = {
        .name = "esp32p4", .magic = 0, .has_magic = false,
        .rom_status_len = 4, .secinfo_len = 20, .image_chip_id = 18,
        .spi_base = 0x5008D000u, .spi_usr2 = 0x20, .spi_w0 = 0x58,
        .uart_clkdiv_reg = 0x500CA014u, .uart_clkdiv = 347,
        .default_rev = 100, .oui = {0x30, 0xED, 0xA0},
        .banner = DL_NEW("esp32p4-eco2-20240710", "Jul 10 2024", "0x0",
                         "DOWNLOAD(USB/UART0/SPI)"),
        .app_boot = APP_NEW("esp32p4-eco2-20240710", "Jul 10 2024", "0xc"),
        .has_jtag = true, .has_otg = true,
        .wdt_config0 = 0x50116000u, .wdt_config1 = 0x50116004u,
        .wdt_wprotect = 0x50116018u, .wdt_key = WDT_KEY,
        .swd_conf = 0x5011601Cu, .swd_wprotect = 0x50116020u,
        .swd_key = WDT_KEY, .swd_auto_feed = 1u << 18,
        .gpio_strap = 0x500E0038u, .strap_spi_boot = 0x8,
        .option1 = 0x50110008u, .force_dl = 0x4,
    },
};

const sim_chip_t *sim_chip_get(sim_chip_id_t id)
{
    return (unsigned)id < SIM_CHIP_COUNT ? &chips[id] : NULL;
}

int sim_chip_by_name(const char *name)
{
    for (int i = 0; i < SIM_CHIP_COUNT; i++)
        if (strcmp(chips[i].name, name) == 0)
            return i;
    return -1;
}

size_t sim_chip_wdt_banner(const sim_chip_t *c, bool download, char *out,
                           size_t n)
{
    static const char cause[] = "rst:0x10 (RTCWDT_RTC_RESET)";
    const char *src = download ? c->banner : c->app_boot;
    const char *rst = strstr(src, "rst:");
    const char *rest = rst ? strchr(rst, ',') : NULL;
    size_t k;
    if (!rest)
        return 0; /* not an ESP-ROM style banner */
    k = (size_t)snprintf(out, n, "%.*s%s%s", (int)(rst - src), src, cause,
                         rest);
    return k < n ? k : 0;
}

bool sim_slip_byte(sim_slip_t *s, uint8_t c)
{
    if (!s->in_frame) {
        if (c == 0xC0) {
            s->in_frame = true;
            s->len = 0;
            s->esc = s->overflow = s->bad_escape = false;
        }
        return false;
    }
    if (c == 0xC0) {
        if (s->len == 0 && !s->esc) /* C0 C0: treat as a new start */
            return false;
        s->in_frame = false;
        return !s->overflow;
    }
    if (s->esc) {
        s->esc = false;
        if (c == 0xDC)
            c = 0xC0;
        else if (c == 0xDD)
            c = 0xDB;
        else
            s->bad_escape = true;
    } else if (c == 0xDB) {
        s->esc = true;
        return false;
    }
    if (s->len < sizeof s->buf)
        s->buf[s->len++] = c;
    else
        s->overflow = true;
    return false;
}

/* Mask ROM address ranges (instruction bus, then data bus), from the chips'
 * technical reference memory maps. */
bool sim_chip_in_rom(sim_chip_id_t id, uint32_t a)
{
    static const uint32_t r[SIM_CHIP_COUNT][4] = {
        [SIM_ESP8266] = {0x40000000u, 0x40010000u, 0, 0},
        [SIM_ESP32] = {0x40000000u, 0x40070000u, 0x3FF90000u, 0x3FFA0000u},
        [SIM_ESP32S2] = {0x40000000u, 0x40020000u, 0x3FFA0000u, 0x3FFF0000u},
        [SIM_ESP32S3] = {0x40000000u, 0x40060000u, 0x3FF00000u, 0x3FF20000u},
        [SIM_ESP32C2] = {0x40000000u, 0x40090000u, 0x3FF00000u, 0x3FF50000u},
        [SIM_ESP32C3] = {0x40000000u, 0x40060000u, 0x3FF00000u, 0x3FF20000u},
        [SIM_ESP32C6] = {0x40000000u, 0x40050000u, 0, 0},
        [SIM_ESP32H2] = {0x40000000u, 0x40020000u, 0, 0},
        [SIM_ESP32P4] = {0x4FC00000u, 0x4FC20000u, 0, 0},
    };
    if (id < 0 || id >= SIM_CHIP_COUNT)
        return false;
    return (a >= r[id][0] && a < r[id][1]) || (a >= r[id][2] && a < r[id][3]);
}

/*
 * chip.h - the chip table (docs/protocol.md section 4) and pure decoders for what
 * the session reads from a chip: identity, MAC, revision, crystal, flash id.
 * Const data and pure functions; no I/O; thread-safe.
 *
 * The session learns a chip's details through READ_REG only.  It asks
 * espfab_chip_info_regs() which register addresses to read, reads each one,
 * and hands the (addr, value) pairs to espfab_chip_decode_info().  The flash
 * JEDEC id is read through the SPI user-command engine with the register
 * operations listed by espfab_chip_spi_plan().  Over the chip's own USB the
 * session also runs the register plans for the watchdogs
 * (espfab_chip_wdt_disable_plan, espfab_chip_wdt_reset_plan).
 */
#ifndef ESPFAB_CHIP_H
#define ESPFAB_CHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum espfab_chip_id {
    ESPFAB_CHIP_UNKNOWN = -1,
    ESPFAB_CHIP_ESP8266 = 0,
    ESPFAB_CHIP_ESP32,
    ESPFAB_CHIP_ESP32S2,
    ESPFAB_CHIP_ESP32S3,
    ESPFAB_CHIP_ESP32C2,
    ESPFAB_CHIP_ESP32C3,
    ESPFAB_CHIP_ESP32C6,
    ESPFAB_CHIP_ESP32H2,
    ESPFAB_CHIP_ESP32P4,
    ESPFAB_CHIP_COUNT
} espfab_chip_id_t;

#define ESPFAB_CHIP_MAGIC_ADDR 0x40001000u

typedef struct espfab_chip {
    espfab_chip_id_t id;
    const char *name;            /* "ESP32-S3" (for people) */
    const char *key;             /* "esp32s3" (CLI, profiles, stub file stem) */
    uint32_t magic[4];           /* values of READ_REG(0x40001000); */
    int nmagic;                  /* 0: detect by security info only */
    int image_chip_id;           /* extended-header chip id; -1 for ESP8266 */
    uint32_t bootloader_offset;  /* 0x0, 0x1000 or 0x2000 */
    uint32_t uart_clkdiv_reg;    /* 0 when not used for the crystal */
    int xtal_factor;             /* APB/XTAL for the crystal estimate (ESP8266: 2) */
    int xtal_fixed_mhz;          /* 0: estimate from the divider */
    uint32_t mac_reg;            /* w0; w1 at mac_reg + 4 (ESP32: efuse word 1/2) */
    uint32_t uart_date_reg;      /* harmless register for WRITE_REG delays */
    uint8_t rom_status_len;      /* 2 (ESP8266) or 4 */
    bool rom_deflate;            /* FLASH_DEFL_* in ROM */
    bool rom_md5;                /* SPI_FLASH_MD5 in ROM */
    bool rom_change_baud;
    bool rom_spi_attach;         /* SPI_ATTACH/SPI_SET_PARAMS in ROM */
    bool rom_secinfo;            /* GET_SECURITY_INFO in ROM */
    bool rom_begin_encrypted_word; /* FLASH_BEGIN 5th word to the ROM */
    /* SPI user-command engine (docs/protocol.md 4.4) */
    uint32_t spi_base;
    uint8_t spi_usr, spi_usr1, spi_usr2, spi_mosi_dlen, spi_miso_dlen, spi_w0;
    bool spi_has_dlen;           /* false on ESP8266: lengths live in USR1 */
    bool spi_addr_left_aligned;
    const char *stub_file;       /* esptool-js >= 0.7 name: "esp32s3.json" */
    const char *stub_file_legacy;/* esptool-js <= 0.6 name: "stub_flasher_32s3.json" */
    /* USB (docs/protocol.md 4.6) and the watchdogs it needs handled; 0 = none */
    bool usb_jtag;               /* has USB-Serial/JTAG (303a:1001) */
    bool usb_otg;                /* the ROM has a USB-OTG CDC port (303a:image_chip_id) */
    bool otg_reset_by_wdt;       /* over USB-OTG always reset with the watchdog (P4) */
    bool reset_clears_force_dl;  /* clear the force-download bit before a reset (S3) */
    uint32_t wdt_config0, wdt_config1, wdt_wprotect; /* RTC/LP watchdog (key 0x50D83AA1) */
    uint32_t swd_conf, swd_wprotect, swd_wkey, swd_auto_feed; /* super watchdog */
    uint32_t strap_reg, strap_spi_boot;  /* GPIO strapping; bit set = not download mode */
    uint32_t option1_reg, force_dl;      /* RTC option1; bit set = download forced over USB */
} espfab_chip_t;

const espfab_chip_t *espfab_chip_get(espfab_chip_id_t id);
/* "esp32s3", "ESP32-S3", "esp32-s3" all work; NULL if unknown. */
const espfab_chip_t *espfab_chip_by_key(const char *key);
const espfab_chip_t *espfab_chip_by_magic(uint32_t magic);
const espfab_chip_t *espfab_chip_by_image_id(int image_chip_id);
/* Comma-separated list of keys, for error messages. */
const char *espfab_chip_keys(void);

/* A register value read from the chip. */
typedef struct espfab_reg {
    uint32_t addr;
    uint32_t value;
} espfab_reg_t;

/* Registers the session must READ_REG before espfab_chip_decode_info(): eFuse
 * MAC and revision words, UART divider, ESP32 RTC calibration words (for the
 * CHANGE_BAUDRATE quirk).  Returns the count written (<= cap); 16 is enough. */
size_t espfab_chip_info_regs(const espfab_chip_t *c, uint32_t *addrs, size_t cap);

typedef struct espfab_chip_info {
    uint8_t mac[6];
    int rev_major, rev_minor;    /* -1 when the chip has no revision (ESP8266) */
    int rev_full;                /* major*100+minor, -1 if none */
    int xtal_mhz;                /* 26, 32, 40 or 48 */
    uint32_t esp8266_chip_id;    /* ESP8266 only */
    char description[96];        /* "ESP32-S3 (revision v0.2)" */
} espfab_chip_info_t;

/* Computes MAC, revision and crystal from the registers read (baud = the
 * baud rate the UART divider was read at).  Missing registers count as 0.
 * Returns 0 or ESPFAB_E_CHIP_UNKNOWN (e.g. ESP8266 OUI not decodable). */
int espfab_chip_decode_info(const espfab_chip_t *c, const espfab_reg_t *regs, size_t n,
                            uint32_t baud, espfab_chip_info_t *out);

/* The baud value to send to the ROM in CHANGE_BAUDRATE (ESP32 clock quirk,
 * ESP32-C2 26 MHz quirk); identical to baud for other chips and the stub. */
uint32_t espfab_chip_rom_baud(const espfab_chip_t *c, const espfab_reg_t *regs, size_t n,
                              uint32_t baud);
/* Same, naming the baud the UART divider was read at (the C2 crystal estimate
 * needs it); espfab_chip_rom_baud() assumes 115200, the ROM's start rate. */
uint32_t espfab_chip_rom_baud_at(const espfab_chip_t *c, const espfab_reg_t *regs, size_t n,
                                 uint32_t read_baud, uint32_t baud);
/* Crystal in MHz: the fixed value, or the estimate from the UART divider
 * read at read_baud (docs/protocol.md 4.1): > 45 -> 48, > 33 -> 40, else 26. */
int espfab_chip_xtal_mhz(const espfab_chip_t *c, uint32_t clkdiv, uint32_t read_baud);

/* One step of an SPI user-command sequence. */
typedef enum espfab_regop_kind {
    ESPFAB_REGOP_WRITE = 0,   /* WRITE_REG addr = value */
    ESPFAB_REGOP_POLL_CLEAR,  /* READ_REG addr until (value & mask) == 0, up to 10 times */
    ESPFAB_REGOP_READ,        /* READ_REG addr: the result */
    ESPFAB_REGOP_SET_BITS,    /* READ_REG addr, then WRITE_REG addr = read | value */
    ESPFAB_REGOP_CLEAR_BITS,  /* READ_REG addr, then WRITE_REG addr = read & ~value */
    ESPFAB_REGOP_CLEAR_IF_SET,/* READ_REG addr; if all of value's bits are set, clear them */
    ESPFAB_REGOP_DELAY        /* wait value microseconds (no command) */
} espfab_regop_kind_t;

typedef struct espfab_regop {
    espfab_regop_kind_t kind;
    uint32_t addr;
    uint32_t value;
    uint32_t mask;
} espfab_regop_t;

/* Plan for a SPI command with no address: opcode (0x9F RDID), reading
 * miso_bits (24 for RDID).  With has_addr, a 24-bit address and 8 dummy bits
 * (SFDP 0x5A).  The last op is the READ of W0.  Returns the count (<= cap,
 * 12 is enough) or 0 if cap is too small. */
size_t espfab_chip_spi_plan(const espfab_chip_t *c, uint8_t opcode, bool has_addr,
                            uint32_t addr, int miso_bits, espfab_regop_t *ops, size_t cap);

/* JEDEC id (W0 after RDID) -> flash size in bytes, 0 if unknown/absent
 * (id 0xFFFFFF or 0x000000).  Adesto rule included. */
uint32_t espfab_flash_size_from_jedec(uint32_t id);

/* How the host reaches the chip's loader (docs/protocol.md 4.6). */
typedef enum espfab_usb_mode {
    ESPFAB_USB_NONE = 0,  /* a USB-UART bridge, a pty, a socket */
    ESPFAB_USB_JTAG,      /* the chip's USB-Serial/JTAG peripheral, 303a:1001 */
    ESPFAB_USB_OTG        /* the ROM's USB-OTG CDC, 303a:<image chip id> */
} espfab_usb_mode_t;

#define ESPFAB_ESPRESSIF_VID 0x303A
#define ESPFAB_USB_JTAG_PID 0x1001
#define ESPFAB_WDT_KEY 0x50D83AA1u
/* The ROM's USB-OTG CDC takes at most this many bytes per MEM_DATA and
 * FLASH_(DEFL_)DATA block (esptool's USB_RAM_BLOCK). */
#define ESPFAB_USB_OTG_BLOCK 0x800

/* The USB mode that USB id vid:pid means for chip c (vid < 0: unknown). */
espfab_usb_mode_t espfab_chip_usb_mode(const espfab_chip_t *c, int vid, int pid);
const char *espfab_usb_mode_name(espfab_usb_mode_t m);

/* Over USB-Serial/JTAG the ROM feeds neither the RTC watchdog nor the super
 * watchdog, and they reset the chip in the middle of a long flash.  The plan
 * disables the first and turns on the second's auto-feed (esptool's
 * disable_watchdogs).  Returns the count of operations (0: the chip has no
 * such watchdogs, or cap is too small). */
size_t espfab_chip_wdt_disable_plan(const espfab_chip_t *c, espfab_regop_t *ops, size_t cap);
/* A reset by the RTC watchdog (2000 slow-clock cycles), for USB-OTG ports
 * where no RTS line resets the chip.  0 when the chip has no RTC watchdog. */
size_t espfab_chip_wdt_reset_plan(const espfab_chip_t *c, espfab_regop_t *ops, size_t cap);

/* ESP32-P4 v3.1 and v3.2 (ECO6/ECO7) leave the flash unpowered in download
 * mode (the default flash voltage changed); before the flash can be attached
 * the host powers it (esptool's power_on_flash).  On v3.2 with the eFuse
 * DOWNLOAD_MODE_XPD_ON set, the ROM has powered it and only PMU_DATE's
 * force-on bits are released.  regs must hold EFUSE_RD_REPEAT_DATA1
 * (espfab_chip_info_regs() asks for it).  0: nothing to do. */
#define ESPFAB_P4_EFUSE_RD_REPEAT_DATA1 0x5012D034u
size_t espfab_chip_flash_power_plan(const espfab_chip_t *c, int rev_full, const espfab_reg_t *regs,
                                    size_t n, espfab_regop_t *ops, size_t cap);

/* "303a:1001" -> vid 0x303A, pid 0x1001 (hex, each 0..FFFF, vid not 0).
 * 0, or -1 when s is not VID:PID. */
int espfab_usb_id_parse(const char *s, int *vid, int *pid);
/* "Winbond" etc. for a few common manufacturers, else "unknown". */
const char *espfab_flash_vendor(uint8_t manufacturer);

/* XMC (vendor 0x20) flash of the XMC25QHxxC family answering RDID as it
 * does once it has started properly: type 0x40 with capacity 0x13-0x20, 0x41
 * with 0x17-0x20, 0x50 with 0x15-0x16 (esptool's strict check).  When RDID
 * says anything else but SFDP byte 0x10 says XMC (0x20), the chip did not
 * start and needs the sequence B9 79 FF (2 ms) AB. */
#define ESPFAB_FLASH_VENDOR_XMC 0x20
bool espfab_flash_is_xmc_strict(uint32_t jedec);

#endif

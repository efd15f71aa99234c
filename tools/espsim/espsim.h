/*
 * espsim internal interfaces: one simulated Espressif board = chip persona
 * (ROM or flasher stub), register file, SPI flash array and fault set.
 *
 * Ownership and threading: espsim is single-threaded.  main.c owns the array
 * of sim_board_t and the event loop (poll); it feeds bytes that arrived from
 * the host into sim_loader_feed() and drains what the board wants to send
 * from the board's output queue (sim_out_*).  The loader never does I/O: it
 * only appends SLIP frames to the output queue, possibly with a release time
 * (flash timing model, "OHAI" a few ms after MEM_END) or a baud switch that
 * takes effect once the chunk has been sent.  Nothing here calls back into
 * main.c; "callbacks" are the flags main.c polls after each feed
 * (b->unplug_now, b->busy_until).
 *
 * espsim deliberately shares no code with espfab (nothing from include/espfab): SLIP,
 * packets, checksums, chip facts and registers are written again here from
 * docs/protocol facts, so that a misunderstanding cannot hide on both sides.
 */
#ifndef ESPSIM_H
#define ESPSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

/* ---- chips ------------------------------------------------------------ */

typedef enum {
    SIM_ESP8266, SIM_ESP32, SIM_ESP32S2, SIM_ESP32S3, SIM_ESP32C2,
    SIM_ESP32C3, SIM_ESP32C6, SIM_ESP32H2, SIM_ESP32P4, SIM_CHIP_COUNT
} sim_chip_id_t;

typedef struct {
    const char *name;          /* command-line / board-line name */
    uint32_t magic;            /* READ_REG(0x40001000); P4: none */
    bool has_magic;
    int rom_status_len;        /* 2 (ESP8266) or 4 */
    int secinfo_len;           /* 0 = unsupported by ROM, 12 (S2), 20 */
    uint32_t image_chip_id;
    uint32_t spi_base;
    uint32_t spi_usr2, spi_w0; /* offsets */
    bool spi_addr_msb;         /* address left-aligned (ESP8266/ESP32) */
    uint32_t uart_clkdiv_reg;  /* 0 = none */
    uint32_t uart_clkdiv;      /* value at 115200 */
    int default_rev;           /* major*100+minor */
    uint8_t oui[3];
    const char *banner;        /* download-mode boot banner */
    const char *app_boot;      /* normal-boot banner (fault normal-boot) */
    /* USB peripherals and watchdog registers (esptool's targets); 0 = none */
    bool has_jtag;             /* USB-Serial/JTAG, 303a:1001 */
    bool has_otg;              /* the ROM's USB-OTG CDC */
    uint32_t wdt_config0, wdt_config1, wdt_wprotect, wdt_key; /* RTC WDT */
    uint32_t swd_conf, swd_wprotect, swd_key, swd_auto_feed;  /* super WDT */
    uint32_t gpio_strap, strap_spi_boot;  /* bit set: boot pin not held low */
    uint32_t option1, force_dl;           /* RTC_CNTL_OPTION1 force download */
} sim_chip_t;

const sim_chip_t *sim_chip_get(sim_chip_id_t id);
int sim_chip_by_name(const char *name); /* -1 if unknown */
/* true if addr lies in the chip's mask ROM (instruction or data bus). */
bool sim_chip_in_rom(sim_chip_id_t id, uint32_t addr);
/* The ROM's banner after an RTC watchdog reset: the power-on download banner
 * (download) or the normal-boot banner, with "rst:0x10 (RTCWDT_RTC_RESET)"
 * as the reset cause.  Returns the length (0 if it does not fit). */
size_t sim_chip_wdt_banner(const sim_chip_t *c, bool download, char *out,
                           size_t n);

/* ---- SLIP ------------------------------------------------------------- */

#define SIM_FRAME_MAX (0x4000 + 0x200)

typedef struct {
    uint8_t buf[SIM_FRAME_MAX];
    size_t len;
    bool in_frame, esc, overflow, bad_escape;
} sim_slip_t;

/* Feeds one byte; returns true when a complete frame is in s->buf/len.
 * Bytes outside frames are ignored (the ROM does the same). */
bool sim_slip_byte(sim_slip_t *s, uint8_t c);

/* ---- output queue ----------------------------------------------------- */

typedef struct sim_chunk {
    struct sim_chunk *next;
    double not_before;    /* monotonic seconds; 0 = now */
    uint32_t baud_after;  /* switch the board's baud once sent (0 = no) */
    bool reset_after;     /* reset the board once sent (ROM FLASH_END(0)) */
    bool mangled;         /* noise/drop faults already applied */
    size_t len, off;
    uint8_t data[];
} sim_chunk_t;

/* ---- faults ----------------------------------------------------------- */

typedef struct {
    bool silent, normal_boot, no_sync, md5_stuck;
    bool secure_download;        /* ROM in Secure Download Mode (S2 and later) */
    double noise, drop;          /* fractions 0..1 */
    uint32_t baud_limit;         /* 0 = none */
    double slow_flash;           /* factor, 0 = none */
    long unplug_bytes;           /* -1 = none */
    int rom_err_op;              /* -1 = none */
    int rom_err_code;
    int rom_err_nth;             /* 1-based */
    int sync_miss;               /* SYNCs ignored after each reset */
} sim_faults_t;

void sim_faults_init(sim_faults_t *f);
/* Parses "KIND[=ARG],KIND..." into f; returns 0 or -1 with msg filled. */
int sim_faults_parse(sim_faults_t *f, const char *spec, char *msg, size_t n);

/* ---- board ------------------------------------------------------------ */

typedef enum { SIM_IDLE, SIM_ROM, SIM_STUB, SIM_APP, SIM_HUNG } sim_mode_t;
/* How the host reaches the board (--usb): a UART bridge / pty / socket, the
 * chip's USB-Serial/JTAG, or the ROM's USB-OTG CDC. */
typedef enum { SIM_USB_NONE, SIM_USB_JTAG, SIM_USB_OTG } sim_usb_t;
#define SIM_OTG_BLOCK 0x800      /* max MEM/FLASH data payload over USB-OTG */
#define SIM_WDT_RESET_S 0.050    /* RTC WDT enabled by the host: reset delay */
typedef enum { FL_NONE, FL_PLAIN, FL_DEFL } sim_flmode_t;

typedef struct { uint32_t addr, val; } sim_reg_t;

/* RAM a host uploaded with MEM_BEGIN/MEM_DATA (ram.c): one segment per
 * MEM_BEGIN, bounded per board. */
#define SIM_RAM_MAX (1024u * 1024u)
#define SIM_RAM_SEGS 16
typedef struct { uint32_t addr, len, cap; uint8_t *data; } sim_ram_seg_t;

typedef struct sim_board {
    int index;
    sim_chip_id_t chip_id;
    const sim_chip_t *chip;
    int rev;
    uint8_t mac[6];
    uint32_t jedec;
    uint32_t flash_size;
    uint8_t *flash;

    /* register file: small sparse map */
    sim_reg_t *regs;
    size_t nregs, capregs;

    sim_mode_t mode;
    uint32_t baud;
    sim_slip_t slip;
    sim_faults_t faults;
    bool pace;
    bool verbose;
    bool timing;            /* flash timing model active */

    /* MEM_* state */
    bool mem_active;
    uint32_t mem_size, mem_blocks, mem_blksz, mem_addr, mem_got, mem_seq;

    sim_ram_seg_t ram[SIM_RAM_SEGS]; /* oldest first */
    int nram;
    uint32_t ram_bytes;
    bool ram_open;           /* the newest segment takes MEM_DATA */

    /* FLASH_* state */
    sim_flmode_t fl;
    uint32_t fl_offset, fl_total, fl_written, fl_blocks, fl_blksz, fl_seq;
    uint32_t fl_erased_end;  /* stub: erase frontier, the next sector it
                              * erases (absolute address) */
    uint32_t fl_erase_end;   /* stub: where its erasing stops */
    uint32_t stage_len;      /* stub: bytes waiting in stage[] */
    uint8_t stage[32768];    /* stub: inflate output, written when full or
                              * at the end of the stream (as the stub does) */
    double chip_free;        /* stub: the flash chip is busy (an erase it
                              * started in the background, or a program)
                              * until this time; the CPU may run meanwhile */
    z_stream zs;
    bool zs_init, zs_done;

    /* stub deferred error (0 = none) */
    uint8_t deferred_err;

    /* READ_FLASH streaming */
    bool rd_active;
    uint32_t rd_addr, rd_len, rd_sent, rd_pkt, rd_acked;
    void *rd_md5;            /* EVP_MD_CTX */

    /* fault counters */
    int op_count[256];
    int syncs_since_reset;
    long flash_bytes_rx;
    bool unplug_now;
    bool frame_pending;      /* stub: a command received while the flash was
                              * busy, handled when it is free (slip.buf) */

    /* USB persona and watchdogs (timers on the same clock as `now`) */
    sim_usb_t usb;
    double usb_wdt_s;        /* jtag: the unfed watchdogs fire this long
                              * after a reset into the loader */
    double wdt_deadline;     /* jtag: then, unless both are disarmed (0 =
                              * none) */
    double wdt_reset_at;     /* the host enabled the RTC WDT: reset then */
    int wdt_resets;          /* watchdog resets since start */
    const char *last_reset;  /* "power-on", "rtcwdt-app", "rtcwdt-download" */

    /* output */
    sim_chunk_t *out_head, *out_tail;
    double busy_until;       /* do not process input before this */
    double now;              /* set by main before each feed */
    uint64_t rng;
} sim_board_t;

/* Board lifetime (loader.c). */
int sim_board_init(sim_board_t *b, int index, sim_chip_id_t chip, int rev,
                   uint32_t seed, uint32_t flash_size, uint32_t jedec);
void sim_board_free(sim_board_t *b);
/* Power-on reset: banner, ROM download mode, 115200, stub gone. */
void sim_board_reset(sim_board_t *b);
/* The host went away (pty slave closed / TCP closed). */
void sim_board_detach(sim_board_t *b);
/* Runs the board's timers at b->now (the watchdogs); returns true when the
 * board reset itself (its output queue was dropped and a banner queued;
 * host bytes read but not yet fed are lost on a real chip too). */
bool sim_board_tick(sim_board_t *b);
/* The time of the next timer, 1e18 if none. */
double sim_board_next_timer(const sim_board_t *b);
/* "rom", "stub", "app", "idle", "hung". */
const char *sim_mode_name(sim_mode_t m);
/* Feeds host bytes; returns how many were consumed (stops early when the
 * board became busy, so the rest waits in the kernel buffer). */
void sim_loader_poll(sim_board_t *b);
size_t sim_loader_feed(sim_board_t *b, const uint8_t *p, size_t n);

/* Register file (regs.c). */
uint32_t sim_reg_read(sim_board_t *b, uint32_t addr);
void sim_reg_set(sim_board_t *b, uint32_t addr, uint32_t val);
void sim_regs_seed(sim_board_t *b, uint32_t seed);
/* Boards with a USB persona: watchdog, strapping and OPTION1 registers as
 * a reset leaves them (power_on: OPTION1 too, which survives a WDT reset). */
void sim_regs_usb_reset(sim_board_t *b, bool power_on);
/* true while the RTC WDT is enabled or the super WDT is not auto-fed. */
bool sim_regs_wdt_armed(sim_board_t *b, bool *rwdt, bool *swd);
/* WRITE_REG side effects (SPI user-command engine, watchdog write
 * protection, the RTC WDT reset). */
void sim_reg_write(sim_board_t *b, uint32_t addr, uint32_t val);

/* RAM (ram.c): kept per board, cleared by every reset. */
void sim_ram_clear(sim_board_t *b);
void sim_ram_begin(sim_board_t *b, uint32_t addr, uint32_t size);
void sim_ram_data(sim_board_t *b, uint32_t addr, const uint8_t *p, uint32_t n);
/* The word at addr if all four bytes were uploaded. */
bool sim_ram_read32(const sim_board_t *b, uint32_t addr, uint32_t *val);

/* The known flasher stubs (ram.c), a process-wide catalogue filled once at
 * start-up.  sim_stubs_load reads every *.json of dir whose name names a
 * chip (either esptool-js naming scheme); returns how many were read, or -1
 * (msg says why). */
int sim_stubs_load(const char *dir, char *msg, size_t n);
size_t sim_stubs_count(void);
/* --accept-any-stub: any MEM_END with an entry starts the stub persona. */
void sim_stubs_accept_any(bool on);
bool sim_stubs_accepting_any(void);
/* The name of the stub b's RAM holds exactly, with this entry point (text
 * and data at their addresses), or NULL: the chip would run garbage. */
const char *sim_stubs_match(const sim_board_t *b, uint32_t entry);

/* Output queue (loader.c). */
void sim_out_raw(sim_board_t *b, const void *p, size_t n, double delay);
void sim_out_frame(sim_board_t *b, const void *p, size_t n, double delay);
sim_chunk_t *sim_out_peek(sim_board_t *b);
void sim_out_pop(sim_board_t *b);
void sim_out_clear(sim_board_t *b);

double sim_now(void);
uint32_t sim_rand(sim_board_t *b);
double sim_rand01(sim_board_t *b);

#endif

/*
 * core.h - the session's private core, shared by the phase files (curl's
 * multi.c pattern: one small core, one file per phase group).
 *
 * A session is a list of phases (the PHASES table below) run in order on one
 * libuv loop.  Each phase file owns one sub-struct of espfab_session (its
 * fields are touched by that file only, unless the comment on the field says
 * otherwise) and a small enum for its sub-states; it starts in its
 * phase_<name>_enter() and ends by calling phase_done() (the next wanted
 * phase starts) or one of the fail functions (the session finishes).
 *
 * The core offers: send a command and name the reply handler (link.c), arm
 * the one timer (its callback runs from the loop), fail with a fault, set the
 * state (logged, timed into the record's phases), emit a note.  Everything
 * runs on the loop's thread; handlers run from port reads, timers and
 * compression callbacks, never re-entrantly from the public functions.
 *
 * Adding a phase: one file with phase_<name>_enter() (and its sub-struct
 * here), one line in ESPFAB_SESSION_PHASES, and its state(s) in session.h.
 */
#ifndef ESPFAB_SESSION_CORE_H
#define ESPFAB_SESSION_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/cmd.h"
#include "espfab/log.h"
#include "espfab/port.h"
#include "espfab/session.h"
#include "espfab/slip.h"
#include "espfab/stub.h"

#define TAG "session"

#define READ_PACKET 4096u  /* READ_FLASH packet size (esptool's) */
#define FRAME_CAP (READ_PACKET + 64)
#define PKT_CAP (ESPFAB_CMD_HDR + 16 + ESPFAB_STUB_FLASH_BLOCK + 64)
#define WIRE_CAP (2 * PKT_CAP + 2)
#define BOOTLOG_CAP 2048
#define LATE_CAP 256
#define SCRIPT_CAP 16
#define SCRIPT_VALS 4
#define INFO_REGS 16
#define SPI_OPS 12

#define DEFAULT_TIMEOUT_MS 3000u
#define MAX_TIMEOUT_MS 240000u
#define BLOCK_TRIES 3
#define REG_TRIES 3

typedef struct espfab_session espfab_session_t;
typedef void (*reply_fn)(espfab_session_t *s, int rc, const espfab_resp_t *r);
typedef void (*step_fn)(espfab_session_t *s);
typedef void (*spi_fn)(espfab_session_t *s, uint32_t value);
typedef void (*frame_fn)(espfab_session_t *s, const uint8_t *frame, size_t len);

/* ---- the phases, in order ------------------------------------------------
 * XX(name, tasks): tasks is the set of tasks (session.h) the phase serves,
 * T_* bits below; a phase the session's task is not in is skipped.  Each
 * phase_<name>_enter() is defined in its phase file. */
#define T_FLASH (1u << ESPFAB_TASK_FLASH)
#define T_INFO (1u << ESPFAB_TASK_INFO)
#define T_READ (1u << ESPFAB_TASK_READ)
#define T_ERASE (1u << ESPFAB_TASK_ERASE)
#define T_VERIFY (1u << ESPFAB_TASK_VERIFY)
#define T_LOADER (T_FLASH | T_READ | T_ERASE | T_VERIFY) /* every task that uses the loader */
#define T_ALWAYS (T_LOADER | T_INFO)

#define ESPFAB_SESSION_PHASES(XX)     \
    XX(connect, T_ALWAYS)             \
    XX(identify, T_ALWAYS)            \
    XX(flash_id, T_ALWAYS)            \
    XX(check, T_FLASH)                \
    XX(stub, T_LOADER)                \
    XX(baud, T_LOADER)                \
    XX(spi_params, T_LOADER)          \
    XX(erase, T_FLASH | T_ERASE)      \
    XX(write, T_FLASH)                \
    XX(verify, T_FLASH | T_VERIFY)    \
    XX(read, T_READ)                  \
    XX(run, T_ALWAYS)

typedef enum phase_id {
#define ESPFAB__PH_ENUM(name, wanted) PHASE_##name,
    ESPFAB_SESSION_PHASES(ESPFAB__PH_ENUM)
#undef ESPFAB__PH_ENUM
    PHASE_COUNT
} phase_id_t;

#define ESPFAB__PH_DECL(name, wanted) void phase_##name##_enter(espfab_session_t *s);
ESPFAB_SESSION_PHASES(ESPFAB__PH_DECL)
#undef ESPFAB__PH_DECL

/* ---- lifecycle and link sub-states --------------------------------------- */

typedef enum life {
    LIFE_NEW = 0,     /* created, not started */
    LIFE_RUNNING,     /* started: the timer exists, handlers may run */
    LIFE_FINISHING    /* the outcome is recorded; handles are closing */
} life_t;

/* What the link does with input that answers no command. */
typedef enum link_rx {
    RX_BOOTLOG = 0,   /* no SYNC answered yet: text is the boot log, the loader unknown */
    RX_SYNC_ECHOES,   /* SYNC answered: its further echoes are counted, then the phase goes on */
    RX_REPLIES,       /* a frame nobody waits for is a bad frame; text is a reset banner */
    RX_DRAIN,         /* repeats nobody waits for go by until the line is quiet */
    RX_BAUD_SETTLE,   /* the baud just changed: garbage is expected until confirmed */
    RX_RESETTING      /* the chip resets into its application: its text and its
                       * port's loss are expected */
} link_rx_t;

typedef enum link_cmd {
    CMD_IDLE = 0,
    CMD_WAITING       /* cmd.fn runs once: reply, refusal or timeout */
} link_cmd_t;

struct link {
    link_rx_t rx;
    espfab_loader_t loader;  /* valid once rx != RX_BOOTLOG */
    uint32_t cur_baud;
    struct {
        link_cmd_t state;
        uint8_t op;
        size_t expect;
        int tries, max_tries;
        uint64_t timeout_ms;
        reply_fn fn;
        size_t wire_len;
        uint64_t rx_try;     /* rx_total when the current try was sent */
    } cmd;
    uint8_t pkt[PKT_CAP];    /* the request being built (phases write it) */
    uint8_t *wire;           /* encoded frame of the command in flight */
    uint8_t *next_wire;      /* the next data block, encoded while waiting */
    size_t next_len;
    long next_key;           /* (region << 20 | seq) + 1 of next_wire, 0 = none */
    espfab_slip_dec_t dec;
    uint8_t frame[FRAME_CAP];
    uint64_t rx_total;
    unsigned bad_frames, retries;
    char late[LATE_CAP];     /* text outside frames since SYNC (reset banners) */
    size_t late_len;
    /* set by the phase that starts RX_SYNC_ECHOES: runs when all echoes are in */
    step_fn echoes_done;
    /* set by the phase that expects the stub's greeting; NULL = ignored */
    step_fn on_ohai;
    /* set by the read phase while READ_FLASH streams: the frames that
     * answer no command (its data packets and digest) go to it; NULL =
     * such frames are unexpected */
    frame_fn on_stream;
    /* RX_DRAIN */
    step_fn drain_fn;
    uint64_t drain_rx;
    unsigned drain_quiet, drain_left;
    /* the one timer: command timeouts and every delay; never two at once */
    uv_timer_t timer;
    step_fn tfn;
};

/* ---- phase sub-structs --------------------------------------------------- */

typedef enum boot_seen {
    BOOT_SEEN_NOTHING = 0,
    BOOT_SEEN_NORMAL,        /* a normal boot line (boot_line) */
    BOOT_SEEN_DOWNLOAD       /* the download banner (wins over a normal line) */
} boot_seen_t;

typedef enum modem_lines {
    LINES_UNKNOWN = 0,
    LINES_PRESENT,
    LINES_ABSENT             /* pty or TCP: the board is not reset */
} modem_lines_t;

struct connect {
    espfab_port_open_req_t *open_req; /* the port open in flight (OPEN), else NULL */
    int attempt;
    int sync_try;
    int sync_replies;
    int syncs_sent;
    espfab_reset_step_t steps[ESPFAB_RESET_MAX_STEPS];
    size_t nsteps, step;
    espfab_reset_step_t custom[ESPFAB_RESET_MAX_STEPS];
    int ncustom;
    modem_lines_t lines;
    bool usb_jtag_noted;
    char bootlog[BOOTLOG_CAP];
    size_t bootlog_len;
    boot_seen_t boot_seen;
    char boot_line[128];
};

typedef enum wdt_state {
    WDT_AS_ROM_LEFT = 0,
    WDT_DISABLED             /* the USB-Serial/JTAG watchdogs were turned off */
} wdt_state_t;

/* identify.c fills it; later phases read it. */
struct ident {
    const espfab_chip_t *chip;
    espfab_chip_info_t info;
    bool have_info;
    espfab_secinfo_t sec;
    bool sdm;                /* secure download mode */
    espfab_usb_mode_t usb;   /* how the port reaches the chip */
    wdt_state_t wdt;
    espfab_reg_t regs[INFO_REGS];
    size_t nregs;
    uint32_t reg_addrs[INFO_REGS];
    size_t idx;
    uint32_t info_prev;
    int info_reads;
};

typedef enum spi_policy {
    SPI_STRICT = 0,          /* a failed SPI command fails the session */
    SPI_SOFT                 /* ... goes on with the first RDID (XMC check, flash reset) */
} spi_policy_t;

struct flash_id {
    espfab_regop_t ops[SPI_OPS];
    size_t nops, idx;
    int polls;
    uint8_t opcode;          /* the SPI command the ops run */
    spi_fn done;             /* gets W0 once it completed */
    spi_policy_t policy;
    uint32_t rdid;           /* the first RDID answer */
    int xmc_step;            /* XMC start-up sequence: next command */
    uint32_t saved[2];       /* SPI USR and USR2 before the flash id commands */
};

typedef enum script_kind {
    SCRIPT_STRICT = 0,       /* a refused or unanswered step fails the session */
    SCRIPT_SOFT,             /* ... ends the script; done runs anyway */
    SCRIPT_SOFT_RESETS       /* soft, and its last step resets the chip */
} script_kind_t;

typedef enum script_result {
    SCRIPT_OK = 0,
    SCRIPT_UNANSWERED,       /* a soft script's step got no reply */
    SCRIPT_REFUSED           /* ... or was refused */
} script_result_t;

typedef enum rmw_half {
    RMW_READ = 0,            /* a read-modify-write step reads first */
    RMW_WRITE                /* ... then writes (set_read holds the value) */
} rmw_half_t;

struct script {
    espfab_regop_t ops[SCRIPT_CAP];
    size_t n, idx;
    uint32_t vals[SCRIPT_VALS]; /* what the READ steps returned, in order */
    size_t nvals;
    uint32_t set_read;
    rmw_half_t half;
    script_kind_t kind;
    script_result_t result;
    const char *what;
    step_fn done;
};

typedef enum stub_greeting {
    OHAI_PENDING = 0,        /* uploading; no greeting yet */
    OHAI_EARLY,              /* OHAI came before MEM_END's reply */
    OHAI_WAITING,            /* MEM_END answered; waiting for OHAI */
    OHAI_PROBING,            /* no OHAI in time: SYNC tells whether the stub runs */
    OHAI_RECEIVED
} stub_greeting_t;

struct stubp {
    espfab_stub_t own;       /* loaded here when no stub cache is shared */
    bool own_loaded;
    const espfab_stub_t *stub;
    int seg;
    uint32_t seq;
    stub_greeting_t greeting;
    uint64_t baud_rx_mark;   /* rx_total when the new rate was first tried */
};

typedef struct sregion {
    espfab_blob_t *blob;     /* the bytes intended (maybe a patched/padded copy) */
    bool deflate;
    uint32_t block;
    uint32_t nblocks;
    uint32_t seq;
    uint64_t last_timeout;   /* the stub applies a block's write time to the next reply */
} sregion_t;

struct writep {
    sregion_t reg[ESPFAB_MAX_REGIONS];
    size_t ridx;             /* the region written (erase, write) or verified */
    uint64_t bytes_total;
    int compressing;
    uint8_t pad[ESPFAB_ROM_FLASH_BLOCK]; /* the ROM's padded last block */
    char md5_prev[33];       /* verify: the previous (mismatching) MD5 read */
    const char *unverified_why;
};

typedef enum read_stage {
    READ_IDLE = 0,
    READ_STREAM,             /* stub: data packets come, each one acknowledged */
    READ_DIGEST,             /* stub: all bytes in; its MD5 of them comes next */
    READ_SLOW,               /* ROM: READ_FLASH_SLOW, 64 bytes per request */
    READ_CHECK               /* ROM: SPI_FLASH_MD5 of the range read */
} read_stage_t;

/* read.c: the READ task (opts.read_offset/size/out). */
struct readp {
    read_stage_t stage;
    uint32_t done;           /* bytes received so far */
    uint32_t packet;         /* READ_FLASH packet size asked for */
    uint32_t chunk;          /* READ_FLASH_SLOW: bytes asked by the request in flight */
    uint64_t packet_timeout; /* ms to wait for the next packet */
    uint8_t ack[16];         /* the acknowledgement frame, SLIP-encoded */
};

struct runp {
    espfab_reset_step_t steps[ESPFAB_RESET_MAX_STEPS];
    size_t nsteps, step;
};

struct espfab_session {
    uv_loop_t *loop;
    espfab_session_opts_t o;
    char port_spec[256];
    espfab_session_region_t oregions[ESPFAB_MAX_REGIONS];
    uint32_t osizes[ESPFAB_MAX_REGIONS]; /* ERASE task: the regions' sizes */
    espfab_session_cb cb;
    void *cb_data;

    life_t life;
    bool cancel;             /* a request, honoured at the next command */
    int pending;             /* handles being closed + compressions outstanding */
    espfab_session_state_t state;
    uint64_t state_since;
    uint64_t t0;
    phase_id_t phase;

    espfab_port_t *port;
    espfab_attempt_t rec;
    espfab_fault_t fault;

    struct link link;
    struct connect conn;
    struct ident id;
    struct flash_id fid;
    struct script scr;
    struct stubp stub;
    struct writep wr;
    struct readp rd;
    struct runp run;
};

/* ---- core (session.c) ---------------------------------------------------- */

void sess_set_state_at(espfab_session_t *s, espfab_session_state_t st, const char *file, int line);
#define set_state(s, st) sess_set_state_at((s), (st), __FILE__, __LINE__)
void sess_note(espfab_session_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sess_emit(espfab_session_t *s, espfab_session_ev_t *ev);
/* Ends the session with a fault (no effect once finishing). */
void sess_fail(espfab_session_t *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sess_fail_with(espfab_session_t *s, const espfab_fault_t *f);
void sess_fail_resp(espfab_session_t *s, const espfab_resp_t *r, uint8_t op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sess_fail_port(espfab_session_t *s, int rc);
void sess_fail_cancelled(espfab_session_t *s);
/* Ends the session as passed (message from the record). */
void sess_pass(espfab_session_t *s);
/* Closes everything; DONE follows from the last close callback. */
void sess_finish(espfab_session_t *s);
void sess_maybe_done(espfab_session_t *s);
static inline bool sess_finishing(const espfab_session_t *s) { return s->life == LIFE_FINISHING; }

/* The current phase is over: the next wanted one starts (after the last,
 * the session passes). */
void phase_done(espfab_session_t *s);

uint64_t sess_scaled(const espfab_session_t *s, uint64_t ms);
/* esptool's timeout_per_mb: max(3 s, sec_per_mb * bytes / 1e6), capped. */
uint64_t sess_per_mb(double sec_per_mb, uint64_t bytes);
void sess_fmt_bytes(char *buf, size_t len, uint64_t n);

/* Fills s->rec.regions from the regions as a write would write them (4-byte
 * padding, header patched when opts.flash asks), and s->wr.reg (write.c);
 * deflate marks them for compression.  false: failed (the fault is set). */
bool write_fill_regions(espfab_session_t *s, bool deflate);

/* ---- link (link.c) -------------------------------------------------------- */

void link_init(espfab_session_t *s);
void link_free(espfab_session_t *s);
/* Starts reading the port into the SLIP decoder. */
int link_read_start(espfab_session_t *s);
/* Arms the one timer: fn runs after ms.  No timer may be pending (asserted). */
void sess_arm(espfab_session_t *s, uint64_t ms, step_fn fn);
void sess_disarm(espfab_session_t *s);
/* Sends s->link.pkt[0..len) and waits for the reply to its opcode; fn gets
 * 0 and the reply, ESPFAB_E_PROTO_UNSUPPORTED and the refusal, or
 * ESPFAB_E_TIMEOUT after max_tries. */
void sess_send_cmd(espfab_session_t *s, size_t len, size_t expect, uint64_t timeout_ms, int max_tries,
              reply_fn fn);
/* Sends an already encoded frame of request op (link.next_wire, swapped
 * in) the same way. */
void sess_send_encoded(espfab_session_t *s, uint8_t op, uint64_t timeout_ms, int max_tries, reply_fn fn);
void sess_resend_cmd(espfab_session_t *s);
bool link_check(espfab_session_t *s);
/* A reply to a data block (MEM_DATA, FLASH_(DEFL_)DATA), by the one retry
 * rule of the stub upload and the flash write: a checksum refusal resends the
 * block (up to BLOCK_TRIES), an acknowledgement - or the ROM's refusal of a
 * resent block it already had - runs acked; true when handled.  false: a
 * failure for the caller to report (fault.retries is set). */
bool sess_block_reply(espfab_session_t *s, const espfab_resp_t *r, step_fn acked);
/* Frames nobody waits for go by until the line is quiet; then the input is
 * flushed and fn runs. */
void sess_drain_then(espfab_session_t *s, step_fn fn);
/* Sets the loader (and the record's name for it). */
void link_set_loader(espfab_session_t *s, espfab_loader_t l);
static inline bool link_synced(const espfab_session_t *s) { return s->link.rx != RX_BOOTLOG; }
static inline bool sess_is_stub(const espfab_session_t *s) { return s->link.loader == ESPFAB_LOADER_STUB; }

/* ---- register scripts (script.c) ---------------------------------------- */

/* Runs s->scr.ops[0..s->scr.n) (READ, WRITE with mask, SET_BITS, CLEAR_BITS,
 * CLEAR_IF_SET, DELAY), then done. */
void script_run(espfab_session_t *s, const char *what, script_kind_t kind, step_fn done);

/* ---- shared facts --------------------------------------------------------- */

/* The port's USB id: --usb-id / opts first (a serial server cannot tell). */
void sess_port_usb_id(const espfab_session_t *s, int *vid, int *pid);
/* Data block sizes for this port (2 KiB over the ROM's USB-OTG). */
uint32_t sess_ram_block(const espfab_session_t *s);
uint32_t sess_stub_block(const espfab_session_t *s);

#endif

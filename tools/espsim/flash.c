/*
 * flash.c - espsim's flash model (flash.h): what erasing and programming
 * cost in simulated time, and the stub's flash writer.
 */
#include <string.h>

#include "flash.h"

/* ---- timing model ------------------------------------------------------ */

/* Time at which a reply may leave, after an operation costing `cost` s.
 * Also moves busy_until so that later input waits for the operation. */
double sim_spend(sim_board_t *b, double cost)
{
    double t = b->busy_until > b->now ? b->busy_until : b->now;
    if (b->timing && cost > 0) {
        if (b->faults.slow_flash > 0)
            cost *= b->faults.slow_flash;
        t += cost;
        b->busy_until = t;
    }
    return t;
}

static double erase_cost(uint32_t n_block64, uint32_t n_sector)
{
    return n_block64 * 0.250 + n_sector * 0.045;
}

static double program_cost(uint32_t bytes)
{
    return (bytes + 255) / 256 * 0.0005;
}

/* Erases [start, end) (sector-aligned by the caller); returns the cost. */
double sim_erase_range(sim_board_t *b, uint32_t start, uint32_t end)
{
    uint32_t nb = 0, ns = 0;
    if (end > b->flash_size)
        end = b->flash_size;
    for (uint32_t a = start; a < end;) {
        if (a % BLOCK64 == 0 && end - a >= BLOCK64) {
            memset(b->flash + a, 0xFF, BLOCK64);
            a += BLOCK64;
            nb++;
        } else {
            uint32_t e = a + SECTOR > end ? end : a + SECTOR;
            memset(b->flash + a, 0xFF, e - a);
            a = e;
            ns++;
        }
    }
    return erase_cost(nb, ns);
}

/* ---- the stub's flash writer ---------------------------------------------
 *
 * The ROM erases the whole region at FLASH_BEGIN and then programs each
 * block while the host waits.  The stub (esp-flasher-stub v2, which
 * esptool-js 0.7.0 uploads; esptool's older stub behaves alike) works
 * differently, and the model follows its published source:
 *  - it erases lazily, from a frontier that starts at the region's first
 *    sector: a 64 KiB block erase when the frontier is block aligned and a
 *    whole block remains, a 4 KiB sector erase otherwise;
 *  - FLASH_BEGIN starts the first erase, and before each inflate step it
 *    starts the next one if the flash chip is idle; it never waits for
 *    these: the chip erases while the CPU inflates, and while it waits for
 *    the next command from the line;
 *  - inflated data collects in a 32 KiB buffer that is programmed when it is
 *    full or the stream ends; before programming, erases are started (the
 *    chip waited for between them) until the frontier passes the end of the
 *    chunk, then the chip must be idle;
 *  - plain FLASH_DATA is programmed block by block the same way, without the
 *    erase before inflate steps.
 * Two clocks: busy_until is the CPU (the next command waits for it), and
 * chip_free is the flash chip (the next erase or program, and any command
 * that reads the flash, waits for it). */

static double flash_cost(const sim_board_t *b, double c)
{
    if (!b->timing)
        return 0;
    if (b->faults.slow_flash > 0)
        c *= b->faults.slow_flash;
    return c;
}

/* Starts the erase at the frontier at time t (the chip must be idle). */
static void stub_erase_next(sim_board_t *b, double t)
{
    uint32_t a = b->fl_erased_end;
    uint32_t step = (a % BLOCK64 == 0 && b->fl_erase_end - a >= BLOCK64) ? BLOCK64
                                                                          : SECTOR;
    double c = sim_erase_range(b, a, a + step);
    b->chip_free = t + flash_cost(b, c);
    b->fl_erased_end = a + step;
}

/* Background erase: only when the chip is idle at CPU time t. */
void sim_stub_erase_idle(sim_board_t *b, double t)
{
    if (b->fl_erased_end < b->fl_erase_end && b->chip_free <= t)
        stub_erase_next(b, t);
}

/* Erases (waiting for the chip as needed) until the frontier passes `end`;
 * moves the CPU clock *t. */
static void stub_erase_upto(sim_board_t *b, double *t, uint32_t end)
{
    while (b->fl_erased_end < b->fl_erase_end && b->fl_erased_end < end) {
        if (*t < b->chip_free)
            *t = b->chip_free;
        stub_erase_next(b, *t);
    }
}

/* A command that reads or erases the flash waits for the chip. */
void sim_chip_sync(sim_board_t *b)
{
    if (b->mode == SIM_STUB && b->chip_free > b->busy_until)
        b->busy_until = b->chip_free;
}

/* NOR semantics: programming can only clear bits.  ROM: *clk accumulates
 * the cost (the region was erased at FLASH_BEGIN).  Stub: *clk is the CPU's
 * clock, moved past the erases it waits for and the program time. */
int sim_flash_program(sim_board_t *b, uint32_t addr, const uint8_t *p,
                         uint32_t n, double *clk)
{
    if ((uint64_t)addr + n > b->flash_size)
        return -1;
    if (b->mode == SIM_STUB) {
        stub_erase_upto(b, clk, addr + n);
        if (*clk < b->chip_free)
            *clk = b->chip_free;
    }
    for (uint32_t i = 0; i < n; i++)
        b->flash[addr + i] &= p[i];
    if (b->mode == SIM_STUB) {
        *clk += flash_cost(b, program_cost(n));
        b->chip_free = *clk;
    } else {
        *clk += program_cost(n);
    }
    return 0;
}

/* Reads flash for MD5 / READ_FLASH; md5-stuck flips bit 0 of the first
 * byte of every range read, so the digest never matches the file. */
void sim_flash_read(sim_board_t *b, uint32_t addr, uint8_t *out,
                       uint32_t n, bool first)
{
    memcpy(out, b->flash + addr, n);
    if (b->faults.md5_stuck && first && n)
        out[0] ^= 0x01;
}

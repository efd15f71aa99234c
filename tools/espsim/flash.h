/*
 * flash.h - espsim's flash model, shared by the loader's command handlers:
 * the timing of erase and program operations (CPU clock busy_until, flash
 * chip clock chip_free) and the flasher stub's lazy erase frontier.  Board
 * state only; no I/O; single-threaded like the rest of espsim.
 */
#ifndef ESPSIM_FLASH_H
#define ESPSIM_FLASH_H

#include <stdbool.h>
#include <stdint.h>

#include "espsim.h"

#define SECTOR 0x1000u
#define BLOCK64 0x10000u

double sim_spend(sim_board_t *b, double cost);
double sim_erase_range(sim_board_t *b, uint32_t start, uint32_t end);
void sim_stub_erase_idle(sim_board_t *b, double t);
void sim_chip_sync(sim_board_t *b);
int sim_flash_program(sim_board_t *b, uint32_t addr, const uint8_t *p, uint32_t n, double *clk);
void sim_flash_read(sim_board_t *b, uint32_t addr, uint8_t *out, uint32_t n, bool first);

#endif

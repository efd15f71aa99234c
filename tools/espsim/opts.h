/*
 * opts.h - espsim's command line: parsed once into a sim_opts_t that main.c
 * reads (only `control` changes later, when stdin closes).  Pure apart from
 * its messages on stderr/stdout; single-threaded like the rest of espsim.
 */
#ifndef ESPSIM_OPTS_H
#define ESPSIM_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "espsim.h"

#define MAX_BOARDS 256

#define MAX_OPT_ARGS 64 /* --fault / --usb options kept */

typedef struct {
    char *spec;
    int board; /* -1 = all */
} fault_arg_t;

typedef struct {
    const char *arg;
    int board;        /* -1 = all */
    sim_usb_t usb;
    double wdt_s;
} usb_arg_t;

typedef struct {
    int board;        /* -1 = all */
    bool keep;        /* keep, else power-on */
} persist_arg_t;

/* The command line, parsed once by parse_options(); read-only afterwards
 * except control, which drops to false when stdin closes. */
typedef struct {
    const char *boards;        /* --boards SPEC */
    const char *dump_dir, *links_dir;
    int tcp_base;              /* -1: no TCP */
    bool no_pty, pace, verbose;
    bool control;              /* --control: commands on stdin */
    const char *stub_dir;      /* --stub-dir DIR */
    bool accept_any_stub;      /* --accept-any-stub */
    uint32_t seed, jedec;
    long flash_size;
    int revs[SIM_CHIP_COUNT];  /* -1: the chip's default revision */
    fault_arg_t faults[MAX_OPT_ARGS];
    int nfaults;
    usb_arg_t usbs[MAX_OPT_ARGS];
    int nusb;
    persist_arg_t persists[MAX_OPT_ARGS];
    int npersist;
} sim_opts_t;

/* parse_options() and the set-up steps: carry on, else an exit status */
#define GO_ON (-1)

/* Fills *o from argv; returns GO_ON, or the exit status (--help: 0). */
int sim_opts_parse(int argc, char **argv, sim_opts_t *o);
void sim_usage(FILE *f);
const char *sim_usb_name(sim_usb_t u);

#endif

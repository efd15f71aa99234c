/*
 * list.h - serial port listing helpers behind `espfab ports` (src/port and
 * src/cli only).  The formatters and the link matcher take injected
 * descriptors and directories so they are unit-tested without USB devices.
 * Nothing here keeps state or calls back; all of it is thread-safe except
 * espfab_ports_list itself (libserialport's error state is per process).
 */
#ifndef ESPFAB_PORT_LIST_H
#define ESPFAB_PORT_LIST_H

#include <stdio.h>

#include "espfab/port.h"

/* For each desc whose path is the target of a link in by_path_dir / by_id_dir,
 * fills by_path / by_id with that link.  Links whose target matches no desc
 * are appended as new descs (not USB: vid/pid -1) while *n < cap. */
void espfab_port__fill_links(espfab_port_desc_t *d, size_t *n, size_t cap, const char *by_path_dir,
                             const char *by_id_dir);
/* Fills bridge from the VID:PID table (or "" when unknown / not USB). */
void espfab_port__fill_bridge(espfab_port_desc_t *d);

/* Human-readable table; says there are none (with the hint) when n == 0. */
void espfab_port__format_text(FILE *out, const espfab_port_desc_t *d, size_t n);
/* A JSON array of objects (path, by_path, by_id, usb_vid, usb_pid, vid_pid,
 * serial, manufacturer, product, bridge); absent values are null. */
void espfab_port__format_json(FILE *out, const espfab_port_desc_t *d, size_t n);

/* The port to use when --port is left out (esptool's rule): the one USB
 * serial port among d (usb_vid >= 0; ports that are not USB are never
 * guessed).  Returns 0 with *index set, ESPFAB_E_PORT_NONE_PRESENT when
 * there is none, or ESPFAB_E_PORT_AMBIGUOUS when there are several (the
 * detail counts them; espfab_port__format_choices lists them).  Pure. */
int espfab_port__pick(const espfab_port_desc_t *d, size_t n, size_t *index, espfab_fault_t *f);
/* One line per USB serial port among d: path, VID:PID, bridge, by-path. */
void espfab_port__format_choices(FILE *out, const espfab_port_desc_t *d, size_t n);

#endif

/*
 * runout.h - what `espfab run` shows: the live console on a terminal, JSON
 * lines for a jig controller, or plain text lines.  Private to src/cli.
 * Everything runs on the station's loop thread; espfab_runout_event() is
 * called from the station callback.
 */
#ifndef ESPFAB_CLI_RUNOUT_H
#define ESPFAB_CLI_RUNOUT_H

#include <stdint.h>
#include <uv.h>

#include "espfab/profile.h"
#include "espfab/station.h"
#include "espfab/station_cfg.h"

typedef enum espfab_runout_mode {
    ESPFAB_RUNOUT_AUTO = 0, /* console on a terminal, JSON lines otherwise */
    ESPFAB_RUNOUT_CONSOLE,
    ESPFAB_RUNOUT_JSON,
    ESPFAB_RUNOUT_TEXT
} espfab_runout_mode_t;

typedef struct espfab_runout espfab_runout_t;

/* NULL -> AUTO; "console" "json" "text".  0 or -1. */
int espfab_runout_mode_parse(const char *s, espfab_runout_mode_t *m);
espfab_runout_t *espfab_runout_new(uv_loop_t *loop, espfab_runout_mode_t mode,
                                   espfab_station_t *st, const espfab_station_cfg_t *cfg,
                                   const char *profile_label, const char *db_path,
                                   int64_t run_id);
void espfab_runout_event(espfab_runout_t *o, const espfab_station_event_t *ev);
void espfab_runout_note(espfab_runout_t *o, const char *text);
/* Final summary (after FINISHED), on stdout (text/console) or as a JSON line. */
void espfab_runout_summary(espfab_runout_t *o);
void espfab_runout_free(espfab_runout_t *o);

#endif

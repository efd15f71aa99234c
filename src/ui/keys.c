/*
 * keys.c - console key handling as a pure function: key bytes in, actions
 * out (console.h: espfab_console_keys_feed).  Knows the xterm/VT100 cursor
 * key sequences (CSI and SS3 forms), Tab and Shift-Tab (CSI Z); other
 * escape sequences are consumed and ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/console.h"

void espfab_console_keys_init(espfab_console_keys_t *k)
{
    memset(k, 0, sizeof(*k));
    k->selected = -1;
}

typedef struct emitter {
    espfab_console_action_t *out;
    size_t max, n;
} emitter_t;

static void emit(emitter_t *e, espfab_console_act_t act, int slot)
{
    /* coalesce redraw requests */
    if (act == ESPFAB_CONSOLE_ACT_CHANGED && e->n && e->out[e->n - 1].act == act)
        return;
    if (e->n < e->max) {
        e->out[e->n].act = act;
        e->out[e->n].slot = slot;
        e->n++;
    }
}

static void set_prompt(espfab_console_keys_t *k)
{
    const char *what = k->mode == ESPFAB_CONSOLE_IN_PAUSE_PROMPT ? "pause/resume" : "retry";
    snprintf(k->prompt, sizeof(k->prompt), "%s which slot? (name or number, Enter; Esc cancels): %s_",
             what, k->answer);
}

static int find_slot(const char *ans, const char *const *names, size_t nslots)
{
    if (!ans[0])
        return -1;
    for (size_t i = 0; i < nslots; i++)
        if (names && names[i] && !strcmp(names[i], ans))
            return (int)i;
    char *end;
    long v = strtol(ans, &end, 10);
    if (*end == '\0' && v >= 1 && (size_t)v <= nslots)
        return (int)(v - 1);
    return -1;
}

static void move_sel(espfab_console_keys_t *k, int delta, size_t nslots, emitter_t *e)
{
    if (!nslots)
        return;
    int n = (int)nslots;
    if (k->selected < 0) {
        k->selected = delta > 0 ? 0 : n - 1;
    } else {
        int s = k->selected + delta;
        if (delta == 1 || delta == -1)
            s = (s + n) % n;           /* Tab / left / right wrap around */
        else if (s < 0 || s >= n)
            s = k->selected;           /* up / down stop at the edge */
        k->selected = s;
    }
    emit(e, ESPFAB_CONSOLE_ACT_CHANGED, -1);
}

static void esc_key(espfab_console_keys_t *k, emitter_t *e)
{
    if (k->mode != ESPFAB_CONSOLE_IN_NORMAL) {
        k->mode = ESPFAB_CONSOLE_IN_NORMAL;
        k->answer[0] = '\0';
        k->prompt[0] = '\0';
    } else if (k->help) {
        k->help = false;
    } else {
        k->selected = -1;
        k->prompt[0] = '\0';
    }
    emit(e, ESPFAB_CONSOLE_ACT_CHANGED, -1);
}

/* A complete escape sequence (without the ESC): cursor keys and Shift-Tab. */
static void esc_seq(espfab_console_keys_t *k, const unsigned char *s, size_t n, int per_row,
                    size_t nslots, emitter_t *e)
{
    if (k->mode != ESPFAB_CONSOLE_IN_NORMAL || n < 2)
        return;
    if (k->help) {
        k->help = false;
        emit(e, ESPFAB_CONSOLE_ACT_CHANGED, -1);
        return;
    }
    k->prompt[0] = '\0';
    unsigned char fin = s[n - 1];
    if (per_row < 1)
        per_row = 1;
    switch (fin) {
    case 'A': move_sel(k, -per_row, nslots, e); break;
    case 'B': move_sel(k, per_row, nslots, e); break;
    case 'C': move_sel(k, 1, nslots, e); break;
    case 'D': move_sel(k, -1, nslots, e); break;
    case 'Z': move_sel(k, -1, nslots, e); break;
    default: break;
    }
}

static void prompt_byte(espfab_console_keys_t *k, unsigned char c, const char *const *names,
                        size_t nslots, emitter_t *e)
{
    size_t len = strlen(k->answer);
    if (c == '\r' || c == '\n') {
        int slot = find_slot(k->answer, names, nslots);
        espfab_console_input_mode_t m = k->mode;
        k->mode = ESPFAB_CONSOLE_IN_NORMAL;
        if (slot < 0) {
            snprintf(k->prompt, sizeof(k->prompt), "no slot '%s' (slot names or 1..%zu)",
                     k->answer, nslots);
            emit(e, ESPFAB_CONSOLE_ACT_BAD_SLOT, -1);
        } else {
            k->prompt[0] = '\0';
            emit(e, m == ESPFAB_CONSOLE_IN_PAUSE_PROMPT ? ESPFAB_CONSOLE_ACT_PAUSE
                                                         : ESPFAB_CONSOLE_ACT_RETRY, slot);
        }
        k->answer[0] = '\0';
        emit(e, ESPFAB_CONSOLE_ACT_CHANGED, -1);
        return;
    }
    if (c == 0x7F || c == 0x08) {
        if (len)
            k->answer[len - 1] = '\0';
    } else if (c >= 0x20 && c < 0x7F) {
        if (len + 1 < sizeof(k->answer)) {
            k->answer[len] = (char)c;
            k->answer[len + 1] = '\0';
        }
    } else {
        return;
    }
    set_prompt(k);
    emit(e, ESPFAB_CONSOLE_ACT_CHANGED, -1);
}

static void normal_byte(espfab_console_keys_t *k, unsigned char c, size_t nslots, emitter_t *e)
{
    if (k->help) {
        /* any key closes the help; ? and h toggle it */
        k->help = false;
        emit(e, ESPFAB_CONSOLE_ACT_CHANGED, -1);
        return;
    }
    if (k->prompt[0]) {
        /* a message from the last prompt goes away with the next key */
        k->prompt[0] = '\0';
        emit(e, ESPFAB_CONSOLE_ACT_CHANGED, -1);
    }
    switch (c) {
    case 'q':
    case 'Q':
        emit(e, ESPFAB_CONSOLE_ACT_QUIT, -1);
        break;
    case 'p':
    case 'P':
    case 'r':
    case 'R': {
        bool pause = c == 'p' || c == 'P';
        if (k->selected >= 0 && (size_t)k->selected < nslots) {
            emit(e, pause ? ESPFAB_CONSOLE_ACT_PAUSE : ESPFAB_CONSOLE_ACT_RETRY, k->selected);
        } else {
            k->mode = pause ? ESPFAB_CONSOLE_IN_PAUSE_PROMPT : ESPFAB_CONSOLE_IN_RETRY_PROMPT;
            k->answer[0] = '\0';
            set_prompt(k);
            emit(e, ESPFAB_CONSOLE_ACT_CHANGED, -1);
        }
        break;
    }
    case '?':
    case 'h':
        k->help = true;
        emit(e, ESPFAB_CONSOLE_ACT_CHANGED, -1);
        break;
    case '\t':
        move_sel(k, 1, nslots, e);
        break;
    case 0x0C:
        emit(e, ESPFAB_CONSOLE_ACT_REDRAW, -1);
        break;
    default:
        break;
    }
}

size_t espfab_console_keys_feed(espfab_console_keys_t *k, const unsigned char *buf, size_t n,
                                const char *const *names, size_t nslots, int per_row,
                                espfab_console_action_t *out, size_t max)
{
    emitter_t e = {out, max, 0};
    for (size_t i = 0; i < n; i++) {
        unsigned char c = buf[i];
        if (k->nesc) {
            /* inside an escape sequence: ESC, ESC [ params final, ESC O x */
            if (k->nesc == 1) {
                if (c == '[' || c == 'O') {
                    k->esc[k->nesc++] = c;
                    continue;
                }
                k->nesc = 0;
                esc_key(k, &e);
                /* fall through: c is a key of its own */
            } else if (k->esc[1] == 'O') {
                k->esc[k->nesc++] = c;
                esc_seq(k, k->esc + 1, k->nesc - 1, per_row, nslots, &e);
                k->nesc = 0;
                continue;
            } else {
                if (k->nesc < sizeof(k->esc))
                    k->esc[k->nesc++] = c;
                if (c >= 0x40 && c <= 0x7E) {
                    esc_seq(k, k->esc + 1, k->nesc - 1, per_row, nslots, &e);
                    k->nesc = 0;
                }
                continue;
            }
        }
        if (c == 0x03) {
            if (k->mode != ESPFAB_CONSOLE_IN_NORMAL) {
                k->mode = ESPFAB_CONSOLE_IN_NORMAL;
                k->answer[0] = k->prompt[0] = '\0';
                emit(&e, ESPFAB_CONSOLE_ACT_CHANGED, -1);
            }
            emit(&e, ESPFAB_CONSOLE_ACT_INTERRUPT, -1);
            continue;
        }
        if (c == 0x1B) {
            k->esc[0] = c;
            k->nesc = 1;
            continue;
        }
        if (k->mode != ESPFAB_CONSOLE_IN_NORMAL)
            prompt_byte(k, c, names, nslots, &e);
        else
            normal_byte(k, c, nslots, &e);
    }
    if (k->nesc == 1) {
        /* a lone ESC at the end of a read is the Esc key */
        k->nesc = 0;
        esc_key(k, &e);
    }
    return e.n;
}

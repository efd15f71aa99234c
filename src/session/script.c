/*
 * script.c - register scripts: a short list of register operations (READ,
 * WRITE with a mask, SET_BITS / CLEAR_BITS / CLEAR_IF_SET as read-modify-
 * write, DELAY) sent one command at a time, then a continuation.  Used to
 * disable watchdogs, power the flash, save and restore SPI registers, read
 * the boot straps and reset a chip by its watchdog.  Owns s->scr; the
 * caller fills s->scr.ops[0..n) first.
 */
#include "core.h"

#include <assert.h>
#include <inttypes.h>

static void script_next(espfab_session_t *s);

static bool rmw(const espfab_regop_t *op)
{
    return op->kind == ESPFAB_REGOP_SET_BITS || op->kind == ESPFAB_REGOP_CLEAR_BITS ||
           op->kind == ESPFAB_REGOP_CLEAR_IF_SET;
}

static bool reading(const struct script *S)
{
    const espfab_regop_t *op = &S->ops[S->idx];
    return op->kind == ESPFAB_REGOP_READ || (rmw(op) && S->half == RMW_READ);
}

static void step_done(espfab_session_t *s)
{
    s->scr.half = RMW_READ;
    s->scr.idx++;
    script_next(s);
}

static void on_script(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    struct script *S = &s->scr;
    const espfab_regop_t *op = &S->ops[S->idx];
    bool rd = reading(S);
    if (rc < 0 || !r->ok) {
        if (S->kind != SCRIPT_STRICT) {
            sess_note(s, "%s: %s(0x%08" PRIX32 ") %s; going on", S->what, rd ? "READ_REG" : "WRITE_REG", op->addr,
                 rc < 0 ? espfab_strerror(rc) : "was refused");
            S->result = rc == 0 ? SCRIPT_REFUSED : SCRIPT_UNANSWERED;
            S->done(s);
            return;
        }
        if (rc == 0)
            sess_fail_resp(s, r, rd ? ESPFAB_OP_READ_REG : ESPFAB_OP_WRITE_REG, "%s (0x%08" PRIX32 ")", S->what,
                      op->addr);
        else
            sess_fail(s, rc, "no reply to %s(0x%08" PRIX32 ") while %s", rd ? "READ_REG" : "WRITE_REG", op->addr,
                 S->what);
        return;
    }
    if (rd && rmw(op)) {
        S->set_read = r->value;
        S->half = RMW_WRITE;
        if (op->kind == ESPFAB_REGOP_CLEAR_IF_SET && (r->value & op->value) != op->value)
            step_done(s); /* not all set: leave it */
        else
            script_next(s);
        return;
    }
    if (rd && S->nvals < SCRIPT_VALS)
        S->vals[S->nvals++] = r->value;
    step_done(s);
}

static void script_next(espfab_session_t *s)
{
    struct script *S = &s->scr;
    if (S->idx >= S->n) {
        S->done(s);
        return;
    }
    const espfab_regop_t *op = &S->ops[S->idx];
    size_t n;
    if (op->kind == ESPFAB_REGOP_DELAY) {
        S->idx++;
        sess_arm(s, (op->value + 999) / 1000, script_next);
        return;
    }
    if (S->kind == SCRIPT_SOFT_RESETS && S->idx + 1 == S->n)
        s->link.rx = RX_RESETTING; /* from now on the chip may vanish or talk */
    if (reading(S)) {
        n = espfab_cmd_read_reg(op->addr, s->link.pkt, sizeof(s->link.pkt));
    } else {
        uint32_t v = op->kind == ESPFAB_REGOP_SET_BITS ? S->set_read | op->value
                   : rmw(op)                          ? S->set_read & ~op->value
                                                      : op->value;
        n = espfab_cmd_write_reg(op->addr, v, op->mask ? op->mask : 0xFFFFFFFFu, 0, s->link.pkt,
                                 sizeof(s->link.pkt));
    }
    sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), S->kind == SCRIPT_STRICT ? REG_TRIES : 1, on_script);
}

void script_run(espfab_session_t *s, const char *what, script_kind_t kind, step_fn done)
{
    struct script *S = &s->scr;
    assert(S->n <= SCRIPT_CAP);
    S->idx = 0;
    S->nvals = 0;
    S->half = RMW_READ;
    S->kind = kind;
    S->result = SCRIPT_OK;
    S->what = what;
    S->done = done;
    script_next(s);
}

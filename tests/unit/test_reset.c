/* test_reset.c - reset step lists (docs/protocol.md 5.2) and the custom string parser. */
#include "check.h"

#include "espfab/reset.h"
#include "espfab/setting.h"

static void expect_step(const espfab_reset_step_t *s, int dtr, int rts, int both, unsigned wait)
{
    CHECK_EQ(s->dtr, dtr);
    CHECK_EQ(s->rts, rts);
    CHECK_EQ(s->both, both);
    CHECK_EQ(s->wait_ms, wait);
}

static void test_classic(void)
{
    espfab_reset_step_t st[ESPFAB_RESET_MAX_STEPS];
    size_t n = espfab_reset_classic(50, st, ESPFAB_RESET_MAX_STEPS);
    CHECK_EQ(n, 5);
    /* D=0; R=1; sleep 0.1; D=1; R=0; sleep delay; D=0 */
    expect_step(&st[0], 0, -1, 0, 0);
    expect_step(&st[1], -1, 1, 0, 100);
    expect_step(&st[2], 1, -1, 0, 0);
    expect_step(&st[3], -1, 0, 0, 50);
    expect_step(&st[4], 0, -1, 0, 0);
    CHECK_EQ(espfab_reset_total_ms(st, n), 150);
    CHECK_EQ(espfab_reset_classic(50, st, 4), 0); /* too small */
}

static void test_tight(void)
{
    espfab_reset_step_t st[ESPFAB_RESET_MAX_STEPS];
    size_t n = espfab_reset_tight(550, st, ESPFAB_RESET_MAX_STEPS);
    CHECK_EQ(n, 6);
    expect_step(&st[0], 0, 0, 1, 0);
    expect_step(&st[1], 1, 1, 1, 0);
    expect_step(&st[2], 0, 1, 1, 100);
    expect_step(&st[3], 1, 0, 1, 550);
    expect_step(&st[4], 0, 0, 1, 0);
    expect_step(&st[5], 0, -1, 0, 0);
}

static void test_usb_and_hard(void)
{
    espfab_reset_step_t st[ESPFAB_RESET_MAX_STEPS];
    size_t n = espfab_reset_usb_jtag(st, ESPFAB_RESET_MAX_STEPS);
    CHECK_EQ(n, 9);
    CHECK_EQ(espfab_reset_total_ms(st, n), 300);
    expect_step(&st[0], -1, 0, 0, 0);
    expect_step(&st[8], -1, 0, 0, 0);
    n = espfab_reset_hard(false, st, ESPFAB_RESET_MAX_STEPS);
    CHECK_EQ(n, 2);
    expect_step(&st[0], -1, 1, 0, 100);
    expect_step(&st[1], -1, 0, 0, 0);
    n = espfab_reset_hard(true, st, ESPFAB_RESET_MAX_STEPS);
    CHECK_EQ(espfab_reset_total_ms(st, n), 400);
}

static void test_auto_order(void)
{
    espfab_reset_step_t st[ESPFAB_RESET_MAX_STEPS];
    /* UnixTight(0.05), UnixTight(0.55), Classic(0.05), Classic(0.55), cycling */
    unsigned expect_total[] = {150, 650, 150, 650, 150, 650, 150};
    int expect_both[] = {1, 1, 0, 0, 1, 1, 0};
    for (int a = 0; a < 7; a++) {
        size_t n = espfab_reset_for_attempt(ESPFAB_RESET_AUTO, a, st, ESPFAB_RESET_MAX_STEPS);
        CHECK(n > 0);
        CHECK_EQ(espfab_reset_total_ms(st, n), expect_total[a]);
        CHECK_EQ(st[0].both, expect_both[a]);
    }
    CHECK_STR(espfab_reset_attempt_name(ESPFAB_RESET_AUTO, 2), "Classic(0.05)");
    CHECK_STR(espfab_reset_attempt_name(ESPFAB_RESET_AUTO, 5), "UnixTight(0.55)");
    CHECK_EQ(espfab_reset_for_attempt(ESPFAB_RESET_NONE, 0, st, ESPFAB_RESET_MAX_STEPS), 0);
}

/* AUTO on the chip's own USB-JTAG-Serial is the USB-JTAG sequence (it has
 * no auto-reset transistors); elsewhere, and any explicit choice, stays. */
static void test_resolve_by_usb_id(void)
{
    CHECK_EQ(espfab_reset_resolve(ESPFAB_RESET_AUTO, 0x303a, 0x1001), ESPFAB_RESET_USB_JTAG);
    CHECK_EQ(espfab_reset_resolve(ESPFAB_RESET_AUTO, 0x10c4, 0xea60), ESPFAB_RESET_AUTO); /* CP210x */
    CHECK_EQ(espfab_reset_resolve(ESPFAB_RESET_AUTO, 0x303a, 0x0002), ESPFAB_RESET_AUTO); /* USB-OTG */
    CHECK_EQ(espfab_reset_resolve(ESPFAB_RESET_AUTO, -1, -1), ESPFAB_RESET_AUTO);          /* pty */
    CHECK_EQ(espfab_reset_resolve(ESPFAB_RESET_CLASSIC, 0x303a, 0x1001), ESPFAB_RESET_CLASSIC);
    CHECK_EQ(espfab_reset_resolve(ESPFAB_RESET_NONE, 0x303a, 0x1001), ESPFAB_RESET_NONE);
}

/* The names of the strategies: every edge parses them through setting.h. */
static void test_names(void)
{
    espfab_reset_t r = ESPFAB_RESET_AUTO;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_setting_parse_before("no-reset", NULL, &r, &f), 0);
    CHECK_EQ(r, ESPFAB_RESET_NONE);
    CHECK_EQ(espfab_setting_parse_before("usb-reset", NULL, &r, &f), 0);
    CHECK_EQ(r, ESPFAB_RESET_USB_JTAG);
    CHECK_EQ(espfab_setting_parse_before("Classic", NULL, &r, &f), 0);
    CHECK_EQ(r, ESPFAB_RESET_CLASSIC);
    CHECK(espfab_setting_parse_before("bogus", NULL, &r, &f) < 0);
    CHECK_STR(espfab_reset_name(ESPFAB_RESET_TIGHT), "tight");
}

static void test_parse(void)
{
    espfab_reset_step_t st[ESPFAB_RESET_MAX_STEPS];
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int n = espfab_reset_parse("D0|R1|W0.1|D1|R0|W0.05|D0", st, ESPFAB_RESET_MAX_STEPS, &f);
    CHECK_EQ(n, 5);
    /* same steps as ClassicReset(0.05) */
    espfab_reset_step_t cl[ESPFAB_RESET_MAX_STEPS];
    CHECK_EQ(espfab_reset_classic(50, cl, ESPFAB_RESET_MAX_STEPS), 5);
    for (int i = 0; i < 5 && n == 5; i++)
        expect_step(&st[i], cl[i].dtr, cl[i].rts, cl[i].both, cl[i].wait_ms);

    n = espfab_reset_parse(" W0.2 | U0,1 |U10| r0 ", st, ESPFAB_RESET_MAX_STEPS, &f);
    CHECK_EQ(n, 4);
    expect_step(&st[0], -1, -1, 0, 200);
    expect_step(&st[1], 0, 1, 1, 0);
    expect_step(&st[2], 1, 0, 1, 0);
    expect_step(&st[3], -1, 0, 0, 0);

    n = espfab_reset_parse("D0|X1", st, ESPFAB_RESET_MAX_STEPS, &f);
    CHECK_EQ(n, ESPFAB_E_INVALID_ARG);
    CHECK_CONTAINS(f.detail, "command 2");
    CHECK_CONTAINS(f.detail, "X1");
    n = espfab_reset_parse("D2", st, ESPFAB_RESET_MAX_STEPS, &f);
    CHECK_EQ(n, ESPFAB_E_INVALID_ARG);
    CHECK_CONTAINS(f.detail, "0 or 1");
    n = espfab_reset_parse("D0||R1", st, ESPFAB_RESET_MAX_STEPS, &f);
    CHECK_EQ(n, ESPFAB_E_INVALID_ARG);
    n = espfab_reset_parse("Wabc", st, ESPFAB_RESET_MAX_STEPS, &f);
    CHECK_EQ(n, ESPFAB_E_INVALID_ARG);
    n = espfab_reset_parse("D0|D1|D0", st, 2, &f);
    CHECK_EQ(n, ESPFAB_E_BUFFER_TOO_SMALL);
}

int main(void)
{
    RUN(test_classic);
    RUN(test_tight);
    RUN(test_usb_and_hard);
    RUN(test_auto_order);
    RUN(test_names);
    RUN(test_resolve_by_usb_id);
    RUN(test_parse);
    return check_summary();
}

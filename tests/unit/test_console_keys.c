/* test_console_keys.c - console key bytes -> actions (pure). */
#include <string.h>

#include "check.h"
#include "espfab/console.h"

static const char *const names[] = {"A1", "A2", "B1", "B2", "7"};
#define NN 5

static size_t feed(espfab_console_keys_t *k, const char *bytes, espfab_console_action_t *a,
                   int per_row)
{
    return espfab_console_keys_feed(k, (const unsigned char *)bytes, strlen(bytes), names, NN,
                                    per_row, a, 16);
}

/* The first action of type act in a[0..n), or NULL. */
static const espfab_console_action_t *find(const espfab_console_action_t *a, size_t n,
                                           espfab_console_act_t act)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].act == act)
            return &a[i];
    return NULL;
}

static void test_quit_interrupt_redraw(void)
{
    espfab_console_keys_t k;
    espfab_console_action_t a[16];
    espfab_console_keys_init(&k);
    size_t n = feed(&k, "q", a, 2);
    CHECK_EQ(n, 1);
    CHECK_EQ(a[0].act, ESPFAB_CONSOLE_ACT_QUIT);
    n = feed(&k, "\x03", a, 2);
    CHECK_EQ(n, 1);
    CHECK_EQ(a[0].act, ESPFAB_CONSOLE_ACT_INTERRUPT);
    n = feed(&k, "\x0c", a, 2);
    CHECK_EQ(a[0].act, ESPFAB_CONSOLE_ACT_REDRAW);
    n = feed(&k, "x", a, 2);
    CHECK_EQ(n, 0);
}

static void test_selection_and_pause(void)
{
    espfab_console_keys_t k;
    espfab_console_action_t a[16];
    espfab_console_keys_init(&k);
    CHECK_EQ(k.selected, -1);
    feed(&k, "\t", a, 2);
    CHECK_EQ(k.selected, 0);
    feed(&k, "\033[C", a, 2);     /* right */
    CHECK_EQ(k.selected, 1);
    feed(&k, "\033[B", a, 2);     /* down: + per_row */
    CHECK_EQ(k.selected, 3);
    feed(&k, "\033[B", a, 2);     /* down past the end: stays */
    CHECK_EQ(k.selected, 3);
    feed(&k, "\033OA", a, 2);     /* SS3 up */
    CHECK_EQ(k.selected, 1);
    feed(&k, "\033[D\033[D", a, 2); /* left twice wraps to the last */
    CHECK_EQ(k.selected, 4);
    feed(&k, "\033[Z", a, 2);     /* Shift-Tab */
    CHECK_EQ(k.selected, 3);
    size_t n = feed(&k, "p", a, 2);
    const espfab_console_action_t *p = find(a, n, ESPFAB_CONSOLE_ACT_PAUSE);
    CHECK(p != NULL);
    if (p)
        CHECK_EQ(p->slot, 3);
    n = feed(&k, "r", a, 2);
    p = find(a, n, ESPFAB_CONSOLE_ACT_RETRY);
    CHECK(p != NULL);
    if (p)
        CHECK_EQ(p->slot, 3);
    /* Esc clears the selection (a lone ESC at the end of a read) */
    feed(&k, "\033", a, 2);
    CHECK_EQ(k.selected, -1);
}

static void test_split_escape(void)
{
    espfab_console_keys_t k;
    espfab_console_action_t a[16];
    espfab_console_keys_init(&k);
    k.selected = 0;
    /* ESC [ arrives, then C in the next read */
    feed(&k, "\033[", a, 2);
    CHECK_EQ(k.selected, 0);
    feed(&k, "C", a, 2);
    CHECK_EQ(k.selected, 1);
    /* an unknown sequence (F5: ESC [ 1 5 ~) is swallowed, no action */
    size_t n = feed(&k, "\033[15~", a, 2);
    CHECK(find(a, n, ESPFAB_CONSOLE_ACT_QUIT) == NULL);
    CHECK_EQ(k.selected, 1);
    /* ESC followed by q: Esc, then q */
    n = feed(&k, "\033q", a, 2);
    CHECK_EQ(k.selected, -1);
    CHECK(find(a, n, ESPFAB_CONSOLE_ACT_QUIT) != NULL);
}

static void test_prompt(void)
{
    espfab_console_keys_t k;
    espfab_console_action_t a[16];
    espfab_console_keys_init(&k);
    size_t n = feed(&k, "p", a, 2);
    CHECK_EQ(k.mode, ESPFAB_CONSOLE_IN_PAUSE_PROMPT);
    CHECK(find(a, n, ESPFAB_CONSOLE_ACT_CHANGED) != NULL);
    CHECK_CONTAINS(k.prompt, "pause/resume which slot?");
    /* q typed at the prompt is text, not quit */
    n = feed(&k, "qB", a, 2);
    CHECK(find(a, n, ESPFAB_CONSOLE_ACT_QUIT) == NULL);
    CHECK_STR(k.answer, "qB");
    feed(&k, "\x7f\x7f", a, 2);     /* two backspaces */
    CHECK_STR(k.answer, "");
    n = feed(&k, "B2\r", a, 2);
    const espfab_console_action_t *p = find(a, n, ESPFAB_CONSOLE_ACT_PAUSE);
    CHECK(p != NULL);
    if (p)
        CHECK_EQ(p->slot, 3);
    CHECK_EQ(k.mode, ESPFAB_CONSOLE_IN_NORMAL);
    CHECK_STR(k.prompt, "");

    /* a number is a 1-based slot; a name wins over a number ("7" is slot 5) */
    n = feed(&k, "r2\r", a, 2);
    p = find(a, n, ESPFAB_CONSOLE_ACT_RETRY);
    CHECK(p != NULL);
    if (p)
        CHECK_EQ(p->slot, 1);
    n = feed(&k, "r7\r", a, 2);
    p = find(a, n, ESPFAB_CONSOLE_ACT_RETRY);
    CHECK(p != NULL);
    if (p)
        CHECK_EQ(p->slot, 4);

    /* no such slot: a message, no action */
    n = feed(&k, "rZZ\r", a, 2);
    CHECK(find(a, n, ESPFAB_CONSOLE_ACT_RETRY) == NULL);
    CHECK(find(a, n, ESPFAB_CONSOLE_ACT_BAD_SLOT) != NULL);
    CHECK_CONTAINS(k.prompt, "no slot 'ZZ'");
    /* the message goes with the next key */
    feed(&k, "x", a, 2);
    CHECK_STR(k.prompt, "");

    /* Esc cancels a prompt */
    feed(&k, "pA", a, 2);
    n = feed(&k, "\033", a, 2);
    CHECK_EQ(k.mode, ESPFAB_CONSOLE_IN_NORMAL);
    CHECK(find(a, n, ESPFAB_CONSOLE_ACT_PAUSE) == NULL);
    /* Ctrl-C at a prompt cancels it and interrupts */
    feed(&k, "p", a, 2);
    n = feed(&k, "\x03", a, 2);
    CHECK_EQ(k.mode, ESPFAB_CONSOLE_IN_NORMAL);
    CHECK(find(a, n, ESPFAB_CONSOLE_ACT_INTERRUPT) != NULL);
}

static void test_help(void)
{
    espfab_console_keys_t k;
    espfab_console_action_t a[16];
    espfab_console_keys_init(&k);
    feed(&k, "?", a, 2);
    CHECK(k.help);
    /* any key closes the help without acting */
    size_t n = feed(&k, "q", a, 2);
    CHECK(!k.help);
    CHECK(find(a, n, ESPFAB_CONSOLE_ACT_QUIT) == NULL);
    feed(&k, "?", a, 2);
    feed(&k, "\033", a, 2);
    CHECK(!k.help);
}

static void test_output_bound(void)
{
    espfab_console_keys_t k;
    espfab_console_action_t a[2];
    espfab_console_keys_init(&k);
    size_t n = espfab_console_keys_feed(&k, (const unsigned char *)"qqqqqq", 6, names, NN, 1, a, 2);
    CHECK_EQ(n, 2);
}

int main(void)
{
    RUN(test_quit_interrupt_redraw);
    RUN(test_selection_and_pause);
    RUN(test_split_escape);
    RUN(test_prompt);
    RUN(test_help);
    RUN(test_output_bound);
    return check_summary();
}

/* record.c - attempt record helpers. */
#include "espfab/record.h"

#include <string.h>

const char *espfab_outcome_name(espfab_outcome_t o)
{
    switch (o) {
    case ESPFAB_OUTCOME_RUNNING: return "running";
    case ESPFAB_OUTCOME_PASS: return "pass";
    case ESPFAB_OUTCOME_FAIL: return "fail";
    case ESPFAB_OUTCOME_INTERRUPTED: return "interrupted";
    }
    return "unknown-outcome";
}

const char *espfab_phase_name(espfab_phase_t p)
{
    static const char *names[ESPFAB_PHASE_COUNT] = {"connect", "identify", "stub", "baud",
                                                     "erase", "write", "verify", "reset"};
    return (unsigned)p < ESPFAB_PHASE_COUNT ? names[p] : "unknown-phase";
}

bool espfab_attempt_came_back(const espfab_attempt_t *a)
{
    return a->outcome == ESPFAB_OUTCOME_INTERRUPTED && a->fault.code == ESPFAB_E_ALREADY_PASSED;
}

void espfab_attempt_init(espfab_attempt_t *a)
{
    memset(a, 0, sizeof(*a));
    a->rev_full = -1;
    espfab_fault_clear(&a->fault);
}

/* record.c - attempt record helpers. */
#include "espfab/record.h"

#include <stdio.h>
#include <string.h>

#include "espfab/build.h"

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

bool espfab_attempt_came_back(const espfab_attempt_t *a)
{
    return a->outcome == ESPFAB_OUTCOME_INTERRUPTED && a->fault.code == ESPFAB_E_ALREADY_PASSED;
}

void espfab_attempt_init(espfab_attempt_t *a)
{
    memset(a, 0, sizeof(*a));
    a->rev_full = -1;
    snprintf(a->espfab_version, sizeof(a->espfab_version), "%s", espfab_build_version());
    espfab_fault_clear(&a->fault);
}

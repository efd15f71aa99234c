/*
 * store_fixture.c - writes a traceability database in a known state for the
 * `espfab db` command tests:
 *   store_fixture clean DB     two finished attempts (pass, fail)
 *   store_fixture crash DB     one pass, then two attempts left running and
 *                              the process SIGKILLs itself
 *   store_fixture resolve DB   reflashes the crashed boards (pass, same MAC)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "espfab/store.h"

static void attempt(espfab_store_t *s, int64_t run, int k, espfab_outcome_t outcome, int finish)
{
    espfab_attempt_t a;
    espfab_attempt_init(&a);
    snprintf(a.station, sizeof a.station, "fixture");
    snprintf(a.slot, sizeof a.slot, "S%d", k);
    snprintf(a.port, sizeof a.port, "/dev/pts/%d", k);
    snprintf(a.lot, sizeof a.lot, "LOT-%d", k % 2);
    snprintf(a.mac, sizeof a.mac, "24:6f:28:00:00:%02x", k);
    snprintf(a.profile_name, sizeof a.profile_name, "fixture");
    espfab_fault_t f;
    if (espfab_store_attempt_begin(s, run, &a, &f) != 0) {
        fprintf(stderr, "begin: %s\n", f.detail);
        _exit(3);
    }
    if (!finish)
        return;
    a.outcome = outcome;
    if (outcome == ESPFAB_OUTCOME_FAIL)
        espfab_fault_set(&a.fault, ESPFAB_E_MD5_MISMATCH, "region 0x10000");
    if (espfab_store_attempt_finish(s, &a, &f) != 0) {
        fprintf(stderr, "finish: %s\n", f.detail);
        _exit(3);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: store_fixture clean|crash|resolve DB\n");
        return 2;
    }
    espfab_store_t *s;
    espfab_fault_t f;
    if (espfab_store_open(argv[2], 0, &s, NULL, &f) != 0) {
        fprintf(stderr, "open: %s\n", f.detail);
        return 3;
    }
    espfab_run_t run;
    memset(&run, 0, sizeof run);
    snprintf(run.station, sizeof run.station, "fixture");
    if (espfab_store_run_begin(s, &run, &f) != 0)
        return 3;
    if (!strcmp(argv[1], "clean")) {
        attempt(s, run.id, 1, ESPFAB_OUTCOME_PASS, 1);
        attempt(s, run.id, 2, ESPFAB_OUTCOME_FAIL, 1);
    } else if (!strcmp(argv[1], "crash")) {
        attempt(s, run.id, 3, ESPFAB_OUTCOME_PASS, 1);
        attempt(s, run.id, 4, ESPFAB_OUTCOME_RUNNING, 0);
        attempt(s, run.id, 5, ESPFAB_OUTCOME_RUNNING, 0);
        kill(getpid(), SIGKILL);
    } else if (!strcmp(argv[1], "resolve")) {
        attempt(s, run.id, 4, ESPFAB_OUTCOME_PASS, 1);
        attempt(s, run.id, 5, ESPFAB_OUTCOME_PASS, 1);
    } else {
        return 2;
    }
    espfab_store_run_end(s, run.id, 0, &f);
    espfab_store_close(s);
    return 0;
}

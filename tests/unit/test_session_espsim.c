/*
 * test_session_espsim.c - four sessions at once in one loop against espsim
 * (tools/espsim, the project's simulator, a separate process on ptys):
 * ESP32 and ESP32-S3 with the stub (or the ROM when the esptool-js stubs
 * are not installed), ESP32-C3 through the ROM loader with deflate, and an
 * ESP8266 through its ROM (written, not verifiable).  Asserts every record.
 */
#include "check.h"

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "espfab/session.h"

extern char **environ;

#define NBOARDS 4

typedef struct slot {
    char chip[16], mac[24], pty[64];
    espfab_attempt_t rec;
    int done;
    char notes[1024];
} slot_t;

static slot_t slots[NBOARDS];
static uint8_t image[65536 + 123];

static void on_ev(espfab_session_t *s, const espfab_session_ev_t *ev, void *data)
{
    slot_t *sl = data;
    if (ev->kind == ESPFAB_SESSION_EV_NOTE) {
        strncat(sl->notes, ev->note, sizeof(sl->notes) - strlen(sl->notes) - 2);
        strcat(sl->notes, "\n");
    } else if (ev->kind == ESPFAB_SESSION_EV_DONE) {
        sl->done++;
        sl->rec = *espfab_session_record(s);
        espfab_session_free(s);
    }
}

static pid_t spawn_sim(char **argv, int *n_out, FILE **fp_out)
{
    int out[2];
    if (pipe(out) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        return -1;
    }
    FILE *fp = fdopen(out[0], "r");
    char line[512];
    int n = 0;
    memset(slots, 0, sizeof(slots));
    while (fgets(line, sizeof(line), fp)) {
        if (strncmp(line, "espsim ready", 12) == 0)
            break;
        int idx;
        char chip[16], mac[24], pty[64];
        if (sscanf(line, "board %d chip=%15s mac=%23s pty=%63s", &idx, chip, mac, pty) == 4 && idx >= 0 &&
            idx < NBOARDS) {
            snprintf(slots[idx].chip, sizeof(slots[idx].chip), "%s", chip);
            snprintf(slots[idx].mac, sizeof(slots[idx].mac), "%s", mac);
            snprintf(slots[idx].pty, sizeof(slots[idx].pty), "%s", pty);
            n++;
        }
    }
    *n_out = n;
    *fp_out = fp;
    return pid;
}

/* Faults injected by espsim, one per board, all ESP32 ROM sessions at once. */
static void test_faults(void)
{
    char sim[512];
    snprintf(sim, sizeof(sim), "%s/tools/espsim/espsim", ESPFAB_BINARY_DIR);
    CHECK(access(sim, X_OK) == 0);
    char *argv[] = {sim, "--boards", "esp32:4", "--fault", "0:silent", "--fault", "1:normal-boot",
                    "--fault", "2:rom-error=0x11:0x08:1", "--fault", "3:unplug=9000", NULL};
    int n = 0;
    FILE *fp = NULL;
    pid_t pid = spawn_sim(argv, &n, &fp);
    CHECK(pid > 0);
    CHECK_EQ(n, NBOARDS);
    for (size_t i = 0; i < sizeof(image); i++)
        image[i] = (uint8_t)(i * 31 + (i >> 8));
    uv_loop_t loop;
    uv_loop_init(&loop);
    espfab_blob_cache_t *cache = espfab_blob_cache_new(&loop);
    espfab_blob_t *blob = espfab_blob_intern_copy(cache, image, sizeof(image));
    espfab_session_region_t reg = {0x10000, "app.bin", blob};
    for (int i = 0; i < n; i++) {
        espfab_session_opts_t o;
        espfab_session_opts_init(&o);
        o.port = slots[i].pty;
        o.no_stub = true;
        o.baud = 115200; /* keep the unplug point in the write phase */
        o.connect_attempts = 2;
        o.cache = cache;
        o.regions = &reg;
        o.nregions = 1;
        espfab_session_t *s = espfab_session_new(&loop, &o, on_ev, &slots[i]);
        CHECK(s != NULL);
        CHECK_EQ(espfab_session_start(s), 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    espfab_blob_unref(cache, blob);
    espfab_blob_cache_free(cache);
    CHECK_EQ(uv_loop_close(&loop), 0);
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    fclose(fp);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "board %d: %s\n", i, slots[i].rec.message);
    CHECK_EQ(slots[0].rec.fault.code, ESPFAB_E_NO_SERIAL_DATA);
    CHECK_EQ(slots[1].rec.fault.code, ESPFAB_E_WRONG_BOOT_MODE);
    CHECK_CONTAINS(slots[1].rec.fault.detail, "boot:0x13");
    CHECK_EQ(slots[2].rec.fault.code, ESPFAB_E_FLASH_WRITE_ERROR);
    CHECK_EQ(slots[2].rec.fault.rom_error, 0x08);
    CHECK_EQ(slots[3].rec.fault.code, ESPFAB_E_PORT_VANISHED);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(slots[i].done, 1);
        CHECK_EQ(slots[i].rec.outcome, ESPFAB_OUTCOME_FAIL);
    }
}

static void test_four_boards(void)
{
    char sim[512];
    snprintf(sim, sizeof(sim), "%s/tools/espsim/espsim", ESPFAB_BINARY_DIR);
    if (access(sim, X_OK) != 0) {
        fprintf(stderr, "espsim not built at %s: build the whole tree first\n", sim);
        CHECK(access(sim, X_OK) == 0);
        return;
    }
    int out[2];
    CHECK(pipe(out) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {sim, "--boards", "esp32:1,esp32s3:1,esp32c3:1,esp8266:1", "--seed", "7", NULL};
    pid_t pid;
    CHECK(posix_spawn(&pid, sim, &fa, NULL, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    FILE *fp = fdopen(out[0], "r");
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), fp)) {
        if (strncmp(line, "espsim ready", 12) == 0)
            break;
        int idx;
        char chip[16], mac[24], pty[64];
        if (sscanf(line, "board %d chip=%15s mac=%23s pty=%63s", &idx, chip, mac, pty) == 4 && idx >= 0 &&
            idx < NBOARDS) {
            snprintf(slots[idx].chip, sizeof(slots[idx].chip), "%s", chip);
            snprintf(slots[idx].mac, sizeof(slots[idx].mac), "%s", mac);
            snprintf(slots[idx].pty, sizeof(slots[idx].pty), "%s", pty);
            n++;
        }
    }
    CHECK_EQ(n, NBOARDS);

    char stubdir[512];
    snprintf(stubdir, sizeof(stubdir), "%s/tools/npm/node_modules/esptool-js/lib/targets/stub_flasher",
             ESPFAB_SOURCE_DIR);
    struct stat st;
    bool have_stubs = stat(stubdir, &st) == 0;
    if (!have_stubs)
        fprintf(stderr, "note: esptool-js stubs not installed (tools/setup.sh): ESP32/S3 use the ROM\n");

    for (size_t i = 0; i < sizeof(image); i++)
        image[i] = (uint8_t)(i * 31 + (i >> 8));
    uv_loop_t loop;
    uv_loop_init(&loop);
    espfab_blob_cache_t *cache = espfab_blob_cache_new(&loop);
    espfab_blob_t *blob = espfab_blob_intern_copy(cache, image, sizeof(image));
    espfab_session_region_t reg = {0x10000, "app.bin", blob};
    for (int i = 0; i < NBOARDS && i < n; i++) {
        espfab_session_opts_t o;
        espfab_session_opts_init(&o);
        o.port = slots[i].pty;
        o.chip = espfab_chip_by_key(slots[i].chip) ? espfab_chip_by_key(slots[i].chip)->id : ESPFAB_CHIP_UNKNOWN;
        o.no_stub = !have_stubs || i >= 2; /* C3 and ESP8266 through the ROM */
        o.no_verify = i == 3; /* the ESP8266 ROM has no MD5 */
        o.stub_dir = stubdir;
        o.connect_attempts = 2;
        o.cache = cache;
        o.regions = &reg;
        o.nregions = 1;
        espfab_session_t *s = espfab_session_new(&loop, &o, on_ev, &slots[i]);
        CHECK(s != NULL);
        CHECK_EQ(espfab_session_start(s), 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    espfab_blob_unref(cache, blob);
    espfab_blob_cache_free(cache);
    CHECK_EQ(uv_loop_close(&loop), 0);
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    fclose(fp);

    for (int i = 0; i < n; i++) {
        const espfab_attempt_t *a = &slots[i].rec;
        fprintf(stderr, "board %d (%s): %s\n", i, slots[i].chip, a->message);
        if (a->outcome != ESPFAB_OUTCOME_PASS)
            fprintf(stderr, "%s", slots[i].notes);
        CHECK_EQ(slots[i].done, 1);
        CHECK_EQ(a->outcome, ESPFAB_OUTCOME_PASS);
        CHECK_STR(a->mac, slots[i].mac);
        CHECK(a->regions[0].written);
        CHECK_EQ(a->regions[0].size, (sizeof(image) + 3) & ~3u); /* padded to 4 bytes */
        if (i == 3) {
            CHECK_STR(a->chip, "ESP8266");
            CHECK(!a->regions[0].verified);
            CHECK_CONTAINS(a->message, "NOT verified");
        } else {
            CHECK(a->regions[0].verified);
            CHECK_STR(a->regions[0].md5_device, a->regions[0].md5_expected);
            CHECK_EQ(a->baud, 460800);
        }
        if (i < 2 && have_stubs)
            CHECK_STR(a->loader, "stub");
    }
}

int main(void)
{
    RUN(test_four_boards);
    RUN(test_faults);
    return check_summary();
}

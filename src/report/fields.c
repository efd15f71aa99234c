/*
 * fields.c - the exported fields of an attempt and of a region, in column
 * order (see fields.h).  Adding a field here adds it to CSV and JSON alike.
 */
#include "report/fields.h"

#include "espfab/store.h"

#define STR(nm, v) do { report_field_t f_ = {nm, REPORT_STR, (v), 0}; \
        if ((rc = cb(&f_, data)) != 0) return rc; } while (0)
#define INT(nm, v) do { report_field_t f_ = {nm, REPORT_INT, NULL, (int64_t)(v)}; \
        if ((rc = cb(&f_, data)) != 0) return rc; } while (0)
#define BOOL(nm, v) do { report_field_t f_ = {nm, REPORT_BOOL, NULL, (v) ? 1 : 0}; \
        if ((rc = cb(&f_, data)) != 0) return rc; } while (0)
#define NUL(nm) do { report_field_t f_ = {nm, REPORT_NULL, NULL, 0}; \
        if ((rc = cb(&f_, data)) != 0) return rc; } while (0)
#define INT_OR_NULL(nm, v, known) do { if (known) INT(nm, v); else NUL(nm); } while (0)

static const char *const phase_cols[ESPFAB_PHASE_COUNT] = {
    "ms_connect", "ms_identify", "ms_stub", "ms_baud",
    "ms_erase", "ms_write", "ms_verify", "ms_reset",
};
_Static_assert(ESPFAB_PHASE_COUNT == 8, "one ms_* column per espfab_phase_t");

void espfab__report_iso8601(int64_t ms, char out[32])
{
    /* 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z */
    if (ms < -62135596800000LL || ms > 253402300799999LL)
        snprintf(out, 32, "out-of-range");
    else
        espfab_store_iso8601(ms, out);
}

int espfab__report_attempt_fields(const espfab_attempt_t *a, int64_t run_id, report_field_cb cb,
                                  void *data)
{
    int rc;
    char iso[32];
    INT("id", a->id);
    INT_OR_NULL("run_id", run_id, run_id != 0);
    STR("station", a->station);
    STR("line", a->line);
    STR("slot", a->slot);
    STR("port", a->port);
    STR("operator", a->operator_name);
    STR("lot", a->lot);
    STR("profile_name", a->profile_name);
    STR("profile_sha256", a->profile_sha256);
    STR("chip", a->chip);
    INT_OR_NULL("rev_full", a->rev_full, a->rev_full >= 0);
    STR("mac", a->mac);
    STR("chip_id", a->chip_id);
    BOOL("has_secinfo", a->has_secinfo);
    INT("secinfo_flags", a->secinfo_flags);
    INT("flash_jedec", a->flash_jedec);
    INT("flash_size", a->flash_size);
    INT("xtal_mhz", a->xtal_mhz);
    STR("loader", a->loader);
    INT("baud", a->baud);
    INT("start_ms", a->start_ms);
    espfab__report_iso8601(a->start_ms, iso);
    STR("started_at", iso);
    INT_OR_NULL("end_ms", a->end_ms, a->end_ms != 0);
    if (a->end_ms) {
        espfab__report_iso8601(a->end_ms, iso);
        STR("ended_at", iso);
    } else {
        NUL("ended_at");
    }
    for (int p = 0; p < ESPFAB_PHASE_COUNT; p++)
        INT(phase_cols[p], a->phase_ms[p]);
    INT("bytes_sent", a->bytes_sent);
    INT("bytes_received", a->bytes_received);
    STR("outcome", espfab_outcome_name(a->outcome));
    INT("error_code", espfab_err_number(a->fault.code));
    const char *nm = a->fault.code ? espfab_err_name(a->fault.code) : "";
    if (nm)
        STR("error_name", nm);
    else
        NUL("error_name");
    STR("error_message", a->fault.code ? espfab_strerror(a->fault.code) : "");
    INT_OR_NULL("rom_status", a->fault.rom_status, a->fault.rom_status >= 0);
    INT_OR_NULL("rom_error", a->fault.rom_error, a->fault.rom_error >= 0);
    if (a->fault.rom_error >= 0)
        STR("rom_error_name", a->fault.stub_error ? espfab_stub_error_name(a->fault.rom_error)
                                                  : espfab_rom_error_name(a->fault.rom_error));
    else
        NUL("rom_error_name");
    BOOL("stub_error", a->fault.stub_error);
    INT("errno", a->fault.sys_errno);
    INT("retries", a->fault.retries);
    STR("detail", a->fault.detail);
    STR("message", a->message);
    STR("chain_sha256", a->chain_sha256);
    STR("espfab_version", a->espfab_version); /* "" in rows recorded before schema 3 */
    STR("stub_sha256", a->stub_sha256);       /* "" for the ROM loader or before schema 3 */
    INT("nregions", a->nregions);
    return 0;
}

int espfab__report_region_fields(const espfab_region_result_t *r, report_field_cb cb, void *data)
{
    int rc;
    INT("offset", r->offset);
    STR("file", r->file);
    STR("sha256", r->sha256);
    STR("md5_expected", r->md5_expected);
    STR("md5_device", r->md5_device);
    INT("size", r->size);
    INT("wire_size", r->wire_size);
    BOOL("compressed", r->compressed);
    BOOL("written", r->written);
    BOOL("verified", r->verified);
    return 0;
}

static int count_cb(const report_field_t *fld, void *data)
{
    (void)fld;
    (*(int *)data)++;
    return 0;
}

int espfab__report_region_field_count(void)
{
    espfab_region_result_t r = {0};
    int n = 0;
    espfab__report_region_fields(&r, count_cb, &n);
    return n;
}

static int json_field_cb(const report_field_t *fld, void *data)
{
    espfab_json_t *w = data;
    switch (fld->kind) {
    case REPORT_STR: return espfab_json_str(w, fld->name, fld->s);
    case REPORT_INT: return espfab_json_int(w, fld->name, (long long)fld->i);
    case REPORT_BOOL: return espfab_json_bool(w, fld->name, fld->i != 0);
    case REPORT_NULL: return espfab_json_null(w, fld->name);
    }
    return 0;
}

int espfab__report_attempt_json(espfab_json_t *w, const espfab_attempt_t *a, int64_t run_id)
{
    int rc = espfab__report_attempt_fields(a, run_id, json_field_cb, w);
    if (rc)
        return rc;
    int n = a->nregions < 0 ? 0 : a->nregions > ESPFAB_MAX_REGIONS ? ESPFAB_MAX_REGIONS : a->nregions;
    espfab_json_arr(w, "regions");
    for (int i = 0; i < n && !rc; i++) {
        espfab_json_obj(w, NULL);
        rc = espfab__report_region_fields(&a->regions[i], json_field_cb, w);
        espfab_json_end(w);
    }
    espfab_json_end(w);
    return rc ? rc : w->err;
}

/*
 * check.c - the check phase: what the board is (revision, flash size) is
 * held against what is to be written before any flash command: the allowed
 * revisions, each image built for this chip and revision, the regions
 * fitting the flash and not overlapping, the flash parameters valid for the
 * chip.  --force skips it.  Pure checks (image.h); no commands.
 */
#include "core.h"

#include <stdio.h>

static void fmt_rev(char *buf, size_t len, int rev)
{
    if (rev < 0)
        snprintf(buf, len, "any");
    else
        snprintf(buf, len, "v%d.%d", rev / 100, rev % 100);
}

static int check_revision(espfab_session_t *s)
{
    int rev = s->rec.rev_full;
    if (rev < 0 || !((s->o.min_rev_full >= 0 && rev < s->o.min_rev_full) ||
                     (s->o.max_rev_full >= 0 && rev > s->o.max_rev_full)))
        return 0;
    char r[16], lo[16], hi[16];
    fmt_rev(r, sizeof(r), rev);
    fmt_rev(lo, sizeof(lo), s->o.min_rev_full);
    fmt_rev(hi, sizeof(hi), s->o.max_rev_full);
    sess_fail(s, ESPFAB_E_REVISION_OUT_OF_RANGE, "chip revision %s is outside the allowed range [%s - %s]", r, lo, hi);
    return -1;
}

void phase_check_enter(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_CHECK);
    if (s->o.force) {
        sess_note(s, "force: chip, revision, image and flash-size checks skipped");
        phase_done(s);
        return;
    }
    if (check_revision(s) < 0)
        return;
    espfab_fault_t f;
    espfab_region_t rl[ESPFAB_MAX_REGIONS];
    const uint8_t *bytes[ESPFAB_MAX_REGIONS];
    for (size_t i = 0; i < s->o.nregions; i++) {
        const espfab_session_region_t *sr = &s->o.regions[i];
        const char *name = sr->name ? sr->name : "(unnamed)";
        espfab_image_info_t info;
        espfab_fault_clear(&f);
        int rc = espfab_image_parse(sr->blob->data, sr->blob->len, name, &info, &f);
        if (rc == 0)
            rc = espfab_image_check_chip_on(&info, name, s->port_spec, s->id.chip, s->rec.rev_full, &f);
        if (rc < 0) {
            sess_fail_with(s, &f);
            return;
        }
        rl[i] = (espfab_region_t){sr->offset, name, sr->blob->len};
        bytes[i] = sr->blob->data;
    }
    espfab_fault_clear(&f);
    if (espfab_regions_check(rl, s->o.nregions, s->rec.flash_size, &f) < 0 ||
        espfab_regions_check_layout(rl, bytes, NULL, s->o.nregions, s->id.chip, s->rec.flash_size,
                                    ESPFAB_LAYOUT_KINDS_UNKNOWN, NULL, &f) < 0) {
        sess_fail_with(s, &f);
        return;
    }
    espfab_fault_clear(&f);
    if (espfab_flash_params_check(s->id.chip, &s->o.flash, &f) < 0) {
        sess_fail_with(s, &f);
        return;
    }
    phase_done(s);
}

/* job.c - the typed flashing job (job.h). */
#include "espfab/job.h"

#include <string.h>

void espfab_job_init(espfab_job_t *j)
{
    memset(j, 0, sizeof(*j));
    j->chip = ESPFAB_CHIP_UNKNOWN;
    j->before = ESPFAB_RESET_AUTO;
    j->after = ESPFAB_AFTER_HARD_RESET;
    j->erase = ESPFAB_ERASE_NONE;
    j->flash = (espfab_flash_params_t){ESPFAB_FLASH_MODE_KEEP, ESPFAB_FLASH_FREQ_KEEP,
                                       ESPFAB_FLASH_SIZE_KEEP, false};
    j->min_rev_full = j->max_rev_full = -1;
    j->profile_name = j->profile_sha256 = "";
}

void espfab_job_from_profile(espfab_job_t *j, const espfab_profile_t *p)
{
    espfab_job_init(j);
    j->chip = p->chip;
    j->baud = p->baud;
    j->before = p->before;
    j->after = p->after;
    j->erase = p->erase;
    j->flash = p->flash;
    j->no_stub = !p->stub;
    j->no_compress = !p->compress;
    j->no_verify = !p->verify;
    j->min_rev_full = p->min_rev_full;
    j->max_rev_full = p->max_rev_full;
    j->profile_name = p->name;
    j->profile_sha256 = p->sha256;
    for (size_t i = 0; i < p->nimages && i < ESPFAB_MAX_REGIONS; i++) {
        const espfab_profile_image_t *im = &p->images[i];
        espfab_job_add_region(j, im->offset, im->file, im->data, im->size, &im->info, NULL);
    }
}

void espfab_job_apply_slot(espfab_job_t *j, const espfab_slot_cfg_t *s)
{
    if (!s)
        return;
    if (s->has_before)
        j->before = s->before;
    if (s->baud)
        j->baud = s->baud;
    if (s->usb_vid || s->usb_pid) {
        j->usb_vid = s->usb_vid;
        j->usb_pid = s->usb_pid;
    }
}

int espfab_job_add_region(espfab_job_t *j, uint32_t offset, const char *name,
                          const uint8_t *data, size_t len, const espfab_image_info_t *info,
                          espfab_fault_t *f)
{
    if (j->nregions >= ESPFAB_MAX_REGIONS)
        return espfab_fault_set(f, ESPFAB_E_USAGE, "more than %d images; at most %d per board",
                                ESPFAB_MAX_REGIONS, ESPFAB_MAX_REGIONS);
    espfab_job_region_t *r = &j->regions[j->nregions++];
    memset(r, 0, sizeof(*r));
    r->offset = offset;
    r->name = name;
    r->data = data;
    r->len = len;
    if (info) {
        r->info = *info;
    } else {
        r->info.format = ESPFAB_IMAGE_RAW;
        r->info.chip = ESPFAB_CHIP_UNKNOWN;
        r->info.image_chip_id = -1;
    }
    return 0;
}

int espfab_job_intern(espfab_job_t *j, espfab_blob_cache_t *cache, espfab_fault_t *f)
{
    for (size_t i = 0; i < j->nregions; i++) {
        espfab_job_region_t *r = &j->regions[i];
        r->blob = espfab_blob_intern_copy(cache, r->data, r->len);
        if (!r->blob) {
            espfab_job_release(j, cache);
            return espfab_fault_set(f, ESPFAB_E_NOMEM, "image %s", r->name ? r->name : "?");
        }
    }
    return 0;
}

void espfab_job_release(espfab_job_t *j, espfab_blob_cache_t *cache)
{
    for (size_t i = 0; i < j->nregions; i++) {
        if (j->regions[i].blob)
            espfab_blob_unref(cache, j->regions[i].blob);
        j->regions[i].blob = NULL;
    }
}

void espfab_job_session_opts(espfab_job_t *j, espfab_session_opts_t *so)
{
    if (j->baud)
        so->baud = j->baud;
    if (j->initial_baud)
        so->initial_baud = j->initial_baud;
    so->chip = j->chip;
    so->before = j->before;
    so->custom_reset = j->custom_reset;
    so->after = j->after;
    so->no_stub = j->no_stub;
    so->no_compress = j->no_compress;
    so->erase = j->erase;
    so->no_verify = j->no_verify;
    so->flash = j->flash;
    so->force = j->force;
    so->min_rev_full = j->min_rev_full;
    so->max_rev_full = j->max_rev_full;
    so->usb_vid = j->usb_vid;
    so->usb_pid = j->usb_pid;
    so->task = j->task;
    so->read_offset = j->read_offset;
    so->read_size = j->read_size;
    /* ERASE: the regions are ranges (data NULL, len = the bytes to erase) */
    if (j->task == ESPFAB_TASK_ERASE) {
        for (size_t i = 0; i < j->nregions; i++)
            j->erase_sizes[i] = (uint32_t)j->regions[i].len;
        so->erase_sizes = j->erase_sizes;
    }
    /* The session copies the options, not the regions: they live in the job. */
    espfab_session_region_t *sr = j->session_regions;
    for (size_t i = 0; i < j->nregions; i++) {
        sr[i].offset = j->regions[i].offset;
        sr[i].name = j->regions[i].name;
        sr[i].blob = j->regions[i].blob;
    }
    so->regions = sr;
    so->nregions = j->nregions;
}

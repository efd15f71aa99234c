/*
 * espfab-mkimage - writes ESP firmware images for tests, the benchmark and
 * the demo.  Nothing is downloaded: every byte comes from a seeded PRNG.
 *
 * Written independently of src/image on purpose (it does not link
 * espfab_core): a misunderstanding of the format shared by the writer and
 * the parser would otherwise pass every test.  Format facts: docs/protocol.md
 * section 6; partition table: ESP-IDF's binary layout (32-byte entries with
 * magic 0xAA50, then an MD5 entry 0xEBEB).
 *
 * Single-threaded command-line program; output is a pure function of the
 * options (same options and seed, same bytes).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <zlib.h>

/* ---- chip facts (this tool's own copy) ---------------------------------- */

typedef struct mk_chip {
    const char *key;
    int image_id;          /* -1: ESP8266 (no extended header) */
    uint32_t boot_off;     /* bootloader flash offset */
    uint32_t drom, irom;   /* flash-mapped data / code page base (0: none) */
    uint32_t dram, iram;   /* app RAM segments */
    uint32_t bl_dram, bl_iram, bl_iram2; /* bootloader RAM segments */
    const char *freqs[4];  /* names for codes 0xF, 0x0, 0x1, 0x2 ("" = none) */
    const char *def_freq;
} mk_chip_t;

static const mk_chip_t chips[] = {
    { "esp8266", -1, 0x0, 0, 0x40200000u, 0x3FFE8000u, 0x40100000u,
      0x3FFE8000u, 0x40100000u, 0x40105000u, { "80m", "40m", "26m", "20m" }, "40m" },
    { "esp32", 0, 0x1000, 0x3F400000u, 0x400D0000u, 0x3FFB0000u, 0x40080000u,
      0x3FFF0000u, 0x40078000u, 0x40080400u, { "80m", "40m", "26m", "20m" }, "40m" },
    { "esp32s2", 2, 0x1000, 0x3F000000u, 0x40080000u, 0x3FFBE000u, 0x40022000u,
      0x3FFE6000u, 0x4004C000u, 0x40050000u, { "80m", "40m", "26m", "20m" }, "40m" },
    { "esp32s3", 9, 0x0, 0x3C000000u, 0x42000000u, 0x3FC90000u, 0x40374000u,
      0x3FCE3000u, 0x403C9000u, 0x403CE000u, { "80m", "40m", "26m", "20m" }, "80m" },
    { "esp32c2", 12, 0x0, 0x3C000000u, 0x42000000u, 0x3FCA0000u, 0x40380000u,
      0x3FCD5000u, 0x403AC000u, 0x403B0000u, { "60m", "30m", "20m", "15m" }, "60m" },
    { "esp32c3", 5, 0x0, 0x3C000000u, 0x42000000u, 0x3FC8A000u, 0x40380000u,
      0x3FCD5000u, 0x403CC000u, 0x403D0000u, { "80m", "40m", "26m", "20m" }, "80m" },
    { "esp32c6", 13, 0x0, 0x42800000u, 0x42000000u, 0x40810000u, 0x40800000u,
      0x40874000u, 0x40860000u, 0x40868000u, { "", "40m", "", "20m" }, "80m" },
    { "esp32h2", 16, 0x0, 0x42800000u, 0x42000000u, 0x40810000u, 0x40800000u,
      0x4083E000u, 0x40838000u, 0x40844000u, { "48m", "24m", "16m", "12m" }, "48m" },
    { "esp32p4", 18, 0x2000, 0x40800000u, 0x40000000u, 0x4FF10000u, 0x4FF00000u,
      0x4FF90000u, 0x4FF80000u, 0x4FFA0000u, { "80m", "40m", "26m", "20m" }, "80m" },
};

#define PAGE 0x10000u  /* MMU page used for flash-mapped segments */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("espfab-mkimage: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* ---- growable output buffer -------------------------------------------- */

typedef struct out {
    uint8_t *p;
    size_t n, cap;
} out_t;

static void need(out_t *o, size_t more)
{
    if (o->n + more <= o->cap)
        return;
    size_t c = o->cap ? o->cap : 4096;
    while (c < o->n + more)
        c *= 2;
    uint8_t *q = realloc(o->p, c);
    if (!q)
        die("out of memory");
    o->p = q;
    o->cap = c;
}

static void put(out_t *o, const void *d, size_t n)
{
    need(o, n);
    memcpy(o->p + o->n, d, n);
    o->n += n;
}

static void put_fill(out_t *o, uint8_t v, size_t n)
{
    need(o, n);
    memset(o->p + o->n, v, n);
    o->n += n;
}

static void put8(out_t *o, uint8_t v) { put(o, &v, 1); }
static void put16(out_t *o, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    put(o, b, 2);
}
static void put32(out_t *o, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    put(o, b, 4);
}

/* ---- deterministic content --------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int compressible_pct = 30;

/* Fills n bytes: 1 KiB blocks, each either random or text-like (compresses
 * well), chosen with the --compressible percentage. */
static void fill_content(uint8_t *p, size_t n)
{
    static const char words[] = "espfab flashes many boards at once; ";
    size_t i = 0;
    while (i < n) {
        size_t blk = n - i < 1024 ? n - i : 1024;
        bool comp = (int)(rng() % 100) < compressible_pct;
        if (comp) {
            uint64_t r = rng();
            for (size_t k = 0; k < blk; k++)
                p[i + k] = (k % 64 < 48) ? (uint8_t)words[(k + r % 7) % (sizeof(words) - 1)]
                                         : (uint8_t)(k & 0x0F);
        } else {
            for (size_t k = 0; k < blk; k += 8) {
                uint64_t r = rng();
                for (size_t b = 0; b < 8 && k + b < blk; b++)
                    p[i + k + b] = (uint8_t)(r >> (8 * b));
            }
        }
        i += blk;
    }
}

/* ---- image writer ------------------------------------------------------ */

typedef struct opts {
    const mk_chip_t *chip;
    const char *kind;
    size_t size;
    bool hash;
    int mode;
    int freq_code;
    int size_code;
    int min_rev, max_rev;
} opts_t;

/* --app-desc PROJECT:VERSION: an ESP-IDF esp_app_desc_t (256 bytes) at the
 * start of an app's first (DROM) segment; NULL: none. */
static const char *app_desc_arg;

/* The esp_app_desc_t for app_desc_arg: magic 0xABCD5432, secure version 0,
 * version, project name, time "12:34:56", date "Jan 15 2026", IDF version
 * "v5.3.1", ELF SHA-256 = SHA-256 of the PROJECT:VERSION text, MMU page
 * size log2 16; reserved bytes 0. */
static void make_app_desc(uint8_t d[256])
{
    const char *colon = strchr(app_desc_arg, ':');
    size_t plen = colon ? (size_t)(colon - app_desc_arg) : strlen(app_desc_arg);
    const char *ver = colon ? colon + 1 : "1.0.0";
    if (plen > 31 || strlen(ver) > 31)
        die("--app-desc: project name and version are at most 31 characters each");
    memset(d, 0, 256);
    d[0] = 0x32; d[1] = 0x54; d[2] = 0xCD; d[3] = 0xAB;
    memcpy(d + 16, ver, strlen(ver));
    memcpy(d + 48, app_desc_arg, plen);
    memcpy(d + 80, "12:34:56", 8);
    memcpy(d + 96, "Jan 15 2026", 11);
    memcpy(d + 112, "v5.3.1", 6);
    unsigned int n = 0;
    if (EVP_Digest(app_desc_arg, strlen(app_desc_arg), d + 144, &n, EVP_sha256(), NULL) != 1)
        die("libcrypto SHA-256 failed");
    d[180] = 16;
}

/* Appends one segment (header + data), its first plen bytes from prefix;
 * returns the running checksum. */
static uint8_t seg_with(out_t *o, uint32_t addr, size_t len, uint8_t ck, bool zero,
                        const uint8_t *prefix, size_t plen)
{
    len = (len + 3) & ~(size_t)3;
    put32(o, addr);
    put32(o, (uint32_t)len);
    need(o, len);
    if (zero)
        memset(o->p + o->n, 0, len);
    else
        fill_content(o->p + o->n, len);
    if (prefix)
        memcpy(o->p + o->n, prefix, plen < len ? plen : len);
    for (size_t k = 0; k < len; k++)
        ck ^= o->p[o->n + k];
    o->n += len;
    return ck;
}

static uint8_t seg(out_t *o, uint32_t addr, size_t len, uint8_t ck, bool zero)
{
    return seg_with(o, addr, len, ck, zero, NULL, 0);
}

/* Zero padding to file_length % 16 == 15 (relative to start), checksum byte. */
static void footer(out_t *o, size_t start, uint8_t ck)
{
    while ((o->n - start) % 16 != 15)
        put8(o, 0);
    put8(o, ck);
}

static void sha256(const uint8_t *p, size_t n, uint8_t md[32])
{
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
        die("libcrypto SHA-256 failed");
}

static void header(out_t *o, uint8_t magic, int nseg, const opts_t *op, uint32_t entry)
{
    put8(o, magic);
    put8(o, (uint8_t)nseg);
    put8(o, (uint8_t)op->mode);
    put8(o, (uint8_t)((op->size_code << 4) | op->freq_code));
    put32(o, entry);
}

static void ext_header(out_t *o, const opts_t *op)
{
    const mk_chip_t *c = op->chip;
    put8(o, 0xEE);                      /* WP pin: not used */
    put8(o, 0);
    put8(o, 0);
    put8(o, 0);                         /* drive strengths */
    put16(o, (uint16_t)c->image_id);
    /* legacy min_rev: minor on the C3, major elsewhere (as ESP-IDF fills it) */
    put8(o, (uint8_t)(strcmp(c->key, "esp32c3") == 0 ? op->min_rev % 100 : op->min_rev / 100));
    put16(o, (uint16_t)op->min_rev);
    put16(o, (uint16_t)op->max_rev);
    put32(o, 0);                        /* reserved */
    put8(o, op->hash ? 1 : 0);
}

/* A mapped segment's data must sit at a file offset congruent to its load
 * address modulo the MMU page: pick the load address to match where the
 * data lands (any congruent address is valid). */
static uint32_t mapped_addr(uint32_t base, size_t data_off)
{
    return base + (uint32_t)(data_off % PAGE);
}

static size_t cap(size_t v, size_t max) { return v > max ? max : (v < 4 ? 4 : v); }

/* ESP32-family app or bootloader image. */
static void write_esp32(out_t *o, const opts_t *op, bool bootloader)
{
    const mk_chip_t *c = op->chip;
    size_t start = o->n;
    size_t total = op->size > 256 ? op->size - 64 : 192;
    int nseg = bootloader ? 3 : 6;
    uint32_t entry = (bootloader ? c->bl_iram2 : c->iram) + 0x100;
    header(o, 0xE9, nseg, op, entry);
    ext_header(o, op);
    uint8_t ck = 0xEF;
    /* RAM segments are capped so that they stay inside the chip's RAM;
     * the rest of --size goes to the flash-mapped segments of an app. */
    if (bootloader) {
        size_t d = cap(total / 6, 0x4000), i1 = cap(total / 2, 0x4000);
        size_t i2 = cap(total > d + i1 ? total - d - i1 : 4, 0x8000);
        ck = seg(o, c->bl_dram, d, ck, false);
        ck = seg(o, c->bl_iram, i1, ck, false);
        ck = seg(o, c->bl_iram2, i2, ck, false);
    } else {
        size_t dram = cap(total / 20, 0x8000), iram = cap(total / 5, 0x8000), pad = 64;
        size_t rest = total > dram + iram + pad + 8 ? total - dram - iram - pad : 8;
        size_t drom = rest / 3, irom = rest - drom;
        uint8_t desc[256];
        if (app_desc_arg) {
            make_app_desc(desc);
            if (drom < sizeof(desc))
                drom = sizeof(desc);
        }
        ck = seg_with(o, mapped_addr(c->drom, o->n - start + 8), drom, ck, false,
                      app_desc_arg ? desc : NULL, sizeof(desc));
        ck = seg(o, c->dram, dram, ck, false);
        ck = seg(o, 0, pad, ck, true);   /* padding segment, as esptool writes */
        ck = seg(o, mapped_addr(c->irom, o->n - start + 8), irom, ck, false);
        ck = seg(o, c->iram, iram / 2, ck, false);
        ck = seg(o, c->iram + 0x4000, iram - iram / 2, ck, false);
    }
    footer(o, start, ck);
    if (op->hash) {
        uint8_t md[32];
        sha256(o->p + start, o->n - start, md);
        put(o, md, 32);
    }
}

/* ESP8266 V1: RAM segments right after the 8-byte header. */
static void write_v1(out_t *o, const opts_t *op)
{
    const mk_chip_t *c = op->chip;
    size_t start = o->n;
    size_t total = op->size > 64 ? op->size - 32 : 32;
    size_t iram = total * 2 / 3 > 0x7000 ? 0x7000 : total * 2 / 3;
    size_t dram = total - iram;
    if (dram > 0x14000)
        dram = 0x14000;
    header(o, 0xE9, 3, op, c->iram + 0x4);
    uint8_t ck = 0xEF;
    ck = seg(o, c->iram, iram, ck, false);
    ck = seg(o, c->dram, dram / 2, ck, false);
    ck = seg(o, c->dram + 0xC000, dram - dram / 2, ck, false);
    footer(o, start, ck);
}

static uint32_t esp8266_crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = (uint32_t)crc32(0L, p, (uInt)n);
    return (crc & 0x80000000u) ? crc ^ 0xFFFFFFFFu : crc + 1;
}

/* ESP8266 V2: 0xEA header, IROM (load address 0, padded to 16), 0xE9 header,
 * RAM segments, footer, CRC32. */
static void write_v2(out_t *o, const opts_t *op)
{
    const mk_chip_t *c = op->chip;
    size_t start = o->n;
    size_t total = op->size > 128 ? op->size - 64 : 64;
    size_t iram = total / 5 > 0x7000 ? 0x7000 : total / 5;
    size_t dram = total / 10 > 0x10000 ? 0x10000 : total / 10;
    size_t irom = (total - iram - dram + 15) & ~(size_t)15;
    header(o, 0xEA, 4, op, c->iram + 0x4);
    put32(o, 0);
    put32(o, (uint32_t)irom);
    need(o, irom);
    fill_content(o->p + o->n, irom);
    o->n += irom;
    header(o, 0xE9, 2, op, c->iram + 0x4);
    uint8_t ck = 0xEF;
    ck = seg(o, c->iram, iram, ck, false);
    ck = seg(o, c->dram, dram, ck, false);
    footer(o, start, ck);
    put32(o, esp8266_crc32(o->p + start, o->n - start));
}

static void write_raw(out_t *o, size_t n)
{
    need(o, n);
    fill_content(o->p + o->n, n);
    /* Raw data never starts like an image, so tests can rely on its kind. */
    if (n && (o->p[o->n] == 0xE9 || o->p[o->n] == 0xEA))
        o->p[o->n] ^= 0x40;
    o->n += n;
}

static void pt_entry(out_t *o, uint8_t type, uint8_t sub, uint32_t off, uint32_t size,
                     const char *label)
{
    char l[16] = { 0 };
    strncpy(l, label, sizeof(l) - 1);
    put8(o, 0xAA);
    put8(o, 0x50);
    put8(o, type);
    put8(o, sub);
    put32(o, off);
    put32(o, size);
    put(o, l, 16);
    put32(o, 0);
}

/* ESP-IDF partition table (the "single factory app" layout), 0xC00 bytes. */
static void write_partition_table(out_t *o, uint32_t app_size)
{
    size_t start = o->n;
    pt_entry(o, 0x01, 0x02, 0x9000, 0x6000, "nvs");
    pt_entry(o, 0x01, 0x01, 0xF000, 0x1000, "phy_init");
    pt_entry(o, 0x00, 0x00, 0x10000, app_size, "factory");
    uint8_t md[16];
    unsigned int len = 0;
    if (EVP_Digest(o->p + start, o->n - start, md, &len, EVP_md5(), NULL) != 1 || len != 16)
        die("libcrypto MD5 failed");
    put8(o, 0xEB);
    put8(o, 0xEB);
    put_fill(o, 0xFF, 14);
    put(o, md, 16);
    put_fill(o, 0xFF, 0xC00 - (o->n - start));
}

static void pad_to(out_t *o, size_t start, size_t rel)
{
    if (o->n - start > rel)
        die("merged image: part before 0x%zX is too large (%zu bytes)", rel, o->n - start);
    put_fill(o, 0xFF, rel - (o->n - start));
}

/* MicroPython-style merged firmware: bootloader at the chip's bootloader
 * offset, partition table at 0x8000, app at 0x10000, all relative to the
 * file start (= the bootloader offset), gaps 0xFF.  ESP8266: V1 image at 0,
 * IROM binary at 0x10000. */
static void write_merged(out_t *o, opts_t *op)
{
    const mk_chip_t *c = op->chip;
    size_t start = o->n;
    size_t want = op->size;
    if (c->image_id < 0) {
        opts_t v1 = *op;
        v1.size = 0x6000;
        write_v1(o, &v1);
        pad_to(o, start, 0x10000);
        write_raw(o, want > 0x11000 ? want - 0x10000 : 0x1000);
        return;
    }
    opts_t bl = *op;
    bl.size = 0x5000 - c->boot_off / 2;
    write_esp32(o, &bl, true);
    pad_to(o, start, 0x8000 - c->boot_off);
    size_t app = want > 0x10000 - c->boot_off + 0x2000 ? want - (0x10000 - c->boot_off)
                                                       : 0x2000;
    write_partition_table(o, 0x100000 > app ? 0x100000 : (uint32_t)((app + 0xFFFF) & ~0xFFFFu));
    pad_to(o, start, 0x10000 - c->boot_off);
    opts_t ap = *op;
    ap.size = app;
    write_esp32(o, &ap, false);
}

/* ---- options ----------------------------------------------------------- */

static const mk_chip_t *chip_by_key(const char *k)
{
    for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
        if (strcasecmp(chips[i].key, k) == 0)
            return &chips[i];
    return NULL;
}

static int parse_mode(const char *s)
{
    static const char *m[] = { "qio", "qout", "dio", "dout" };
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, m[i]) == 0)
            return i;
    die("unknown --flash-mode '%s' (qio qout dio dout)", s);
}

static int parse_freq(const mk_chip_t *c, const char *s)
{
    static const int codes[4] = { 0xF, 0x0, 0x1, 0x2 };
    if (strcmp(c->key, "esp32c6") == 0 && strcasecmp(s, "80m") == 0)
        return 0x0; /* the C6 writes 80m as code 0 */
    for (int i = 0; i < 4; i++)
        if (*c->freqs[i] && strcasecmp(s, c->freqs[i]) == 0)
            return codes[i];
    die("unknown --flash-freq '%s' for %s", s, c->key);
}

static int parse_size(const mk_chip_t *c, const char *s)
{
    static const char *e8266[] = { "512KB", "256KB", "1MB", "2MB", "4MB", "2MB-c1", "4MB-c1",
                                   "", "8MB", "16MB" };
    static const char *e32[] = { "1MB", "2MB", "4MB", "8MB", "16MB", "32MB", "64MB", "128MB" };
    if (c->image_id < 0) {
        for (int i = 0; i < 10; i++)
            if (*e8266[i] && strcasecmp(s, e8266[i]) == 0)
                return i;
    } else {
        for (int i = 0; i < 8; i++)
            if (strcasecmp(s, e32[i]) == 0)
                return i;
    }
    die("unknown --flash-size '%s' for %s", s, c->key);
}

static unsigned long parse_num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s)
        die("bad %s '%s'", what, s);
    if (*end == 'k' || *end == 'K')
        v *= 1024, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1024 * 1024, end++;
    if (*end)
        die("bad %s '%s'", what, s);
    return v;
}

static void usage(FILE *fp)
{
    fputs("usage: espfab-mkimage --chip CHIP [--kind KIND] [--size BYTES] [--hash]\n"
          "       [--flash-mode M] [--flash-freq F] [--flash-size S]\n"
          "       [--min-rev N] [--max-rev N] [--seed N] [--compressible PCT]\n"
          "       [--app-desc PROJECT:VERSION] -o FILE\n"
          "CHIP: esp8266 esp32 esp32s2 esp32s3 esp32c2 esp32c3 esp32c6 esp32h2 esp32p4\n"
          "KIND: app bootloader v1 v2 raw merged partition-table (default app)\n"
          "--size accepts k/m suffixes (1536k); revisions are major*100+minor\n",
          fp);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "chip", required_argument, 0, 'c' },
        { "kind", required_argument, 0, 'k' },
        { "size", required_argument, 0, 's' },
        { "hash", no_argument, 0, 'H' },
        { "flash-mode", required_argument, 0, 'M' },
        { "flash-freq", required_argument, 0, 'F' },
        { "flash-size", required_argument, 0, 'S' },
        { "min-rev", required_argument, 0, 'r' },
        { "max-rev", required_argument, 0, 'R' },
        { "seed", required_argument, 0, 'x' },
        { "compressible", required_argument, 0, 'p' },
        { "app-desc", required_argument, 0, 'A' },
        { "output", required_argument, 0, 'o' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *chip = NULL, *mode = "dio", *freq = NULL, *fsize = "4MB", *outp = NULL;
    opts_t op = { .kind = "app", .size = 64 * 1024, .min_rev = 0, .max_rev = 0xFFFF };
    uint64_t seed = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': chip = optarg; break;
        case 'k': op.kind = optarg; break;
        case 's': op.size = parse_num(optarg, "--size"); break;
        case 'H': op.hash = true; break;
        case 'M': mode = optarg; break;
        case 'F': freq = optarg; break;
        case 'S': fsize = optarg; break;
        case 'r': op.min_rev = (int)parse_num(optarg, "--min-rev"); break;
        case 'R': op.max_rev = (int)parse_num(optarg, "--max-rev"); break;
        case 'x': seed = parse_num(optarg, "--seed"); break;
        case 'p': compressible_pct = (int)parse_num(optarg, "--compressible"); break;
        case 'A': app_desc_arg = optarg; break;
        case 'o': outp = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!chip || !outp) {
        usage(stderr);
        return 2;
    }
    op.chip = chip_by_key(chip);
    if (!op.chip)
        die("unknown --chip '%s'", chip);
    if (compressible_pct < 0 || compressible_pct > 100)
        die("--compressible takes 0..100");
    if (op.min_rev > 0xFFFF || op.max_rev > 0xFFFF)
        die("revisions are 0..65535");
    if (op.size > 256u * 1024 * 1024)
        die("--size is limited to 256 MiB");
    op.mode = parse_mode(mode);
    op.freq_code = parse_freq(op.chip, freq ? freq : op.chip->def_freq);
    op.size_code = parse_size(op.chip, fsize);
    rng_state = seed * 0x2545F4914F6CDD1Dull + 0x1234567u;

    bool esp8266 = op.chip->image_id < 0;
    out_t o = { 0 };
    if (strcmp(op.kind, "app") == 0) {
        if (esp8266)
            write_v1(&o, &op);
        else
            write_esp32(&o, &op, false);
    } else if (strcmp(op.kind, "bootloader") == 0) {
        if (esp8266)
            write_v1(&o, &op);
        else
            write_esp32(&o, &op, true);
    } else if (strcmp(op.kind, "v1") == 0 || strcmp(op.kind, "v2") == 0) {
        if (!esp8266)
            die("--kind %s is an ESP8266 format (use --chip esp8266)", op.kind);
        if (op.kind[1] == '1')
            write_v1(&o, &op);
        else
            write_v2(&o, &op);
    } else if (strcmp(op.kind, "raw") == 0) {
        write_raw(&o, op.size ? op.size : 1);
    } else if (strcmp(op.kind, "merged") == 0) {
        write_merged(&o, &op);
    } else if (strcmp(op.kind, "partition-table") == 0) {
        write_partition_table(&o, 0x100000);
    } else {
        die("unknown --kind '%s'", op.kind);
    }

    FILE *fp = strcmp(outp, "-") == 0 ? stdout : fopen(outp, "wb");
    if (!fp)
        die("%s: %s", outp, strerror(errno));
    if (fwrite(o.p, 1, o.n, fp) != o.n || (fp != stdout && fclose(fp) != 0))
        die("%s: write failed: %s", outp, strerror(errno));
    free(o.p);
    return 0;
}

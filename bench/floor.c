/* espfab-benchfloor: the lower bounds of a compressed flash write.
 *
 *   espfab-benchfloor --offset O --baud B [--block N] FILE
 *
 * Prints one line (pure computation, no device I/O):
 *
 *   size=N deflated=N wire_ms=X flash_ms=Y floor_ms=max(X,Y) stub_ms=Z
 *
 * deflated: zlib (RFC 1950) at level 9, as esptool and esptool-js compress.
 * wire_ms: deflated bytes x 10 bits / baud (start + 8 data + stop bits;
 * SLIP escaping and packet headers are left out: it is a floor).
 * flash_ms: espsim's flash model for a write of N bytes at O by the stub:
 * 64 KiB block erases where the range is block aligned, 4 KiB sectors
 * otherwise (250 ms / 45 ms), plus 0.5 ms per 256-byte page.
 * floor_ms = max(wire, flash): the write if line and flash overlapped
 * perfectly.
 *
 * stub_ms: the same write through the flasher stub's own write policy, for
 * a host that loses no time at all: one FLASH_DEFL_BEGIN, DATA blocks of
 * --block deflated bytes (default 16 KiB, what esptool and esptool-js send)
 * each sent the moment the previous one is acknowledged, then
 * FLASH_DEFL_END.  The stub acknowledges a block when it takes it and can
 * hold one more in its UART buffer; FLASH_BEGIN, then each inflate step,
 * starts the next erase if the chip is idle (so the erase frontier runs
 * ahead); it programs its 32 KiB inflate buffer when full, waiting for the
 * chip.  This is the model espsim runs (tools/espsim/loader.c), after
 * esp-flasher-stub's source; it is recomputed here,
 * from the same published behaviour, so that the benchmark can say how far
 * a tool is from what the stub allows, apart from how far the stub is from
 * the floor.  Frame bytes are counted with SLIP escapes and headers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SECTOR 4096u
#define BLOCK64 65536u
#define STAGE 32768u

static double erase_s(uint32_t step)
{
    return step == BLOCK64 ? 0.250 : 0.045;
}

static double program_s(uint32_t n)
{
    return (double)((n + 255) / 256) * 0.0005;
}

static double flash_ms(uint32_t off, uint32_t size)
{
    uint32_t start = off / SECTOR * SECTOR;
    uint32_t end = (off + size + SECTOR - 1) / SECTOR * SECTOR;
    double s = 0;
    for (uint32_t a = start; a < end;) {
        uint32_t step = (a % BLOCK64 == 0 && end - a >= BLOCK64) ? BLOCK64 : SECTOR;
        s += erase_s(step);
        a += step;
    }
    return (s + program_s(size)) * 1000.0;
}

/* ---- the stub's write policy -------------------------------------------- */

typedef struct {
    double chip;                /* the flash chip is busy until */
    uint32_t front, erase_end;  /* erase frontier, end of the region */
    uint32_t wpos, stage;       /* next write address, bytes in the buffer */
} stub_t;

static void erase_next(stub_t *s, double t)
{
    uint32_t step = (s->front % BLOCK64 == 0 && s->erase_end - s->front >= BLOCK64) ? BLOCK64 : SECTOR;
    s->chip = t + erase_s(step);
    s->front += step;
}

static double flush(stub_t *s, double t)
{
    uint32_t n = s->stage;
    if (!n)
        return t;
    while (s->front < s->erase_end && s->front < s->wpos + n) {
        if (t < s->chip)
            t = s->chip;
        erase_next(s, t);
    }
    if (t < s->chip)
        t = s->chip;
    t += program_s(n);
    s->chip = t;
    s->wpos += n;
    s->stage = 0;
    return t;
}

/* out[i]: inflated bytes once the first i deflated bytes are consumed. */
static uint32_t *inflate_map(const unsigned char *z, size_t zn)
{
    uint32_t *out = calloc(zn + 1, sizeof *out);
    unsigned char *sink = malloc(1 << 16);
    z_stream st;
    memset(&st, 0, sizeof st);
    if (!out || !sink || inflateInit(&st) != Z_OK) {
        free(out);
        free(sink);
        return NULL;
    }
    uint32_t total = 0;
    for (size_t i = 0; i < zn; i++) {
        st.next_in = (Bytef *)(uintptr_t)(z + i);
        st.avail_in = 1;
        do {
            st.next_out = sink;
            st.avail_out = 1 << 16;
            int r = inflate(&st, Z_NO_FLUSH);
            total += (uint32_t)((1 << 16) - st.avail_out);
            if (r == Z_STREAM_END || (r != Z_OK && r != Z_BUF_ERROR))
                break;
        } while (st.avail_out == 0);
        out[i + 1] = total;
    }
    inflateEnd(&st);
    free(sink);
    return out;
}

static size_t frame_bytes(const unsigned char *p, size_t n, size_t header)
{
    size_t k = 2 + header; /* delimiters; header bytes taken as unescaped */
    for (size_t i = 0; i < n; i++)
        k += (p[i] == 0xC0 || p[i] == 0xDB) ? 2 : 1;
    return k;
}

static double stub_ms(const unsigned char *z, size_t zn, uint32_t off, uint32_t size, unsigned long baud,
                      size_t block)
{
    uint32_t *map = inflate_map(z, zn);
    if (!map)
        return -1;
    double bit = 10.0 / (double)baud, t, send, cpu;
    stub_t s = {.front = off / SECTOR * SECTOR, .wpos = off};
    s.erase_end = s.front + (off % SECTOR + size + SECTOR - 1) / SECTOR * SECTOR;
    /* FLASH_DEFL_BEGIN: 8 + 16 bytes; the reply follows its handling */
    t = (double)frame_bytes(z, 0, 24) * bit;
    erase_next(&s, t); /* FLASH_BEGIN starts the first erase */
    cpu = t;
    send = t + 14 * bit; /* its reply (12 bytes, 2 delimiters) */
    for (size_t c0 = 0; c0 < zn; c0 += block) {
        size_t c1 = zn - c0 < block ? zn : c0 + block;
        double arrive = send + (double)frame_bytes(z + c0, c1 - c0, 24) * bit;
        double start = arrive > cpu ? arrive : cpu;
        send = start + 14 * bit; /* ACKed when taken */
        /* inflate steps: the buffer fills or the block's input ends */
        size_t c = c0;
        while (c < c1) {
            if (s.chip <= start && s.front < s.erase_end)
                erase_next(&s, start);
            uint32_t room = STAGE - s.stage, avail = map[c1] - map[c];
            if (avail >= room) {
                size_t k = c;
                while (k < c1 && map[k] - map[c] < room)
                    k++;
                s.stage = STAGE;
                c = k > c ? k : c + 1;
            } else {
                s.stage += avail;
                c = c1;
            }
            if (s.stage == STAGE || c >= zn)
                start = flush(&s, start);
        }
        cpu = start;
    }
    /* FLASH_DEFL_END, taken when the CPU is free, answered at once */
    t = send + 14 * bit;
    if (t < cpu)
        t = cpu;
    free(map);
    return (t + 14 * bit) * 1000.0;
}

int main(int argc, char **argv)
{
    unsigned long off = 0, baud = 0, block = 0x4000;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--offset") && i + 1 < argc)
            off = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--baud") && i + 1 < argc)
            baud = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--block") && i + 1 < argc)
            block = strtoul(argv[++i], NULL, 0);
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else
            file = NULL, i = argc;
    }
    if (!file || !baud || !block || block > 0x4000) {
        fprintf(stderr, "usage: espfab-benchfloor --offset O --baud B [--block N<=16384] FILE\n");
        return 2;
    }
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "espfab-benchfloor: %s: %s\n", file, strerror(errno));
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    uLongf zn = compressBound((uLong)n);
    unsigned char *z = malloc(zn);
    if (!buf || !z || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "espfab-benchfloor: cannot read %s\n", file);
        return 1;
    }
    fclose(f);
    if (compress2(z, &zn, buf, (uLong)n, 9) != Z_OK) {
        fprintf(stderr, "espfab-benchfloor: zlib compress2 failed on %s\n", file);
        return 1;
    }
    double wire = (double)zn * 10.0 * 1000.0 / (double)baud;
    double fl = flash_ms((uint32_t)off, (uint32_t)n);
    double st = stub_ms(z, zn, (uint32_t)off, (uint32_t)n, baud, block);
    printf("size=%ld deflated=%lu wire_ms=%.1f flash_ms=%.1f floor_ms=%.1f stub_ms=%.1f\n", n,
           (unsigned long)zn, wire, fl, wire > fl ? wire : fl, st);
    free(buf);
    free(z);
    return 0;
}

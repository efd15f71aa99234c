/* espfab-benchfloor: the lower bounds of a compressed flash write.
 *
 *   espfab-benchfloor --offset O --baud B FILE
 *
 * Prints one line (pure computation, no device I/O):
 *
 *   size=N deflated=N wire_ms=X flash_ms=Y floor_ms=max(X,Y) serial_ms=X+Y
 *
 * deflated: zlib (RFC 1950) at level 9, as esptool and esptool-js compress.
 * wire_ms: deflated bytes x 10 bits / baud (start + 8 data + stop bits;
 * SLIP escaping and packet headers are left out: it is a floor).
 * flash_ms: espsim's flash model for a write of N bytes at O by the stub:
 * lazy erase in 64 KiB blocks where the range is block aligned, 4 KiB
 * sectors otherwise (250 ms / 45 ms), plus 0.5 ms per 256-byte page.
 * Trailing 0xFF bytes are not dropped here (the benchmark image has none).
 * serial_ms is what a loader that cannot receive while the flash is busy
 * can reach at best (espsim's pacing model today).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static double flash_ms(uint32_t off, uint32_t size)
{
    const uint32_t sector = 4096, block = 65536;
    uint32_t start = off / sector * sector;
    uint32_t end = (off + size + sector - 1) / sector * sector;
    uint32_t nb = 0, ns = 0;
    for (uint32_t a = start; a < end;) {
        if (a % block == 0 && end - a >= block) {
            a += block;
            nb++;
        } else {
            a += sector;
            ns++;
        }
    }
    return nb * 250.0 + ns * 45.0 + (double)((size + 255) / 256) * 0.5;
}

int main(int argc, char **argv)
{
    unsigned long off = 0, baud = 0;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--offset") && i + 1 < argc)
            off = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--baud") && i + 1 < argc)
            baud = strtoul(argv[++i], NULL, 0);
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            fprintf(stderr, "usage: espfab-benchfloor --offset O --baud B FILE\n");
            return 2;
        }
    }
    if (!file || !baud) {
        fprintf(stderr, "usage: espfab-benchfloor --offset O --baud B FILE\n");
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
    printf("size=%ld deflated=%lu wire_ms=%.1f flash_ms=%.1f floor_ms=%.1f serial_ms=%.1f\n", n,
           (unsigned long)zn, wire, fl, wire > fl ? wire : fl, wire + fl);
    free(buf);
    free(z);
    return 0;
}

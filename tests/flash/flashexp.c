/*
 * flashexp.c - test helper for tests/flash: writes the flash contents a board
 * should hold after `espfab flash`, computed independently of espfab's own
 * image code (it does not link espfab_core): 0xFF everywhere, each file at its
 * offset, and, for a file at the chip's bootloader offset that starts with
 * 0xE9, the header bytes 2-3 patched as esptool does (docs/protocol.md 6.4) with
 * the appended SHA-256 recomputed when byte 23 is 1 (ESP32 family only).
 *
 *   flashexp --chip esp32 --flash-bytes N [--mode dio] [--freq 40m]
 *            [--size 4MB] -o OUT OFFSET FILE [OFFSET FILE...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "flashexp: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static int lookup(const char *v, const char *const *names, const int *codes, int *out)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(v, names[i])) {
            *out = codes[i];
            return 0;
        }
    return -1;
}

int main(int argc, char **argv)
{
    const char *chip = NULL, *mode = NULL, *freq = NULL, *size = NULL, *out = NULL;
    unsigned long flash_bytes = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (i + 1 >= argc)
            die("missing value for", argv[i]);
        if (!strcmp(argv[i], "--chip")) chip = argv[++i];
        else if (!strcmp(argv[i], "--flash-bytes")) flash_bytes = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--mode")) mode = argv[++i];
        else if (!strcmp(argv[i], "--freq")) freq = argv[++i];
        else if (!strcmp(argv[i], "--size")) size = argv[++i];
        else if (!strcmp(argv[i], "-o")) out = argv[++i];
        else die("unknown option", argv[i]);
    }
    if (!chip || !flash_bytes || !out || (argc - i) % 2 != 0 || argc - i == 0)
        die("usage: flashexp --chip C --flash-bytes N [--mode M] [--freq F] [--size S] -o OUT OFFSET FILE...", NULL);
    int esp8266 = !strcmp(chip, "esp8266");
    unsigned long boot_off = (!strcmp(chip, "esp32") || !strcmp(chip, "esp32s2")) ? 0x1000
                             : !strcmp(chip, "esp32p4") ? 0x2000 : 0;

    static const char *const mode_n[] = {"qio", "qout", "dio", "dout", NULL};
    static const int mode_c[] = {0, 1, 2, 3};
    static const char *const freq_n[] = {"80m", "40m", "26m", "20m", NULL};
    static const int freq_c[] = {0xF, 0x0, 0x1, 0x2};
    static const char *const s8266_n[] = {"512KB", "256KB", "1MB", "2MB", "4MB", "2MB-c1", "4MB-c1", "8MB", "16MB", NULL};
    static const int s8266_c[] = {0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x80, 0x90};
    static const char *const s32_n[] = {"1MB", "2MB", "4MB", "8MB", "16MB", "32MB", "64MB", "128MB", NULL};
    static const int s32_c[] = {0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70};
    int mode_v = -1, freq_v = -1, size_v = -1;
    if (mode && lookup(mode, mode_n, mode_c, &mode_v)) die("bad mode", mode);
    if (freq && lookup(freq, freq_n, freq_c, &freq_v)) die("bad freq (this helper knows 80m/40m/26m/20m chips only)", freq);
    if (size && lookup(size, esp8266 ? s8266_n : s32_n, esp8266 ? s8266_c : s32_c, &size_v)) die("bad size", size);

    unsigned char *flash = malloc(flash_bytes);
    if (!flash)
        die("out of memory", NULL);
    memset(flash, 0xFF, flash_bytes);
    for (; i < argc; i += 2) {
        unsigned long off = strtoul(argv[i], NULL, 0);
        FILE *fp = fopen(argv[i + 1], "rb");
        if (!fp)
            die("cannot open", argv[i + 1]);
        fseek(fp, 0, SEEK_END);
        long len = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        if (len <= 0 || off + (unsigned long)len > flash_bytes)
            die("file empty or past the flash", argv[i + 1]);
        unsigned char *img = flash + off;
        if (fread(img, 1, (size_t)len, fp) != (size_t)len)
            die("short read", argv[i + 1]);
        fclose(fp);
        if (off != boot_off || img[0] != 0xE9 || len < 24 || (mode_v < 0 && freq_v < 0 && size_v < 0))
            continue;
        if (mode_v >= 0)
            img[2] = (unsigned char)mode_v;
        if (freq_v >= 0)
            img[3] = (unsigned char)((img[3] & 0xF0) | freq_v);
        if (size_v >= 0)
            img[3] = (unsigned char)((img[3] & 0x0F) | size_v);
        if (esp8266 || img[23] != 1)
            continue;
        /* Walk the segments to find the end of the checksummed data. */
        unsigned long pos = 24;
        for (int s = 0; s < img[1]; s++) {
            if (pos + 8 > (unsigned long)len)
                die("truncated segment header in", argv[i + 1]);
            unsigned long slen = img[pos + 4] | img[pos + 5] << 8 | img[pos + 6] << 16 | (unsigned long)img[pos + 7] << 24;
            pos += 8 + slen;
        }
        while (pos % 16 != 15)
            pos++;
        unsigned long data_length = pos + 1;
        if (data_length + 32 > (unsigned long)len)
            die("no room for the SHA-256 in", argv[i + 1]);
        unsigned int dl = 0;
        EVP_Digest(img, data_length, img + data_length, &dl, EVP_sha256(), NULL);
    }
    FILE *fo = fopen(out, "wb");
    if (!fo || fwrite(flash, 1, flash_bytes, fo) != flash_bytes || fclose(fo) != 0)
        die("cannot write", out);
    free(flash);
    return 0;
}

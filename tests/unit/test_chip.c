/* test_chip.c - chip table and decoders against docs/protocol.md section 4.
 *
 * eFuse words are built by hand from the bit layout in 4.4; every decode goes
 * through espfab_chip_info_regs(), so a register missing from that list makes
 * the expected values come out wrong. */
#include "check.h"
#include "espfab/chip.h"
#include "espfab/err.h"

/* A tiny register file: (addr, value) pairs, 0 elsewhere. */
typedef struct mem {
    espfab_reg_t r[32];
    size_t n;
} mem_t;

static void poke(mem_t *m, uint32_t addr, uint32_t value)
{
    m->r[m->n].addr = addr;
    m->r[m->n].value = value;
    m->n++;
}

static uint32_t peek(const mem_t *m, uint32_t addr)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->r[i].addr == addr)
            return m->r[i].value;
    return 0;
}

/* What the session would do: read exactly the listed registers. */
static int decode(espfab_chip_id_t id, const mem_t *m, uint32_t baud, espfab_chip_info_t *info,
                  espfab_reg_t *regs, size_t *nregs)
{
    uint32_t addrs[16];
    const espfab_chip_t *c = espfab_chip_get(id);
    size_t n = espfab_chip_info_regs(c, addrs, 16);
    CHECK(n > 0 && n <= 16);
    for (size_t i = 0; i < n; i++) {
        CHECK(addrs[i] != ESPFAB_CHIP_MAGIC_ADDR);
        regs[i].addr = addrs[i];
        regs[i].value = peek(m, addrs[i]);
    }
    *nregs = n;
    return espfab_chip_decode_info(c, regs, n, baud, info);
}

static void check_mac(const espfab_chip_info_t *info, uint8_t a, uint8_t b, uint8_t c,
                      uint8_t d, uint8_t e, uint8_t f)
{
    const uint8_t want[6] = {a, b, c, d, e, f};
    CHECK_MEM(info->mac, want, 6);
}

static void test_esp32(void)
{
    mem_t m = {0};
    espfab_chip_info_t info;
    espfab_reg_t regs[16];
    size_t n;
    poke(&m, 0x3FF5A004, 0x33445566); /* word1: MAC low */
    poke(&m, 0x3FF5A008, 0x1234AABB); /* word2: MAC high (upper half is CRC etc.) */
    poke(&m, 0x3FF5A00C, 0x00008000); /* word3 bit15: rev bit 0 */
    poke(&m, 0x3FF5A014, 0x01100000); /* word5 bit20: rev bit 1; bits 24-25: minor 1 */
    poke(&m, 0x3FF6607C, 0x80000000); /* APB_CTL_DATE bit31: rev bit 2 */
    poke(&m, 0x3FF40014, 0x00A0015B); /* UART_CLKDIV 347 + fraction bits */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32, &m, 115200, &info, regs, &n), 0);
    check_mac(&info, 0xAA, 0xBB, 0x33, 0x44, 0x55, 0x66);
    CHECK_EQ(info.rev_major, 3);
    CHECK_EQ(info.rev_minor, 1);
    CHECK_EQ(info.rev_full, 301);
    CHECK_EQ(info.xtal_mhz, 40);
    CHECK_STR(info.description, "ESP32 (revision v3.1)");

    /* three-bit code: 1 -> 1, 3 -> 2, 2/4/5/6 -> 0 */
    mem_t m2 = {0};
    poke(&m2, 0x3FF5A00C, 0x8000);
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32, &m2, 115200, &info, regs, &n), 0);
    CHECK_EQ(info.rev_major, 1);
    CHECK_EQ(info.rev_minor, 0);
    CHECK_EQ(info.xtal_mhz, 26); /* divider 0: estimate 0 */
    poke(&m2, 0x3FF5A014, 0x00100000);
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32, &m2, 115200, &info, regs, &n), 0);
    CHECK_EQ(info.rev_major, 2);
    mem_t m3 = {0};
    poke(&m3, 0x3FF5A014, 0x02100000); /* b1 only: code 2 -> 0; minor 2 */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32, &m3, 115200, &info, regs, &n), 0);
    CHECK_EQ(info.rev_major, 0);
    CHECK_EQ(info.rev_minor, 2);
    mem_t m4 = {0};
    poke(&m4, 0x3FF6607C, 0x80000000); /* b2 only: code 4 -> 0 */
    poke(&m4, 0x3FF5A00C, 0x8000);     /* b2+b0: code 5 -> 0 */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32, &m4, 115200, &info, regs, &n), 0);
    CHECK_EQ(info.rev_major, 0);
}

static void test_esp32_rom_baud(void)
{
    const espfab_chip_t *c = espfab_chip_get(ESPFAB_CHIP_ESP32);
    espfab_chip_info_t info;
    espfab_reg_t regs[16];
    size_t n;
    /* cali 1024, CK8M 100: ROM computes exactly 40 MHz -> baud unchanged */
    mem_t m = {0};
    poke(&m, 0x3FF5F06C, 1024u << 7);
    poke(&m, 0x3FF5A010, 0xAB00 | 100);
    decode(ESPFAB_CHIP_ESP32, &m, 115200, &info, regs, &n);
    CHECK_EQ(espfab_chip_rom_baud(c, regs, n, 460800), 460800);
    /* cali 1050: 41.015625 MHz -> 460800 * 41015625 / 40000000 = 472500 */
    mem_t m2 = {0};
    poke(&m2, 0x3FF5F06C, (1050u << 7) | 0x7F);
    poke(&m2, 0x3FF5A010, 100);
    decode(ESPFAB_CHIP_ESP32, &m2, 115200, &info, regs, &n);
    CHECK_EQ(espfab_chip_rom_baud(c, regs, n, 460800), 472500);
    /* cali 700: 27.34375 MHz, taken as a 26 MHz part: 115200*27343750/26e6 = 121153.8 */
    mem_t m3 = {0};
    poke(&m3, 0x3FF5F06C, 700u << 7);
    poke(&m3, 0x3FF5A010, 100);
    decode(ESPFAB_CHIP_ESP32, &m3, 115200, &info, regs, &n);
    CHECK_EQ(espfab_chip_rom_baud(c, regs, n, 115200), 121153);
    /* garbage calibration words: clamped, no float overflow */
    mem_t m4 = {0};
    poke(&m4, 0x3FF5F06C, 0xFFFFFFFF);
    poke(&m4, 0x3FF5A010, 0xFF);
    decode(ESPFAB_CHIP_ESP32, &m4, 115200, &info, regs, &n);
    CHECK_EQ(espfab_chip_rom_baud(c, regs, n, 4000000), UINT32_MAX);
    /* other chips: unchanged */
    CHECK_EQ(espfab_chip_rom_baud(espfab_chip_get(ESPFAB_CHIP_ESP32S3), regs, n, 921600), 921600);
}

static void test_esp32c2_26mhz(void)
{
    const espfab_chip_t *c = espfab_chip_get(ESPFAB_CHIP_ESP32C2);
    espfab_chip_info_t info;
    espfab_reg_t regs[16];
    size_t n;
    mem_t m = {0};
    poke(&m, 0x60008840, 0x33445566);
    poke(&m, 0x60008844, 0x0011AABB); /* MAC high + revision v1.1 in one word */
    poke(&m, 0x60000014, 226);        /* 26 MHz at 115200 */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32C2, &m, 115200, &info, regs, &n), 0);
    check_mac(&info, 0xAA, 0xBB, 0x33, 0x44, 0x55, 0x66);
    CHECK_EQ(info.rev_major, 1);
    CHECK_EQ(info.rev_minor, 1);
    CHECK_EQ(info.xtal_mhz, 26);
    CHECK_EQ(espfab_chip_rom_baud(c, regs, n, 921600), 1417846); /* 921600*40//26 */
    CHECK_EQ(espfab_chip_rom_baud_at(c, regs, n, 115200, 115200), 177230);
    /* the same divider read at 230400 means 52 MHz: no quirk */
    CHECK_EQ(espfab_chip_rom_baud_at(c, regs, n, 230400, 921600), 921600);
    mem_t m2 = {0};
    poke(&m2, 0x60000014, 347);
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32C2, &m2, 115200, &info, regs, &n), 0);
    CHECK_EQ(info.xtal_mhz, 40);
    CHECK_EQ(espfab_chip_rom_baud(c, regs, n, 921600), 921600);
}

static void test_esp8266(void)
{
    espfab_chip_info_t info;
    espfab_reg_t regs[16];
    size_t n;
    mem_t m = {0};
    poke(&m, 0x3FF00050, 0xEF123456);
    poke(&m, 0x3FF00054, 0x0000ABCD);
    poke(&m, 0x60000014, 451);
    CHECK_EQ(decode(ESPFAB_CHIP_ESP8266, &m, 115200, &info, regs, &n), 0);
    check_mac(&info, 0x18, 0xFE, 0x34, 0xAB, 0xCD, 0xEF);
    CHECK_EQ(info.esp8266_chip_id, 0x00ABCDEF);
    CHECK_EQ(info.xtal_mhz, 26);
    CHECK_EQ(info.rev_major, -1);
    CHECK_EQ(info.rev_full, -1);
    CHECK_CONTAINS(info.description, "ESP8266");

    mem_t m2 = {0};
    poke(&m2, 0x3FF00050, 0xEF000000);
    poke(&m2, 0x3FF00054, 0x0001ABCD);
    poke(&m2, 0x60000014, 694); /* 80 MHz APB: 40 MHz crystal */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP8266, &m2, 115200, &info, regs, &n), 0);
    check_mac(&info, 0xAC, 0xD0, 0x74, 0xAB, 0xCD, 0xEF);
    CHECK_EQ(info.esp8266_chip_id, 0x01ABCDEF);
    CHECK_EQ(info.xtal_mhz, 40);

    mem_t m3 = {0};
    poke(&m3, 0x3FF00050, 0xEF000000);
    poke(&m3, 0x3FF00054, 0x0002ABCD);
    poke(&m3, 0x3FF0005C, 0x005CCF7F); /* OUI from OTP word 3 */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP8266, &m3, 115200, &info, regs, &n), 0);
    check_mac(&info, 0x5C, 0xCF, 0x7F, 0xAB, 0xCD, 0xEF);

    mem_t m4 = {0};
    poke(&m4, 0x3FF00054, 0x0002ABCD); /* no OUI word and an unknown marker */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP8266, &m4, 115200, &info, regs, &n), ESPFAB_E_CHIP_UNKNOWN);
}

static void test_crystal_estimate(void)
{
    const espfab_chip_t *e32 = espfab_chip_get(ESPFAB_CHIP_ESP32);
    const espfab_chip_t *e8266 = espfab_chip_get(ESPFAB_CHIP_ESP8266);
    CHECK_EQ(espfab_chip_xtal_mhz(e32, 347, 115200), 40);
    CHECK_EQ(espfab_chip_xtal_mhz(e32, 226, 115200), 26);
    CHECK_EQ(espfab_chip_xtal_mhz(e32, 174, 230400), 40);
    CHECK_EQ(espfab_chip_xtal_mhz(e32, 417, 115200), 48);
    CHECK_EQ(espfab_chip_xtal_mhz(e32, 391, 115200), 48); /* 45.04 > 45 */
    CHECK_EQ(espfab_chip_xtal_mhz(e32, 390, 115200), 40); /* 44.93 */
    CHECK_EQ(espfab_chip_xtal_mhz(e32, 295, 115200), 40); /* 33.98 > 33 */
    CHECK_EQ(espfab_chip_xtal_mhz(e32, 286, 115200), 26); /* 32.95 */
    CHECK_EQ(espfab_chip_xtal_mhz(e8266, 451, 115200), 26);
    CHECK_EQ(espfab_chip_xtal_mhz(e8266, 694, 115200), 40);
    CHECK_EQ(espfab_chip_xtal_mhz(espfab_chip_get(ESPFAB_CHIP_ESP32S3), 0, 115200), 40);
    CHECK_EQ(espfab_chip_xtal_mhz(espfab_chip_get(ESPFAB_CHIP_ESP32H2), 347, 115200), 32);
}

static void test_esp32s2(void)
{
    espfab_chip_info_t info;
    espfab_reg_t regs[16];
    size_t n;
    mem_t m = {0};
    poke(&m, 0x3F41A044, 0x01020304);
    poke(&m, 0x3F41A048, 0x00000506);
    poke(&m, 0x3F41A050, 0x00140000); /* B1+12: bit 20 (minor hi), bits 18-19 = 1 */
    poke(&m, 0x3F41A054, 0x00000030); /* B1+16: bits 4-6 = 3 */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32S2, &m, 115200, &info, regs, &n), 0);
    check_mac(&info, 0x05, 0x06, 0x01, 0x02, 0x03, 0x04);
    CHECK_EQ(info.rev_major, 1);
    CHECK_EQ(info.rev_minor, 11);
    CHECK_EQ(info.xtal_mhz, 40);
}

static void test_esp32s3(void)
{
    espfab_chip_info_t info;
    espfab_reg_t regs[16];
    size_t n;
    mem_t m = {0};
    poke(&m, 0x60007044, 0x11223344);
    poke(&m, 0x60007048, 0xFFFF5566);
    poke(&m, 0x60007050, 2u << 18); /* minor low bits 2 */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32S3, &m, 115200, &info, regs, &n), 0);
    check_mac(&info, 0x55, 0x66, 0x11, 0x22, 0x33, 0x44);
    CHECK_EQ(info.rev_major, 0);
    CHECK_EQ(info.rev_minor, 2);
    CHECK_STR(info.description, "ESP32-S3 (revision v0.2)");

    /* v0.0 workaround: raw major 1, minor 0, block version 1.1 -> v0.0 */
    mem_t w = {0};
    poke(&w, 0x60007058, 1u << 24); /* B1+20: major 1 */
    poke(&w, 0x60007050, 1u << 24); /* B1+12: block version minor 1 */
    poke(&w, 0x6000706C, 1);        /* BLOCK2+16: block version major 1 */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32S3, &w, 115200, &info, regs, &n), 0);
    CHECK_EQ(info.rev_major, 0);
    CHECK_EQ(info.rev_minor, 0);
    /* same but block version major 0: the real v1.0 */
    mem_t v = {0};
    poke(&v, 0x60007058, 1u << 24);
    poke(&v, 0x60007050, 1u << 24);
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32S3, &v, 115200, &info, regs, &n), 0);
    CHECK_EQ(info.rev_major, 1);
    CHECK_EQ(info.rev_minor, 0);
    /* minor 8 (bit 23 of B1+20) still has (minor & 7) == 0: the workaround applies */
    mem_t u = {0};
    poke(&u, 0x60007058, (1u << 24) | (1u << 23));
    poke(&u, 0x60007050, 1u << 24);
    poke(&u, 0x6000706C, 1);
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32S3, &u, 115200, &info, regs, &n), 0);
    CHECK_EQ(info.rev_major, 0); /* minor & 7 == 0 still: workaround applies */
    CHECK_EQ(info.rev_minor, 0);
}

static void test_esp32c3(void)
{
    espfab_chip_info_t info;
    espfab_reg_t regs[16];
    size_t n;
    mem_t m = {0};
    poke(&m, 0x60008844, 0xA1B2C3D4);
    poke(&m, 0x60008848, 0x0000E5F6);
    poke(&m, 0x60008858, (1u << 24) | (1u << 23)); /* major 1, minor +8 */
    poke(&m, 0x60008850, 3u << 18);                /* minor +3 */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32C3, &m, 115200, &info, regs, &n), 0);
    check_mac(&info, 0xE5, 0xF6, 0xA1, 0xB2, 0xC3, 0xD4);
    CHECK_EQ(info.rev_major, 1);
    CHECK_EQ(info.rev_minor, 11);
    CHECK_EQ(info.rev_full, 111);
}

static void test_esp32c6_h2_p4(void)
{
    espfab_chip_info_t info;
    espfab_reg_t regs[16];
    size_t n;
    mem_t m = {0};
    poke(&m, 0x600B0844, 0x0A0B0C0D);
    poke(&m, 0x600B0848, 0x00000E0F);
    poke(&m, 0x600B0850, 0x00480000); /* bits 22 and 19 */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32C6, &m, 115200, &info, regs, &n), 0);
    check_mac(&info, 0x0E, 0x0F, 0x0A, 0x0B, 0x0C, 0x0D);
    CHECK_EQ(info.rev_major, 1); /* (w >> 22) & 3 */
    CHECK_EQ(info.rev_minor, 2); /* (w >> 18) & 0xF */
    CHECK_EQ(info.xtal_mhz, 40);
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32H2, &m, 115200, &info, regs, &n), 0);
    check_mac(&info, 0x0E, 0x0F, 0x0A, 0x0B, 0x0C, 0x0D);
    CHECK_EQ(info.rev_major, 2); /* (w >> 21) & 3 */
    CHECK_EQ(info.rev_minor, 2); /* (w >> 18) & 7 */
    CHECK_EQ(info.xtal_mhz, 32);

    mem_t p = {0};
    poke(&p, 0x5012D044, 0x44332211);
    poke(&p, 0x5012D048, 0x00006655);
    poke(&p, 0x5012D04C, 0x00800012); /* bit 23 -> major bit 2; bits 4-5 = 1; minor 2 */
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32P4, &p, 115200, &info, regs, &n), 0);
    check_mac(&info, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11);
    CHECK_EQ(info.rev_major, 5);
    CHECK_EQ(info.rev_minor, 2);
    mem_t q = {0};
    poke(&q, 0x5012D04C, 0x31);
    CHECK_EQ(decode(ESPFAB_CHIP_ESP32P4, &q, 115200, &info, regs, &n), 0);
    CHECK_EQ(info.rev_full, 301);
}

static void test_table(void)
{
    static const struct {
        espfab_chip_id_t id;
        const char *key;
        int image_id;
        uint32_t boot;
        int status_len;
        bool secinfo, deflate, encword;
        const char *stub, *legacy;
    } t[] = {
        {ESPFAB_CHIP_ESP8266, "esp8266", -1, 0x0, 2, false, false, false, "esp8266.json", "stub_flasher_8266.json"},
        {ESPFAB_CHIP_ESP32, "esp32", 0, 0x1000, 4, false, true, false, "esp32.json", "stub_flasher_32.json"},
        {ESPFAB_CHIP_ESP32S2, "esp32s2", 2, 0x1000, 4, true, true, true, "esp32s2.json", "stub_flasher_32s2.json"},
        {ESPFAB_CHIP_ESP32S3, "esp32s3", 9, 0x0, 4, true, true, true, "esp32s3.json", "stub_flasher_32s3.json"},
        {ESPFAB_CHIP_ESP32C2, "esp32c2", 12, 0x0, 4, true, true, true, "esp32c2.json", "stub_flasher_32c2.json"},
        {ESPFAB_CHIP_ESP32C3, "esp32c3", 5, 0x0, 4, true, true, true, "esp32c3.json", "stub_flasher_32c3.json"},
        {ESPFAB_CHIP_ESP32C6, "esp32c6", 13, 0x0, 4, true, true, true, "esp32c6.json", "stub_flasher_32c6.json"},
        {ESPFAB_CHIP_ESP32H2, "esp32h2", 16, 0x0, 4, true, true, true, "esp32h2.json", "stub_flasher_32h2.json"},
        {ESPFAB_CHIP_ESP32P4, "esp32p4", 18, 0x2000, 4, true, true, true, "esp32p4.json", "stub_flasher_32p4.json"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const espfab_chip_t *c = espfab_chip_get(t[i].id);
        CHECK(c != NULL);
        if (!c)
            continue;
        CHECK_EQ(c->id, t[i].id);
        CHECK_STR(c->key, t[i].key);
        CHECK_EQ(c->image_chip_id, t[i].image_id);
        CHECK_EQ(c->bootloader_offset, t[i].boot);
        CHECK_EQ(c->rom_status_len, t[i].status_len);
        CHECK_EQ(c->rom_secinfo, t[i].secinfo);
        CHECK_EQ(c->rom_deflate, t[i].deflate);
        CHECK_EQ(c->rom_md5, t[i].deflate);
        CHECK_EQ(c->rom_change_baud, t[i].deflate);
        CHECK_EQ(c->rom_spi_attach, t[i].deflate);
        CHECK_EQ(c->rom_begin_encrypted_word, t[i].encword);
        CHECK_STR(c->stub_file, t[i].stub);
        CHECK_STR(c->stub_file_legacy, t[i].legacy);
        CHECK(espfab_chip_by_key(t[i].key) == c);
        CHECK(espfab_chip_by_key(c->name) == c);
        CHECK_CONTAINS(espfab_chip_keys(), t[i].key);
        if (t[i].image_id >= 0)
            CHECK(espfab_chip_by_image_id(t[i].image_id) == c);
    }
    CHECK(espfab_chip_get(ESPFAB_CHIP_UNKNOWN) == NULL);
    CHECK(espfab_chip_get(ESPFAB_CHIP_COUNT) == NULL);
    CHECK_STR(espfab_chip_get(ESPFAB_CHIP_ESP32S3)->name, "ESP32-S3");
    CHECK(espfab_chip_get(ESPFAB_CHIP_ESP32P4)->nmagic == 0);
}

static void test_detection(void)
{
    CHECK_EQ(espfab_chip_by_magic(0xFFF0C101u)->id, ESPFAB_CHIP_ESP8266);
    CHECK_EQ(espfab_chip_by_magic(0x00F01D83u)->id, ESPFAB_CHIP_ESP32);
    CHECK_EQ(espfab_chip_by_magic(0x000007C6u)->id, ESPFAB_CHIP_ESP32S2);
    CHECK_EQ(espfab_chip_by_magic(0x00000009u)->id, ESPFAB_CHIP_ESP32S3);
    CHECK_EQ(espfab_chip_by_magic(0x6F51306Fu)->id, ESPFAB_CHIP_ESP32C2);
    CHECK_EQ(espfab_chip_by_magic(0x7C41A06Fu)->id, ESPFAB_CHIP_ESP32C2);
    CHECK_EQ(espfab_chip_by_magic(0x0C21E06Fu)->id, ESPFAB_CHIP_ESP32C2);
    CHECK_EQ(espfab_chip_by_magic(0x6921506Fu)->id, ESPFAB_CHIP_ESP32C3);
    CHECK_EQ(espfab_chip_by_magic(0x1B31506Fu)->id, ESPFAB_CHIP_ESP32C3);
    CHECK_EQ(espfab_chip_by_magic(0x4881606Fu)->id, ESPFAB_CHIP_ESP32C3);
    CHECK_EQ(espfab_chip_by_magic(0x4361606Fu)->id, ESPFAB_CHIP_ESP32C3);
    CHECK_EQ(espfab_chip_by_magic(0x2CE0806Fu)->id, ESPFAB_CHIP_ESP32C6);
    CHECK_EQ(espfab_chip_by_magic(0xD7B73E80u)->id, ESPFAB_CHIP_ESP32H2);
    CHECK(espfab_chip_by_magic(0) == NULL); /* P4 is not detected by magic */
    CHECK(espfab_chip_by_magic(0x0ADDBAD0u) == NULL);
    CHECK(espfab_chip_by_magic(0x12345678u) == NULL);
    /* security-info chip id = image chip id */
    CHECK_EQ(espfab_chip_by_image_id(0)->id, ESPFAB_CHIP_ESP32);
    CHECK_EQ(espfab_chip_by_image_id(2)->id, ESPFAB_CHIP_ESP32S2);
    CHECK_EQ(espfab_chip_by_image_id(5)->id, ESPFAB_CHIP_ESP32C3);
    CHECK_EQ(espfab_chip_by_image_id(9)->id, ESPFAB_CHIP_ESP32S3);
    CHECK_EQ(espfab_chip_by_image_id(12)->id, ESPFAB_CHIP_ESP32C2);
    CHECK_EQ(espfab_chip_by_image_id(13)->id, ESPFAB_CHIP_ESP32C6);
    CHECK_EQ(espfab_chip_by_image_id(16)->id, ESPFAB_CHIP_ESP32H2);
    CHECK_EQ(espfab_chip_by_image_id(18)->id, ESPFAB_CHIP_ESP32P4);
    CHECK(espfab_chip_by_image_id(-1) == NULL);
    CHECK(espfab_chip_by_image_id(23) == NULL); /* C5: not in the table */
    CHECK(espfab_chip_by_key("ESP32-S3") == espfab_chip_get(ESPFAB_CHIP_ESP32S3));
    CHECK(espfab_chip_by_key("esp32-s3") == espfab_chip_get(ESPFAB_CHIP_ESP32S3));
    CHECK(espfab_chip_by_key("Esp32_C3") == espfab_chip_get(ESPFAB_CHIP_ESP32C3));
    CHECK(espfab_chip_by_key("esp32s4") == NULL);
    CHECK(espfab_chip_by_key("") == NULL);
    CHECK(espfab_chip_by_key(NULL) == NULL);
}

static void test_info_regs(void)
{
    uint32_t a[16];
    /* P4: never the magic register, and nothing is read twice */
    for (int id = 0; id < ESPFAB_CHIP_COUNT; id++) {
        size_t n = espfab_chip_info_regs(espfab_chip_get((espfab_chip_id_t)id), a, 16);
        CHECK(n >= 1);
        for (size_t i = 0; i < n; i++) {
            CHECK(a[i] != ESPFAB_CHIP_MAGIC_ADDR);
            for (size_t j = i + 1; j < n; j++)
                CHECK(a[i] != a[j]);
        }
    }
    /* the ESP32 list carries the CHANGE_BAUDRATE calibration words */
    size_t n = espfab_chip_info_regs(espfab_chip_get(ESPFAB_CHIP_ESP32), a, 16);
    int cal = 0, w4 = 0;
    for (size_t i = 0; i < n; i++) {
        cal |= a[i] == 0x3FF5F06C;
        w4 |= a[i] == 0x3FF5A010;
    }
    CHECK(cal && w4);
    CHECK_EQ(espfab_chip_info_regs(espfab_chip_get(ESPFAB_CHIP_ESP32), a, 2), 2);
}

static void check_op(const espfab_regop_t *o, espfab_regop_kind_t k, uint32_t addr, uint32_t value,
                     uint32_t mask)
{
    CHECK_EQ(o->kind, k);
    CHECK_EQ(o->addr, addr);
    CHECK_EQ(o->value, value);
    CHECK_EQ(o->mask, mask);
}

static void test_spi_plans(void)
{
    espfab_regop_t o[12];
    const espfab_regop_kind_t W = ESPFAB_REGOP_WRITE;
    size_t n = espfab_chip_spi_plan(espfab_chip_get(ESPFAB_CHIP_ESP32), 0x9F, false, 0, 24, o, 12);
    CHECK_EQ(n, 7);
    check_op(&o[0], W, 0x3FF4202C, 23, 0);          /* MISO_DLEN */
    check_op(&o[1], W, 0x3FF4201C, 0x90000000, 0);  /* USR: COMMAND | MISO */
    check_op(&o[2], W, 0x3FF42024, 0x7000009F, 0);  /* USR2 */
    check_op(&o[3], W, 0x3FF42080, 0, 0);           /* W0 = 0 */
    check_op(&o[4], W, 0x3FF42000, 0x40000, 0);     /* CMD = USR */
    check_op(&o[5], ESPFAB_REGOP_POLL_CLEAR, 0x3FF42000, 0, 0x40000);
    check_op(&o[6], ESPFAB_REGOP_READ, 0x3FF42080, 0, 0);

    n = espfab_chip_spi_plan(espfab_chip_get(ESPFAB_CHIP_ESP8266), 0x9F, false, 0, 24, o, 12);
    CHECK_EQ(n, 7);
    check_op(&o[0], W, 0x60000220, 23u << 8, 0);    /* lengths in USR1 */
    check_op(&o[1], W, 0x6000021C, 0x90000000, 0);
    check_op(&o[2], W, 0x60000224, 0x7000009F, 0);
    check_op(&o[3], W, 0x60000240, 0, 0);
    check_op(&o[6], ESPFAB_REGOP_READ, 0x60000240, 0, 0);

    /* SFDP at 0x10 on the ESP8266: address left-aligned, 24 addr + 8 dummy bits */
    n = espfab_chip_spi_plan(espfab_chip_get(ESPFAB_CHIP_ESP8266), 0x5A, true, 0x10, 32, o, 12);
    CHECK_EQ(n, 8);
    check_op(&o[0], W, 0x60000220, (23u << 26) | 7u | (31u << 8), 0);
    check_op(&o[1], W, 0x6000021C, 0xF0000000, 0);
    check_op(&o[2], W, 0x60000224, 0x7000005A, 0);
    check_op(&o[3], W, 0x60000204, 0x1000, 0);
    check_op(&o[7], ESPFAB_REGOP_READ, 0x60000240, 0, 0);

    /* SFDP on the S3: address as is */
    n = espfab_chip_spi_plan(espfab_chip_get(ESPFAB_CHIP_ESP32S3), 0x5A, true, 0x10, 32, o, 12);
    CHECK_EQ(n, 9);
    check_op(&o[0], W, 0x60002028, 31, 0);
    check_op(&o[1], W, 0x6000201C, 0x5C000007, 0);
    check_op(&o[2], W, 0x60002018, 0xF0000000, 0);
    check_op(&o[3], W, 0x60002020, 0x7000005A, 0);
    check_op(&o[4], W, 0x60002004, 0x10, 0);
    check_op(&o[5], W, 0x60002058, 0, 0);
    check_op(&o[6], W, 0x60002000, 0x40000, 0);
    check_op(&o[8], ESPFAB_REGOP_READ, 0x60002058, 0, 0);

    n = espfab_chip_spi_plan(espfab_chip_get(ESPFAB_CHIP_ESP32C6), 0x9F, false, 0, 24, o, 12);
    CHECK_EQ(n, 7);
    check_op(&o[0], W, 0x60003028, 23, 0);
    check_op(&o[6], ESPFAB_REGOP_READ, 0x60003058, 0, 0);
    n = espfab_chip_spi_plan(espfab_chip_get(ESPFAB_CHIP_ESP32P4), 0x9F, false, 0, 24, o, 12);
    check_op(&o[6], ESPFAB_REGOP_READ, 0x5008D058, 0, 0);
    n = espfab_chip_spi_plan(espfab_chip_get(ESPFAB_CHIP_ESP32S2), 0x9F, false, 0, 24, o, 12);
    check_op(&o[1], W, 0x3F402018, 0x90000000, 0);
    CHECK_EQ(espfab_chip_spi_plan(espfab_chip_get(ESPFAB_CHIP_ESP32), 0x9F, false, 0, 24, o, 6), 0);
}

static void test_jedec(void)
{
    CHECK_EQ(espfab_flash_size_from_jedec(0x001640EF), 4u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0xFF1640EF), 4u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0x001840C8), 16u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0x003670C8), 4u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0x001240EF), 256u << 10);
    CHECK_EQ(espfab_flash_size_from_jedec(0x003940EF), 32u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0x0020BA20), 64u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0x002140EF), 128u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0x001C40EF), 256u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0x001140EF), 0);
    /* Adesto: size from (id >> 8) & 0x1F, the capacity byte is ignored */
    CHECK_EQ(espfab_flash_size_from_jedec(0x0001841F), 512u << 10);
    CHECK_EQ(espfab_flash_size_from_jedec(0x0001851F), 1u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0x0016881F), 8u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0x0001891F), 16u << 20);
    CHECK_EQ(espfab_flash_size_from_jedec(0x0016831F), 0);
    CHECK_EQ(espfab_flash_size_from_jedec(0x00FFFFFF), 0);
    CHECK_EQ(espfab_flash_size_from_jedec(0xFFFFFFFF), 0);
    CHECK_EQ(espfab_flash_size_from_jedec(0), 0);
    CHECK_STR(espfab_flash_vendor(0xEF), "Winbond");
    CHECK_STR(espfab_flash_vendor(0xC8), "GigaDevice");
    CHECK_STR(espfab_flash_vendor(0x77), "unknown");
}

static void test_usb_mode(void)
{
    const espfab_chip_t *s3 = espfab_chip_get(ESPFAB_CHIP_ESP32S3), *s2 = espfab_chip_get(ESPFAB_CHIP_ESP32S2);
    const espfab_chip_t *c3 = espfab_chip_get(ESPFAB_CHIP_ESP32C3), *e32 = espfab_chip_get(ESPFAB_CHIP_ESP32);
    const espfab_chip_t *p4 = espfab_chip_get(ESPFAB_CHIP_ESP32P4);
    CHECK_EQ(espfab_chip_usb_mode(s3, 0x303a, 0x1001), ESPFAB_USB_JTAG);
    CHECK_EQ(espfab_chip_usb_mode(s3, 0x303a, 0x0009), ESPFAB_USB_OTG);
    CHECK_EQ(espfab_chip_usb_mode(s3, 0x303a, 0x0002), ESPFAB_USB_NONE); /* the S2's id */
    CHECK_EQ(espfab_chip_usb_mode(s2, 0x303a, 0x0002), ESPFAB_USB_OTG);
    CHECK_EQ(espfab_chip_usb_mode(s2, 0x303a, 0x1001), ESPFAB_USB_NONE); /* no USB-Serial/JTAG */
    CHECK_EQ(espfab_chip_usb_mode(p4, 0x303a, 0x0012), ESPFAB_USB_OTG);
    CHECK_EQ(espfab_chip_usb_mode(c3, 0x303a, 0x1001), ESPFAB_USB_JTAG);
    CHECK_EQ(espfab_chip_usb_mode(c3, 0x303a, 0x0005), ESPFAB_USB_NONE); /* no OTG */
    CHECK_EQ(espfab_chip_usb_mode(e32, 0x303a, 0x1001), ESPFAB_USB_NONE);
    CHECK_EQ(espfab_chip_usb_mode(c3, 0x10c4, 0xea60), ESPFAB_USB_NONE); /* CP2102 */
    CHECK_EQ(espfab_chip_usb_mode(c3, -1, -1), ESPFAB_USB_NONE);
    CHECK_EQ(espfab_chip_usb_mode(NULL, 0x303a, 0x1001), ESPFAB_USB_NONE);
}

static void test_wdt_plans(void)
{
    espfab_regop_t ops[8];
    /* C6: LP watchdog, SWD key = WDT key, auto-feed bit 18 */
    size_t n = espfab_chip_wdt_disable_plan(espfab_chip_get(ESPFAB_CHIP_ESP32C6), ops, 8);
    CHECK_EQ(n, 6);
    const espfab_regop_t want[6] = {
        {ESPFAB_REGOP_WRITE, 0x600B1C18, 0x50D83AA1, 0}, {ESPFAB_REGOP_WRITE, 0x600B1C00, 0, 0},
        {ESPFAB_REGOP_WRITE, 0x600B1C18, 0, 0},          {ESPFAB_REGOP_WRITE, 0x600B1C20, 0x50D83AA1, 0},
        {ESPFAB_REGOP_SET_BITS, 0x600B1C1C, 1u << 18, 0}, {ESPFAB_REGOP_WRITE, 0x600B1C20, 0, 0}};
    for (size_t i = 0; i < n && i < 6; i++) {
        CHECK_EQ(ops[i].kind, want[i].kind);
        CHECK_EQ(ops[i].addr, want[i].addr);
        CHECK_EQ(ops[i].value, want[i].value);
    }
    /* C3: RTC_CNTL, SWD key 0x8F1D312A, bit 31 */
    n = espfab_chip_wdt_disable_plan(espfab_chip_get(ESPFAB_CHIP_ESP32C3), ops, 8);
    CHECK_EQ(n, 6);
    CHECK_EQ(ops[0].addr, 0x600080A8);
    CHECK_EQ(ops[3].value, 0x8F1D312A);
    CHECK_EQ(ops[4].addr, 0x600080AC);
    CHECK_EQ(ops[4].value, 1u << 31);
    CHECK_EQ(espfab_chip_wdt_disable_plan(espfab_chip_get(ESPFAB_CHIP_ESP32), ops, 8), 0);
    CHECK_EQ(espfab_chip_wdt_disable_plan(espfab_chip_get(ESPFAB_CHIP_ESP32S2), ops, 8), 0); /* no SWD */
    CHECK_EQ(espfab_chip_wdt_disable_plan(espfab_chip_get(ESPFAB_CHIP_ESP32C3), ops, 5), 0); /* cap */
    /* the watchdog reset, S2 */
    n = espfab_chip_wdt_reset_plan(espfab_chip_get(ESPFAB_CHIP_ESP32S2), ops, 8);
    CHECK_EQ(n, 4);
    CHECK_EQ(ops[0].addr, 0x3F4080AC);
    CHECK_EQ(ops[0].value, 0x50D83AA1);
    CHECK_EQ(ops[1].addr, 0x3F408098);
    CHECK_EQ(ops[1].value, 2000);
    CHECK_EQ(ops[2].addr, 0x3F408094);
    CHECK_EQ(ops[2].value, 0xD0000102);
    CHECK_EQ(ops[3].value, 0);
    CHECK_EQ(espfab_chip_wdt_reset_plan(espfab_chip_get(ESPFAB_CHIP_ESP8266), ops, 8), 0);
    CHECK_STR(espfab_usb_mode_name(ESPFAB_USB_OTG), "USB-OTG");
}

static void test_flash_power_plan(void)
{
    const espfab_chip_t *p4 = espfab_chip_get(ESPFAB_CHIP_ESP32P4);
    espfab_regop_t ops[16];
    espfab_reg_t xpd = {ESPFAB_P4_EFUSE_RD_REPEAT_DATA1, 1u << 16};
    size_t n = espfab_chip_flash_power_plan(p4, 301, NULL, 0, ops, 16);
    CHECK_EQ(n, 11);
    CHECK_EQ(ops[0].kind, ESPFAB_REGOP_WRITE);
    CHECK_EQ(ops[0].addr, 0x5011010C);
    CHECK_EQ(ops[1].kind, ESPFAB_REGOP_DELAY);
    CHECK_EQ(ops[1].value, 10000);
    CHECK_EQ(ops[4].addr, 0x501153FC);
    CHECK_EQ(ops[4].value, 3);
    CHECK_EQ(ops[7].kind, ESPFAB_REGOP_CLEAR_BITS);
    CHECK_EQ(ops[7].value, 0xFFu << 23);
    CHECK_EQ(espfab_chip_flash_power_plan(p4, 302, NULL, 0, ops, 16), 11); /* eFuse bit clear */
    n = espfab_chip_flash_power_plan(p4, 302, &xpd, 1, ops, 16);
    CHECK_EQ(n, 1);
    CHECK_EQ(ops[0].kind, ESPFAB_REGOP_CLEAR_IF_SET);
    CHECK_EQ(ops[0].addr, 0x501153FC);
    CHECK_EQ(espfab_chip_flash_power_plan(p4, 301, &xpd, 1, ops, 16), 11); /* v3.1 ignores it */
    CHECK_EQ(espfab_chip_flash_power_plan(p4, 300, NULL, 0, ops, 16), 0);
    CHECK_EQ(espfab_chip_flash_power_plan(p4, 100, NULL, 0, ops, 16), 0);
    CHECK_EQ(espfab_chip_flash_power_plan(espfab_chip_get(ESPFAB_CHIP_ESP32S3), 301, NULL, 0, ops, 16), 0);
    CHECK_EQ(espfab_chip_flash_power_plan(p4, 301, NULL, 0, ops, 8), 0); /* cap */
    /* the eFuse word is among the registers read for the chip info */
    uint32_t addrs[16];
    size_t na = espfab_chip_info_regs(p4, addrs, 16);
    bool found = false;
    for (size_t i = 0; i < na; i++)
        found |= addrs[i] == ESPFAB_P4_EFUSE_RD_REPEAT_DATA1;
    CHECK(found);
}

static void test_usb_id_parse(void)
{
    int v = -1, p = -1;
    CHECK_EQ(espfab_usb_id_parse("303a:1001", &v, &p), 0);
    CHECK_EQ(v, 0x303a);
    CHECK_EQ(p, 0x1001);
    CHECK_EQ(espfab_usb_id_parse("303A:0009", &v, &p), 0);
    CHECK_EQ(p, 9);
    CHECK_EQ(espfab_usb_id_parse("10c4:ea60", &v, &p), 0);
    CHECK_EQ(v, 0x10c4);
    const char *bad[] = {"1001", "303a:", ":1001", "303a:1001x", "0:1001", "12345:1", "303a:12345",
                         "30 3a:1001", "-1:1", "303a:-1", "", "303a:1001:1", NULL};
    for (size_t i = 0; bad[i]; i++) {
        if (espfab_usb_id_parse(bad[i], &v, &p) != -1)
            fprintf(stderr, "accepted '%s'\n", bad[i]);
        CHECK_EQ(espfab_usb_id_parse(bad[i], &v, &p), -1);
    }
    CHECK_EQ(espfab_usb_id_parse(NULL, &v, &p), -1);
}

static void test_xmc_strict(void)
{
    CHECK(espfab_flash_is_xmc_strict(0x164020));  /* XM25QH32C */
    CHECK(espfab_flash_is_xmc_strict(0x134020));  /* lowest capacity of type 0x40 */
    CHECK(espfab_flash_is_xmc_strict(0x204020));
    CHECK(!espfab_flash_is_xmc_strict(0x214020));
    CHECK(!espfab_flash_is_xmc_strict(0x124020));
    CHECK(espfab_flash_is_xmc_strict(0x174120));
    CHECK(!espfab_flash_is_xmc_strict(0x164120));
    CHECK(espfab_flash_is_xmc_strict(0x155020));
    CHECK(!espfab_flash_is_xmc_strict(0x175020));
    CHECK(!espfab_flash_is_xmc_strict(0x1640EF)); /* Winbond */
    CHECK(!espfab_flash_is_xmc_strict(0xFFFFFF));
    CHECK(!espfab_flash_is_xmc_strict(0x000000));
}

int main(void)
{
    RUN(test_usb_mode);
    RUN(test_wdt_plans);
    RUN(test_xmc_strict);
    RUN(test_flash_power_plan);
    RUN(test_usb_id_parse);
    RUN(test_esp32);
    RUN(test_esp32_rom_baud);
    RUN(test_esp32c2_26mhz);
    RUN(test_esp8266);
    RUN(test_crystal_estimate);
    RUN(test_esp32s2);
    RUN(test_esp32s3);
    RUN(test_esp32c3);
    RUN(test_esp32c6_h2_p4);
    RUN(test_table);
    RUN(test_detection);
    RUN(test_info_regs);
    RUN(test_spi_plans);
    RUN(test_jedec);
    return check_summary();
}

/* test_json.c - the one JSON writer (json.h): string escaping to a FILE
 * and to a buffer, and the object/array writer.  The string cases first
 * lived in test_report_text.c when the report had its own escaper. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "espfab/err.h"
#include "espfab/json.h"

/* espfab_json_string into memory; returns a malloc'd string (caller frees). */
static char *ser(const char *in, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    *rc = espfab_json_string(m, in);
    fclose(m);
    return buf;
}

/* Both sinks must give the same bytes. */
#define SER_EQ(in, want)                                    \
    do {                                                    \
        int rc_;                                            \
        char *got_ = ser(in, &rc_);                         \
        CHECK_EQ(rc_, 0);                                   \
        CHECK_STR(got_, want);                              \
        free(got_);                                         \
        espfab_buf_t sb_ = ESPFAB_BUF_INIT;                  \
        CHECK_EQ(espfab_json_string_buf(&sb_, in), 0);       \
        CHECK_STR(sb_.data, want);                           \
        espfab_buf_free(&sb_);                               \
    } while (0)

static void test_json_escaping(void)
{
    SER_EQ("abc", "\"abc\"");
    SER_EQ(NULL, "null");
    SER_EQ("", "\"\"");
    SER_EQ("q\"b\\s/", "\"q\\\"b\\\\s/\"");
    SER_EQ("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    /* DEL is escaped like the C0 controls (the report used to pass it
     * through raw while `ports --json` escaped it). */
    SER_EQ("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    /* Non-ASCII passes through as UTF-8 (2, 3 and 4 byte sequences). */
    SER_EQ("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x94\xA5", "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x94\xA5\"");
    /* Invalid UTF-8 becomes U+FFFD: lone continuation, truncated sequence,
     * overlong encoding, surrogate, beyond U+10FFFF. */
    SER_EQ("a\x80z", "\"a\xEF\xBF\xBDz\"");
    SER_EQ("a\xE2\x82", "\"a\xEF\xBF\xBD\xEF\xBF\xBD\"");
    SER_EQ("\xC0\xAF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
    SER_EQ("\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    SER_EQ("\xF4\x90\x80\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

static void test_utf8_len(void)
{
    CHECK_EQ(espfab_utf8_len((const unsigned char *)"a"), 1);
    CHECK_EQ(espfab_utf8_len((const unsigned char *)"\xC3\xA9"), 2);
    CHECK_EQ(espfab_utf8_len((const unsigned char *)"\xE2\x82\xAC"), 3);
    CHECK_EQ(espfab_utf8_len((const unsigned char *)"\xF0\x9F\x94\xA5"), 4);
    CHECK_EQ(espfab_utf8_len((const unsigned char *)"\x80"), 0);             /* continuation */
    CHECK_EQ(espfab_utf8_len((const unsigned char *)"\xE2\x82"), 0);         /* cut by the NUL */
    CHECK_EQ(espfab_utf8_len((const unsigned char *)"\xC0\xAF"), 0);         /* overlong */
    CHECK_EQ(espfab_utf8_len((const unsigned char *)"\xED\xA0\x80"), 0);     /* surrogate */
    CHECK_EQ(espfab_utf8_len((const unsigned char *)"\xF4\x90\x80\x80"), 0); /* > U+10FFFF */
}

static void test_json_every_control(void)
{
    /* Every byte 0x01..0x1f and 0x7f comes out escaped, never raw. */
    for (int c = 1; c < 0x80; c++) {
        if (c >= 0x20 && c != 0x7f)
            continue;
        char in[2] = {(char)c, 0};
        espfab_buf_t b = ESPFAB_BUF_INIT;
        CHECK_EQ(espfab_json_string_buf(&b, in), 0);
        CHECK(b.data && b.data[1] == '\\');
        for (size_t i = 0; b.data && i < b.len; i++)
            CHECK((unsigned char)b.data[i] >= 0x20 && b.data[i] != 0x7f);
        espfab_buf_free(&b);
    }
}

static void test_json_write_error(void)
{
    FILE *ro = fopen("/dev/null", "r");
    CHECK(ro != NULL);
    if (!ro)
        return;
    CHECK_EQ(espfab_json_string(ro, "x"), ESPFAB_E_IO);
    espfab_json_t w;
    espfab_json_init_file(&w, ro, false);
    CHECK_EQ(espfab_json_obj(&w, NULL), ESPFAB_E_IO);
    CHECK_EQ(espfab_json_int(&w, "a", 1), ESPFAB_E_IO); /* sticky */
    fclose(ro);
}

static void test_json_writer_compact(void)
{
    espfab_buf_t b = ESPFAB_BUF_INIT;
    espfab_json_t w;
    espfab_json_init_buf(&w, &b, false);
    espfab_json_obj(&w, NULL);
    espfab_json_str(&w, "s", "x\"y");
    espfab_json_str(&w, "n", NULL);
    espfab_json_int(&w, "i", -42);
    espfab_json_uint(&w, "u", 4294967295u);
    espfab_json_bool(&w, "t", true);
    espfab_json_bool(&w, "f", false);
    espfab_json_null(&w, "z");
    espfab_json_double(&w, "d", 12.345, 1);
    espfab_json_double(&w, "nan", NAN, 1);
    espfab_json_arr(&w, "a");
    espfab_json_int(&w, NULL, 1);
    espfab_json_obj(&w, NULL);
    espfab_json_end(&w);
    espfab_json_str(&w, NULL, "e");
    espfab_json_end(&w);
    espfab_json_obj(&w, "o");
    espfab_json_end(&w);
    CHECK_EQ(espfab_json_end(&w), 0);
    CHECK_EQ(w.depth, 0);
    CHECK_STR(b.data, "{\"s\":\"x\\\"y\",\"n\":null,\"i\":-42,\"u\":4294967295,\"t\":true,"
                      "\"f\":false,\"z\":null,\"d\":12.3,\"nan\":null,\"a\":[1,{},\"e\"],\"o\":{}}");
    espfab_buf_free(&b);
}

static void test_json_writer_spaced_file(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    espfab_json_t w;
    espfab_json_init_file(&w, m, true);
    espfab_json_obj(&w, NULL);
    espfab_json_str(&w, "path", "/dev/ttyUSB0");
    espfab_json_null(&w, "serial");
    espfab_json_int(&w, "usb_vid", 4292);
    CHECK_EQ(espfab_json_end(&w), 0);
    fclose(m);
    CHECK_STR(buf, "{\"path\": \"/dev/ttyUSB0\", \"serial\": null, \"usb_vid\": 4292}");
    free(buf);
}

int main(void)
{
    RUN(test_json_escaping);
    RUN(test_utf8_len);
    RUN(test_json_every_control);
    RUN(test_json_write_error);
    RUN(test_json_writer_compact);
    RUN(test_json_writer_spaced_file);
    return check_summary();
}

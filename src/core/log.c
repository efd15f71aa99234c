/* log.c - leveled logging with a replaceable sink. */
#include "espfab/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static espfab_log_level_t g_level = ESPFAB_LOG_WARN;
static espfab_log_sink_cb g_sink;
static void *g_sink_data;

static const char *level_name(espfab_log_level_t l)
{
    static const char *names[] = {"error", "warn", "info", "debug", "trace"};
    return (unsigned)l < 5 ? names[l] : "?";
}

void espfab_log_set_level(espfab_log_level_t level) { g_level = level; }

void espfab_log_init_from_env(void)
{
    const char *v = getenv("ESPFAB_LOG");
    if (!v)
        return;
    for (int i = 0; i <= ESPFAB_LOG_TRACE; i++)
        if (strcmp(v, level_name((espfab_log_level_t)i)) == 0)
            g_level = (espfab_log_level_t)i;
}

void espfab_log_set_sink(espfab_log_sink_cb cb, void *data)
{
    g_sink = cb;
    g_sink_data = data;
}

int espfab_log_enabled(espfab_log_level_t level) { return level <= g_level; }

void espfab_logv(espfab_log_level_t level, const char *tag, const char *fmt, va_list ap)
{
    char msg[1024];
    if (level > g_level)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (g_sink) {
        g_sink(g_sink_data, level, tag ? tag : "", msg);
        return;
    }
    fprintf(stderr, "%s [%s] %s\n", level_name(level), tag ? tag : "-", msg);
}

void espfab_log(espfab_log_level_t level, const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    espfab_logv(level, tag, fmt, ap);
    va_end(ap);
}

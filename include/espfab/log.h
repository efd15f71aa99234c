/*
 * log.h - leveled logging to stderr (or a caller-supplied sink).
 *
 * Single-threaded: call from the loop thread only.  The sink is global and is
 * replaced by the station console/JSON output; by default lines go to stderr as
 * "LEVEL [tag] message".  Level from ESPFAB_LOG (error|warn|info|debug|trace)
 * or espfab_log_set_level().
 */
#ifndef ESPFAB_LOG_H
#define ESPFAB_LOG_H

#include <stdarg.h>

typedef enum {
    ESPFAB_LOG_ERROR = 0,
    ESPFAB_LOG_WARN,
    ESPFAB_LOG_INFO,
    ESPFAB_LOG_DEBUG,
    ESPFAB_LOG_TRACE
} espfab_log_level_t;

typedef void (*espfab_log_sink_cb)(void *data, espfab_log_level_t level, const char *tag,
                                   const char *msg);

void espfab_log_set_level(espfab_log_level_t level);
/* Reads ESPFAB_LOG; unknown values are ignored. */
void espfab_log_init_from_env(void);
void espfab_log_set_sink(espfab_log_sink_cb cb, void *data);
int espfab_log_enabled(espfab_log_level_t level);
void espfab_log(espfab_log_level_t level, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void espfab_logv(espfab_log_level_t level, const char *tag, const char *fmt, va_list ap);

#define ESPFAB_LOGE(tag, ...) espfab_log(ESPFAB_LOG_ERROR, tag, __VA_ARGS__)
#define ESPFAB_LOGW(tag, ...) espfab_log(ESPFAB_LOG_WARN, tag, __VA_ARGS__)
#define ESPFAB_LOGI(tag, ...) espfab_log(ESPFAB_LOG_INFO, tag, __VA_ARGS__)
#define ESPFAB_LOGD(tag, ...) \
    do { if (espfab_log_enabled(ESPFAB_LOG_DEBUG)) espfab_log(ESPFAB_LOG_DEBUG, tag, __VA_ARGS__); } while (0)
#define ESPFAB_LOGT(tag, ...) \
    do { if (espfab_log_enabled(ESPFAB_LOG_TRACE)) espfab_log(ESPFAB_LOG_TRACE, tag, __VA_ARGS__); } while (0)

#endif

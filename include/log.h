/* log.h — one line per event on stderr: `LEVEL component: message key=value…` (SPEC §2). */
#ifndef LOG_H
#define LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the threshold; lines above it are dropped. Default LOG_INFO. */
void log_set_level(enum log_level level);
/* Parses "error|warn|info|debug". Returns 0 or -1. */
int log_level_parse(const char *text, enum log_level *out);
/* Writes one line atomically with respect to other log_msg calls. */
void log_msg(enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

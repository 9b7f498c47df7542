/* log.c — stderr logging, one line per event, whole lines even from several threads. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level log_threshold = LOG_INFO;
static const char *const log_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(enum log_level level)
{
    log_threshold = level;
}

int log_level_parse(const char *text, enum log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
    if (level > log_threshold)
        return;
    /* Format into one buffer and write it with a single call so lines never interleave. */
    char line[1024];
    int n = snprintf(line, sizeof line, "%s %s: ", log_names[level], component);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t used = strlen(line);
    if (used > sizeof line - 2)
        used = sizeof line - 2;
    line[used++] = '\n';
    fwrite(line, 1, used, stderr);
}

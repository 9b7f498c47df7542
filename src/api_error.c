/* api_error.c — filling in the SPEC's error values. */
#include "api_error.h"

#include <stdarg.h>
#include <stdio.h>

int api_error_set(struct api_error *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    if (vsnprintf(err->message, sizeof err->message, fmt, ap) < 0)
        err->message[0] = '\0';
    va_end(ap);
    return -1;
}

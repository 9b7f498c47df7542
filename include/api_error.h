/* api_error.h — the error answered on a …/rejected topic (SPEC §4.8).
 *
 * An api_error is a plain value: the HTTP-like code and the exact message the SPEC fixes.
 * Pure modules fill one in and return -1; the service turns it into the JSON payload. */
#ifndef API_ERROR_H
#define API_ERROR_H

#define API_ERROR_MESSAGE_MAX 256

struct api_error {
    int code;                            /* 400, 403, 404, 409, 413, 415, 500 */
    char message[API_ERROR_MESSAGE_MAX]; /* exact SPEC wording, never empty when code != 0 */
};

/* Sets code and a printf-formatted message (truncated to fit). Always returns -1, so a caller
 * can write `return api_error_set(err, 400, "Invalid JSON");`. err may be NULL. */
int api_error_set(struct api_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

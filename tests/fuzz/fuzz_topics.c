/* fuzz_topics.c — libFuzzer target for the topic API (topics.h): topic_parse on arbitrary bytes
 * under an arbitrary root, and topic_meter / topic_service on arbitrary parts and buffer sizes.
 *
 * Input: [flags][root length][root bytes][rest]. The rest is the topic for topic_parse and, cut
 * at its first '/', the serial and suffix for topic_meter. Properties checked beyond "no crash":
 * - a parsed topic is exactly `{root/}meters/{serial}/{action}`, the serial lies inside the
 *   topic, holds no '/', and serial_valid agrees with topic_serial_valid;
 * - topic_meter / topic_service succeed exactly when the joined topic fits and a reference
 *   check of mosquitto's publish rules (decoded code point by code point) accepts it, and then
 *   write exactly that topic; a formed meter topic parses back to the same action and serial. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topics.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define ROOT_MAX 64
#define WIRE_MAX 65535

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- reference: mosquitto's rules for a publish topic, by code point ---- */

/* Decodes one UTF-8 sequence at s[0..len); returns its length, or 0 when it is not valid
 * (truncated, overlong, surrogate, beyond U+10FFFF). */
static size_t ref_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t n;
    uint32_t min;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2, *cp = s[0] & 0x1Fu, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3, *cp = s[0] & 0x0Fu, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4, *cp = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        *cp = *cp << 6 | (s[k] & 0x3Fu);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return n;
}

static bool ref_publishable(const unsigned char *s, size_t len)
{
    if (len == 0 || len > WIRE_MAX)
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = ref_decode(s + i, len - i, &cp);
        if (n == 0)
            return false;
        if (cp == '+' || cp == '#' || cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F))
            return false;
        if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFEu) == 0xFFFEu)
            return false;
        i += n;
    }
    return true;
}

/* ---- helpers ---- */

/* Appends n bytes to a growing buffer of capacity cap; false when it would not fit. */
static bool put(unsigned char *buf, size_t cap, size_t *used, const void *p, size_t n)
{
    if (cap - *used < n)
        return false;
    memcpy(buf + *used, p, n);
    *used += n;
    return true;
}

/* The buffer size the call gets: chosen around the size the result needs, so both sides of
 * every boundary are tried. */
static size_t pick_cap(uint8_t sel, size_t need)
{
    switch (sel % 6) {
    case 0:
        return 0;
    case 1:
        return need; /* one short: the NUL does not fit */
    case 2:
        return need + 1;
    case 3:
        return need + 2;
    case 4:
        return TOPIC_MAX;
    default:
        return need > 0 ? need - 1 : 1;
    }
}

/* ---- topic_parse ---- */

static void check_parse(const char *root, const unsigned char *topic_in, size_t len)
{
    /* An exact-size copy: a read past len is a heap overflow the sanitizer reports. */
    char *topic = malloc(len > 0 ? len : 1);
    CHECK(topic != NULL);
    if (len > 0)
        memcpy(topic, topic_in, len);
    struct topic_parsed tp;
    memset(&tp, 0xA5, sizeof tp);
    int rc = topic_parse(root, topic, len, &tp);
    CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        const char *name = topic_action_name(tp.action);
        CHECK(name != NULL);
        CHECK(tp.serial >= topic && tp.serial_len <= len);
        CHECK((size_t)(tp.serial - topic) + tp.serial_len <= len);
        CHECK(memchr(tp.serial, '/', tp.serial_len) == NULL);
        CHECK(tp.serial_valid == topic_serial_valid(tp.serial, tp.serial_len));
        if (tp.serial_valid)
            CHECK(tp.serial_len >= 1 && tp.serial_len <= TOPIC_SERIAL_MAX);
        /* The topic is exactly `{root/}meters/{serial}/{action}`. */
        size_t cap = len + 1, used = 0;
        unsigned char *expect = malloc(cap);
        CHECK(expect != NULL);
        bool ok = true;
        if (root != NULL && root[0] != '\0')
            ok = put(expect, cap, &used, root, strlen(root)) && put(expect, cap, &used, "/", 1);
        ok = ok && put(expect, cap, &used, "meters/", 7) &&
             put(expect, cap, &used, tp.serial, tp.serial_len) && put(expect, cap, &used, "/", 1) &&
             put(expect, cap, &used, name, strlen(name));
        CHECK(ok && used == len && memcmp(expect, topic, len) == 0);
        free(expect);
    }
    free(topic);
}

/* ---- topic_meter / topic_service ---- */

/* Builds `{root/}` + parts into a scratch buffer for the reference; returns its length. */
static size_t join_ref(unsigned char *out, size_t cap, const char *root, const void *const parts[],
                       const size_t lens[], int n)
{
    size_t used = 0;
    if (root != NULL && root[0] != '\0') {
        CHECK(put(out, cap, &used, root, strlen(root)));
        CHECK(put(out, cap, &used, "/", 1));
    }
    for (int i = 0; i < n; i++)
        CHECK(put(out, cap, &used, parts[i], lens[i]));
    return used;
}

static void check_formed(int rc, const char *buf, size_t cap, const unsigned char *want,
                         size_t want_len, bool allowed)
{
    bool fits = want_len < cap;
    CHECK(rc == 0 || rc == -1);
    CHECK((rc == 0) == (fits && allowed && ref_publishable(want, want_len)));
    if (rc == 0) {
        CHECK(memchr(buf, '\0', cap) != NULL);
        CHECK(strlen(buf) == want_len && memcmp(buf, want, want_len) == 0);
    }
}

static void check_meter(const char *root, const unsigned char *serial, size_t serial_len,
                        const char *suffix, uint8_t sel)
{
    const void *const parts[] = {"meters/", serial, "/", suffix};
    const size_t lens[] = {7, serial_len, 1, strlen(suffix)};
    size_t ref_cap = ROOT_MAX + 16 + serial_len + lens[3];
    unsigned char *want = malloc(ref_cap);
    CHECK(want != NULL);
    size_t want_len = join_ref(want, ref_cap, root, parts, lens, 4);

    size_t cap = pick_cap(sel, want_len);
    char *buf = cap > 0 ? malloc(cap) : NULL;
    CHECK(cap == 0 || buf != NULL);
    int rc = topic_meter(buf, cap, root, (const char *)serial, serial_len, suffix);
    bool no_slash = memchr(serial, '/', serial_len) == NULL;
    check_formed(rc, buf, cap, want, want_len, no_slash && buf != NULL);

    /* A formed inbound topic parses back to what formed it. */
    if (rc == 0) {
        struct topic_parsed tp;
        int prc = topic_parse(root, buf, strlen(buf), &tp);
        bool inbound = false;
        for (int a = TOPIC_REPORTED; a <= TOPIC_COMMAND_RESULT; a++)
            inbound = inbound || strcmp(suffix, topic_action_name((enum topic_action)a)) == 0;
        CHECK((prc == 0) == inbound);
        if (prc == 0) {
            CHECK(strcmp(topic_action_name(tp.action), suffix) == 0);
            CHECK(tp.serial_len == serial_len && memcmp(tp.serial, serial, serial_len) == 0);
        }
    }
    free(buf);
    free(want);
}

static void check_service(const char *root, const char *name, uint8_t sel)
{
    const void *const parts[] = {name};
    const size_t lens[] = {strlen(name)};
    size_t ref_cap = ROOT_MAX + 2 + lens[0];
    unsigned char *want = malloc(ref_cap);
    CHECK(want != NULL);
    size_t want_len = join_ref(want, ref_cap, root, parts, lens, 1);
    size_t cap = pick_cap(sel, want_len);
    char *buf = cap > 0 ? malloc(cap) : NULL;
    CHECK(cap == 0 || buf != NULL);
    int rc = topic_service(buf, cap, root, name);
    check_formed(rc, buf, cap, want, want_len, name[0] != '\0' && buf != NULL);
    free(buf);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    size_t root_len = data[1] % (ROOT_MAX + 1);
    data += 2;
    size -= 2;
    if (root_len > size)
        root_len = size;
    /* The root is a C string (configuration): it ends at its first NUL, if any. */
    char root_buf[ROOT_MAX + 1];
    memcpy(root_buf, data, root_len);
    root_buf[root_len] = '\0';
    const char *root = (flags & 1) ? NULL : root_buf;
    const unsigned char *rest = data + root_len;
    size_t rest_len = size - root_len;

    check_parse(root, rest, rest_len);

    /* The same bytes under the default root, and a plain `meters/…` rebuilt around them, so the
     * parser's later stages are reached without the fuzzer having to guess the prefix. */
    if (flags & 2) {
        size_t n = 7 + rest_len;
        unsigned char *t = malloc(n);
        CHECK(t != NULL);
        memcpy(t, "meters/", 7);
        memcpy(t + 7, rest, rest_len);
        check_parse(NULL, t, n);
        free(t);
    }

    /* Forming: serial = the rest up to its first '/' (or all of it when flags say so, so a '/'
     * in a serial is tried too), suffix = what follows, as a C string. */
    const unsigned char *slash = memchr(rest, '/', rest_len);
    size_t serial_len = (slash != NULL && !(flags & 4)) ? (size_t)(slash - rest) : rest_len;
    size_t suffix_off = slash != NULL ? (size_t)(slash - rest) + 1 : rest_len;
    size_t suffix_len = rest_len - suffix_off;
    char *suffix = malloc(suffix_len + 1);
    CHECK(suffix != NULL);
    memcpy(suffix, rest + suffix_off, suffix_len);
    suffix[suffix_len] = '\0';
    if (flags & 8) {
        /* A real response suffix, as the service forms them. */
        const char *name = topic_action_name((enum topic_action)(1 + (flags >> 5) % 6));
        check_meter(root, rest, serial_len, name, flags >> 4);
    }
    check_meter(root, rest, serial_len, suffix, (uint8_t)(flags >> 4));
    check_service(root, suffix, (uint8_t)(flags >> 3));
    free(suffix);

    /* Every enum value, in and out of range. */
    for (int a = 0; a <= TOPIC_COMMAND_RESULT + 1; a++) {
        const char *name = topic_action_name((enum topic_action)a);
        CHECK((name != NULL) == (a >= TOPIC_REPORTED && a <= TOPIC_COMMAND_RESULT));
    }
    return 0;
}

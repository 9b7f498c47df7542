/* topics.c — the MQTT topic API (SPEC §3): inbound topics parsed, outbound topics formed.
 *
 * Parsing is exact: `[root/]meters/{serial}/{action}` with one of the six inbound actions, and
 * nothing else (a response topic such as `meters/x/reported/accepted` is not an inbound topic).
 * The serial level is taken as it stands, any bytes but '/', and only flagged when it breaks the
 * serial rule, so the caller can still answer `400 Invalid meter serial` to it.
 *
 * Forming refuses any topic the broker would refuse: mosquitto disconnects a client that
 * publishes to a wildcard or to a topic that fails its UTF-8 rules (MQTT 3.1.1 §1.5.3: no U+0000,
 * no control characters, no non-characters), and losing the service's connection to answer one
 * bad serial would be a poor trade. */
#include "topics.h"

#include <string.h>

#include "request.h" /* utf8_valid */

#define TOPIC_METERS "meters/"
#define TOPIC_WIRE_MAX 65535 /* MQTT's limit on a topic name's length */

static const char *const action_names[] = {
    [TOPIC_REPORTED] = "reported", [TOPIC_DESIRED] = "desired",
    [TOPIC_GET] = "get",           [TOPIC_DELETE] = "delete",
    [TOPIC_READS] = "reads",       [TOPIC_COMMAND_RESULT] = "commands/result",
};

const char *topic_action_name(enum topic_action action)
{
    if (action <= TOPIC_UNKNOWN || action > TOPIC_COMMAND_RESULT)
        return NULL;
    return action_names[action];
}

bool topic_serial_valid(const char *s, size_t len)
{
    if (len < 1 || len > TOPIC_SERIAL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Consumes the literal lit at topic[*pos..len) when it is there. */
static bool take(const char *topic, size_t len, size_t *pos, const char *lit, size_t lit_len)
{
    if (len - *pos < lit_len || memcmp(topic + *pos, lit, lit_len) != 0)
        return false;
    *pos += lit_len;
    return true;
}

int topic_parse(const char *root, const char *topic, size_t len, struct topic_parsed *out)
{
    size_t pos = 0;
    if (root != NULL && root[0] != '\0') {
        if (!take(topic, len, &pos, root, strlen(root)) || !take(topic, len, &pos, "/", 1))
            return -1;
    }
    if (!take(topic, len, &pos, TOPIC_METERS, strlen(TOPIC_METERS)))
        return -1;
    const char *serial = topic + pos;
    const char *slash = memchr(serial, '/', len - pos);
    if (slash == NULL)
        return -1;
    size_t serial_len = (size_t)(slash - serial);
    const char *rest = slash + 1;
    size_t rest_len = len - pos - serial_len - 1;
    for (int a = TOPIC_REPORTED; a <= TOPIC_COMMAND_RESULT; a++) {
        const char *name = action_names[a];
        if (strlen(name) == rest_len && memcmp(rest, name, rest_len) == 0) {
            out->action = (enum topic_action)a;
            out->serial = serial;
            out->serial_len = serial_len;
            out->serial_valid = topic_serial_valid(serial, serial_len);
            return 0;
        }
    }
    return -1;
}

/* True when the broker would accept topic[0..len) as a publish topic: non-empty, no wildcard, at
 * most 65535 bytes, UTF-8 without U+0000–U+001F, U+007F–U+009F or non-characters (the rules of
 * mosquitto's validator). The code point checks are byte patterns, valid once utf8_valid holds. */
static bool topic_publishable(const char *topic, size_t len)
{
    if (len == 0 || len > TOPIC_WIRE_MAX || !utf8_valid(topic, len))
        return false;
    const unsigned char *s = (const unsigned char *)topic;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == '+' || c == '#' || c < 0x20 || c == 0x7F)
            return false;
        if (c == 0xC2 && s[i + 1] <= 0x9F) /* U+0080–U+009F */
            return false;
        if (c == 0xEF && s[i + 1] == 0xB7 && s[i + 2] >= 0x90 && s[i + 2] <= 0xAF) /* U+FDD0–FDEF */
            return false;
        if (c == 0xEF && s[i + 1] == 0xBF && s[i + 2] >= 0xBE) /* U+FFFE, U+FFFF */
            return false;
        if (c >= 0xF0 && (s[i + 1] & 0x0F) == 0x0F && s[i + 2] == 0xBF && s[i + 3] >= 0xBE)
            return false; /* U+nFFFE, U+nFFFF in planes 1–16 */
    }
    return true;
}

/* Joins `{root/}` and the given parts into buf; -1 when it does not fit or cannot be published. */
static int topic_join(char *buf, size_t cap, const char *root, const char *const parts[],
                      const size_t lens[], int nparts)
{
    size_t used = 0;
    size_t root_len = root != NULL ? strlen(root) : 0;
    size_t need = root_len > 0 ? root_len + 1 : 0;
    for (int i = 0; i < nparts; i++)
        need += lens[i];
    if (buf == NULL || need >= cap) /* the NUL must fit too */
        return -1;
    if (root_len > 0) {
        memcpy(buf, root, root_len);
        buf[root_len] = '/';
        used = root_len + 1;
    }
    for (int i = 0; i < nparts; i++) {
        memcpy(buf + used, parts[i], lens[i]);
        used += lens[i];
    }
    buf[used] = '\0';
    if (!topic_publishable(buf, used)) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

int topic_meter(char *buf, size_t cap, const char *root, const char *serial, size_t serial_len,
                const char *suffix)
{
    /* The serial is one level: a '/' in it would address another meter's topic. */
    if (serial == NULL || suffix == NULL || memchr(serial, '/', serial_len) != NULL)
        return -1;
    const char *const parts[] = {TOPIC_METERS, serial, "/", suffix};
    const size_t lens[] = {strlen(TOPIC_METERS), serial_len, 1, strlen(suffix)};
    return topic_join(buf, cap, root, parts, lens, 4);
}

int topic_service(char *buf, size_t cap, const char *root, const char *name)
{
    if (name == NULL || name[0] == '\0')
        return -1;
    const char *const parts[] = {name};
    const size_t lens[] = {strlen(name)};
    return topic_join(buf, cap, root, parts, lens, 1);
}

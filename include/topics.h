/* topics.h — the MQTT topic API (SPEC §3): parsing inbound topics, forming outbound ones.
 *
 * Every topic of the service may sit under a configured root (`site1/meters/…`). Parsing never
 * allocates: the parsed serial points into the caller's topic string. Pure. */
#ifndef TOPICS_H
#define TOPICS_H

#include <stdbool.h>
#include <stddef.h>

#define TOPIC_SERIAL_MAX 64
#define TOPIC_MAX 512

enum topic_action {
    TOPIC_UNKNOWN = 0,
    TOPIC_REPORTED,       /* meters/{serial}/reported */
    TOPIC_DESIRED,        /* meters/{serial}/desired */
    TOPIC_GET,            /* meters/{serial}/get */
    TOPIC_DELETE,         /* meters/{serial}/delete */
    TOPIC_READS,          /* meters/{serial}/reads */
    TOPIC_COMMAND_RESULT, /* meters/{serial}/commands/result */
};

struct topic_parsed {
    enum topic_action action;
    const char *serial; /* into the parsed topic; not NUL-terminated */
    size_t serial_len;
    bool serial_valid; /* 1–64 of A-Z a-z 0-9 _ - */
};

/* True when s[0..len) is a valid meter serial. */
bool topic_serial_valid(const char *s, size_t len);

/* Parses topic[0..len) under root (NULL or "" for none). Returns 0 and fills *out for one of the
 * inbound topics (serial possibly invalid, see serial_valid), -1 for any other topic. */
int topic_parse(const char *root, const char *topic, size_t len, struct topic_parsed *out);

/* Forms `{root/}meters/{serial}/{suffix}` into buf. serial is serial_len bytes (an invalid serial
 * is fine, even empty, so it can be answered), suffix a NUL-terminated string like
 * "reported/accepted". Returns 0, or -1 when it does not fit in cap (NUL included) or the result
 * could not be published: a '/' in the serial, '+', '#', NUL, or anything the broker's UTF-8 rules
 * refuse (invalid UTF-8, control characters U+0001–U+001F and U+007F–U+009F, non-characters). */
int topic_meter(char *buf, size_t cap, const char *root, const char *serial, size_t serial_len,
                const char *suffix);

/* Forms `{root/}name` (for `shadowd/status`, `circuits/{id}/hh`, …). Returns 0 or -1 as above. */
int topic_service(char *buf, size_t cap, const char *root, const char *name);

/* The response topic suffix for an action: "reported", "desired", "get", "delete", "reads",
 * "commands/result"; NULL for TOPIC_UNKNOWN. */
const char *topic_action_name(enum topic_action action);

#endif
